"""Experiment configs: TOML -> validated ExperimentConfig -> objects (mlplab.config)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from mlplab.cli import main
from mlplab.config import ConfigError, build_experiment, load_config

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DIGITS = EXAMPLES / "digits.toml"
FASHION = EXAMPLES / "fashion-mnist.toml"

SMALL = """
[data]
dataset = "digits"

[model]
hidden = { depth = 1, units = 16 }

[train]
epochs = 2
"""


def write(tmp_path: Path, text: str, name: str = "c.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(tmp_path: Path, text: str, overrides=()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), overrides)
    return str(info.value)


# -- the examples and the round trip ------------------------------------------------------------


@pytest.mark.parametrize("path", [DIGITS, FASHION], ids=lambda p: p.name)
def test_examples_round_trip_through_show(path, tmp_path):
    config = load_config(path)
    shown = config.to_toml()
    again = load_config(write(tmp_path, shown))
    assert again == config
    assert again.to_toml() == shown
    # every default filled in: sections the file does not mention appear, with their values
    doc = tomllib.loads(shown)
    assert doc["train"]["dtype"] == "float32" and doc["regularization"]["l2"] == 0.0
    assert doc["optimizer"]["config"] == {
        "learning_rate": 0.001,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-08,
    }


def test_fashion_mnist_example_is_the_readme_configuration():
    c = load_config(FASHION)
    assert (c.model.hidden.depth, c.model.hidden.units) == (2, 256)
    assert (c.train.batch_size, c.train.epochs) == (128, 15)
    assert c.optimizer.name == "adam" and c.schedule.name == "cosine_decay"
    assert c.schedule.config["learning_rate"] == 0.001 and "decay_steps" not in c.schedule.config


# -- extends and --set --------------------------------------------------------------------------


def test_extends_deep_merges_and_set_overrides(tmp_path):
    write(
        tmp_path,
        SMALL + '\n[optimizer]\nname = "sgd"\nconfig = { learning_rate = 0.1 }\n',
        "base.toml",
    )
    (tmp_path / "sub").mkdir()
    child = write(
        tmp_path / "sub",
        'extends = "../base.toml"\nname = "child"\n[train]\nbatch_size = 8\n',
    )
    c = load_config(child)
    # the child's [train] merges into the base's: epochs kept, batch_size replaced
    assert (c.name, c.train.epochs, c.train.batch_size) == ("child", 2, 8)
    assert c.optimizer.name == "sgd" and c.optimizer.config["learning_rate"] == 0.1
    c = load_config(
        child,
        [
            "train.epochs=5",
            "optimizer.name=adam",  # a bare word is a string
            "optimizer.config.learning_rate=1e-3",
            "model.hidden={depth = 2, units = 8}",
            'description="from the shell"',
        ],
    )
    assert (c.train.epochs, c.optimizer.name, c.optimizer.config["learning_rate"]) == (
        5,
        "adam",
        1e-3,
    )
    assert (c.model.hidden.depth, c.model.hidden.units, c.description) == (2, 8, "from the shell")
    # the resolved config no longer needs the base file
    again = load_config(write(tmp_path, c.to_toml(), "resolved.toml"))
    assert again == c


def test_set_indexes_lists(tmp_path):
    text = SMALL.replace(
        "hidden = { depth = 1, units = 16 }",
        'layers = [{name = "dense", config = {units = 16}}, {name = "relu"}, '
        '{name = "dense", config = {units = 10}}]',
    )
    c = load_config(write(tmp_path, text), ["model.layers[0].config.units=32"])
    assert c.model.layers[0].config["units"] == 32
    assert c.model.layers[0].config["kernel_initializer"] == "glorot_uniform"  # filled in


@pytest.mark.parametrize(
    "override, match",
    [
        ("train.epochs", r"--set: expected key.path=value, got 'train.epochs'"),
        ("=3", r"--set: expected key.path=value"),
        (
            "model.layers[0].units=3",
            r"--set model.layers\[0\].units: model.layers\[0\] is out of range \(the list has 0\)",
        ),
        ("train.epochs.x=3", r"--set train.epochs.x: train.epochs is not a table"),
        ("train.epo chs=3", r"is not a key"),
    ],
)
def test_bad_overrides(tmp_path, override, match):
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, SMALL), [override])


def test_extends_errors(tmp_path):
    a = write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    with pytest.raises(ConfigError, match=r"extends: a cycle: .*a.toml -> .*b.toml -> .*a.toml"):
        load_config(a)
    with pytest.raises(ConfigError, match=r"missing.toml' not found \(extended by .*c.toml\)"):
        load_config(write(tmp_path, 'extends = "missing.toml"\n'))
    with pytest.raises(ConfigError, match=r"extends: expected a file name"):
        load_config(write(tmp_path, "extends = 3\n"))
    with pytest.raises(ConfigError, match=r"not valid TOML"):
        load_config(write(tmp_path, "[data\n"))
    with pytest.raises(ConfigError, match=r"config file .*nothing.toml' not found$"):
        load_config(tmp_path / "nothing.toml")


# -- every error names its TOML path (and the valid choices) ------------------------------------


@pytest.mark.parametrize(
    "override, match",
    [
        (
            "optimizer.name=adamm",
            r"^optimizer.name: unknown 'adamm'; valid: adadelta, adagrad, adam,",
        ),
        ("loss.name=cross_entropi", r"^loss.name: unknown 'cross_entropi'; valid: Huber, "),
        ("data.dataset=digitz", r"^data.dataset: unknown 'digitz'; valid: breast_cancer, "),
        ("model.hidden.activation=relux", r"^model.hidden.activation: unknown 'relux'; valid: "),
        ("model.hidden.kernel_initializer=he", r"^model.hidden.kernel_initializer: unknown 'he'"),
        (
            "evaluate.metrics=['acc']",
            r"^evaluate.metrics\[0\]: unknown 'acc'; valid: loss, accuracy",
        ),
        ("schedule={name = 'cosine'}", r"^schedule.name: unknown 'cosine'; valid: constant, "),
        ("preprocessing=[{name = 'scale'}]", r"^preprocessing\[0\].name: unknown 'scale'; valid: "),
        (
            "optimizer.config.lr=0.1",
            r"^optimizer.config.lr: unknown key; valid keys: learning_rate, b1, ",
        ),
        ("optimizer.config.b1=1.5", r"^optimizer.config.b1: .*1.5"),
        ("optimizer.config.learning_rate=-1", r"^optimizer.config.learning_rate: .*-1"),
        ("train.epochs=0", r"^train.epochs: input should be greater than 0, got 0"),
        ("train.epochs='5'", r"^train.epochs: input should be a valid integer, got '5'"),
        ("train.dtype='float16'", r"^train.dtype: input should be 'float32' or 'float64'"),
        (
            "train.epoch=5",
            r"^train.epoch: unknown key; valid keys: batch_size, dtype, epochs, seed,",
        ),
        ("modle.x=1", r"^modle: unknown key; valid keys: callbacks, data, description, evaluate,"),
        ("model.hidden.units=0", r"^model.hidden.units: input should be greater than 0, got 0"),
        ("split.validation=0.8", r"^split: validation \+ test = 1 leaves no training data"),
        ("data.path='x.csv'", r"^data: give exactly one of data.dataset .* or data.path"),
        ("data.target='y'", r"^data.target: only for a table"),
        ("model.layers=[{name='dense', config={units=4}}]", r"^model: give exactly one of"),
        (
            "callbacks.early_stopping.mode='up'",
            r"^callbacks.early_stopping.mode: must be one of .*, got mode='up'",
        ),
        (
            "schedule={name = 'step_decay', config={every = 3}}",
            r"^schedule.config: .*unit is required",
        ),
    ],
)
def test_errors_name_the_toml_path(tmp_path, override, match):
    text = SMALL + '[optimizer]\nname = "adam"\n[callbacks.early_stopping]\nmonitor = "val_loss"\n'
    with pytest.raises(ConfigError, match=match):
        load_config(write(tmp_path, text), [override])


def test_layer_errors_reuse_the_constructor_message(tmp_path):
    text = SMALL.replace(
        "hidden = { depth = 1, units = 16 }",
        'layers = [{name = "dense", config = {units = 16}}, {name = "relu"}, '
        '{name = "dense", config = {units = 0}}]',
    )
    msg = problems(tmp_path, text)
    assert msg == "model.layers[2].config.units: must be an int >= 1, got units=0 (Dense)"
    msg = problems(tmp_path, text, ["model.layers[1].name=relu6"])
    assert msg.startswith("model.layers[1].name: unknown 'relu6'; valid: Activation, BatchNorm,")
    msg = problems(tmp_path, text, ["model.layers[0].config.size=3"])
    assert msg.startswith("model.layers[0].config.size: unknown key; valid keys: units, use_bias")
    msg = problems(tmp_path, text, ["model.layers[2].config.units=10", "model.output_units=3"])
    assert msg == "model.output_units: only with model.hidden (layers give their own)"
    msg = problems(tmp_path, text, ["model.layers=[]"])
    assert msg == "model.layers: empty; give at least the output layer"


def test_several_structural_problems_are_listed_together(tmp_path):
    msg = problems(tmp_path, SMALL, ["train.epochs=0", "train.batch_size=-1", "train.x=1"])
    assert msg.splitlines() == [
        "train.batch_size: input should be greater than 0, got -1",
        "train.epochs: input should be greater than 0, got 0",
        "train.x: unknown key; valid keys: batch_size, dtype, epochs, seed, shuffle",
    ]
    assert problems(tmp_path, "[train]\n").startswith("data: field required")


# -- the command line ---------------------------------------------------------------------------


def test_cli_validate_and_show(tmp_path, capsys):
    assert main(["config", "validate", str(DIGITS)]) == 0
    assert capsys.readouterr().out.strip() == f"{DIGITS}: valid"
    assert main(["config", "show", str(DIGITS), "--set", "train.epochs=3"]) == 0
    shown = capsys.readouterr().out
    assert tomllib.loads(shown)["train"]["epochs"] == 3
    assert load_config(write(tmp_path, shown)) == load_config(DIGITS, ["train.epochs=3"])
    assert main(["config", "validate", str(DIGITS), "--set", "optimizer.name=adamm"]) == 1
    err = capsys.readouterr().err
    assert "invalid config" in err and "optimizer.name: unknown 'adamm'; valid: " in err
    assert "Traceback" not in err
    with pytest.raises(SystemExit) as info:
        main(["config", "check", str(DIGITS)])
    assert info.value.code == 2


# -- building: the same weights as the same setup written by hand -------------------------------


def test_build_digits_trains_like_the_hand_written_setup():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import MinMaxScaler

    from mlplab import Dense, EarlyStopping, ReLU, Sequential, Trainer, adam, train_val_test_split

    config = load_config(DIGITS, ["train.epochs=2"])
    exp = build_experiment(config)
    exp.fit()

    # by hand: the documented generators, split, scaler fit on the training part, model, trainer
    data_rng, rng = np.random.default_rng(0).spawn(2)
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)
    Xtr, Xval, Xte, ytr, yval, yte = train_val_test_split(
        X, y, ratios=(0.6, 0.2, 0.2), rng=data_rng
    )
    scaler = MinMaxScaler().fit(Xtr)
    Xtr, Xval, Xte = (scaler.transform(a).astype(np.float32) for a in (Xtr, Xval, Xte))
    model = Sequential([Dense(64, kernel_initializer="he_normal"), ReLU(), Dense(10)])
    model.build(64, rng=rng, dtype="float32")
    trainer = Trainer(
        model,
        "cross_entropy",
        adam(0.001),
        batch_size=32,
        epochs=2,
        rng=rng,
        callbacks=[EarlyStopping("val_loss", patience=5)],
        verbose=0,
    )
    trainer.fit(Xtr, ytr, validation_data=(Xval, yval))

    for name in ("X_train", "X_val", "X_test"):
        np.testing.assert_array_equal(
            getattr(exp.data, name), {"X_train": Xtr, "X_val": Xval, "X_test": Xte}[name]
        )
    np.testing.assert_array_equal(exp.data.y_test, yte)
    got, want = exp.trainer.params(), trainer.params()
    assert list(got) == list(want)
    for k in want:
        np.testing.assert_array_equal(got[k], want[k])  # bit for bit
    for key, values in trainer.history.history.items():
        if key != "time":  # wall-clock seconds
            assert exp.trainer.history.history[key] == values, key
    assert exp.class_names == [str(i) for i in range(10)] and exp.epochs == 2 and exp.seed == 0
    assert sorted(np.concatenate(list(exp.data.indices.values()))) == list(range(len(X)))
    np.testing.assert_array_equal(exp.preprocessing.transform(X[:3]), scaler.transform(X[:3]))


def test_build_template_regularization_schedule_and_table(tmp_path):
    rows = ["a,b,label"] + [f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}" for i in range(60)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    text = """
[data]
path = "t.csv"      # relative to this file
target = "label"

[[preprocessing]]
name = "standardize"

[model]
hidden = { depth = 2, units = 8, activation = "tanh", dropout = 0.1 }

[regularization]
l2 = 1e-4
max_norm = 3.0
clip_norm = 1.0

[schedule]
name = "step_decay"
config = { every = 1, unit = "epoch", drop = 0.5 }

[train]
epochs = 2
batch_size = 16
dtype = "float64"
"""
    (tmp_path / "sub").mkdir()
    path = write(tmp_path / "sub", text.replace('"t.csv"', '"../t.csv"'))
    config = load_config(path)
    assert config.data.path == str(tmp_path / "t.csv")
    exp = build_experiment(config)
    names = [type(layer).__name__ for layer in exp.trainer.model.layers]
    assert names == ["Dense", "Tanh", "Dropout", "Dense", "Tanh", "Dropout", "Dense"]
    assert exp.trainer.model.layers[-1].units == 2 and exp.trainer.model.dtype == np.float64
    assert exp.data.X_train.dtype == np.float64 and exp.class_names == ["no", "yes"]
    assert [type(p).__name__ for p in exp.trainer.penalties] == ["L2"]
    assert exp.trainer.clip_norm == 1.0 and len(exp.trainer.constraints) == 1
    history = exp.fit().history
    assert len(history["loss"]) == 2
