"""Command line: ``python -m mlplab <command>`` (level 5: nothing imports this module)."""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np


def demo(args: argparse.Namespace) -> int:
    """Train a network on scikit-learn's bundled digits (offline) and report on the test set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_digits
    from sklearn.metrics import classification_report
    from sklearn.model_selection import train_test_split

    from . import (
        BatchNorm,
        Dense,
        EarlyStopping,
        ReLU,
        Sequential,
        SoftmaxCrossEntropy,
        Trainer,
        adam,
        bias_variance_report,
        gradcheck,
    )

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixel intensities 0..16 -> [0, 1]
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=args.seed
    )
    X_tr, X_val, y_tr, y_val = train_test_split(
        X_tr, y_tr, test_size=0.2, stratify=y_tr, random_state=args.seed
    )
    rng = np.random.default_rng(args.seed)
    model = Sequential([Dense(64, kernel_initializer="he_normal"), BatchNorm(), ReLU(), Dense(10)])
    model.build(X.shape[1], rng=rng)
    print(
        f"mlplab demo: scikit-learn digits, {len(X_tr)} train / {len(X_val)} validation / "
        f"{len(X_te)} test images of {X.shape[1]} pixels, 10 classes\n"
    )
    print(model.summary(), "\n")

    loss = SoftmaxCrossEntropy()
    value = float(loss(model.forward(X_tr), y_tr))
    print(
        f"initial loss {value:.4f} (a fresh softmax classifier starts near the chance-level "
        f"loss ln(10) = {math.log(10):.2f})"
    )
    report = gradcheck(model, loss, X_tr[:8], y_tr[:8], training=True)
    print(
        f"gradient check: {'passed' if report.passed else 'FAILED'}, max relative error "
        f"{report.max_error:.1e}\n"
    )

    trainer = Trainer(
        model,
        loss,
        adam(1e-3),
        batch_size=32,
        epochs=args.epochs,
        rng=rng,
        callbacks=[EarlyStopping("val_loss", patience=5)],
        verbose=2,
    )
    history = trainer.fit(X_tr, y_tr, validation_data=(X_val, y_val)).history
    result = trainer.evaluate(X_te, y_te)
    print(f"\ntest accuracy {result['accuracy']:.4f}  test loss {result['loss']:.4f}\n")
    print(classification_report(y_te, trainer.predict_labels(X_te), digits=3))
    errors = (
        1 - trainer.evaluate(X_tr, y_tr)["accuracy"],
        1 - trainer.evaluate(X_val, y_val)["accuracy"],
    )
    print("bias and variance (evaluation mode):")
    print(bias_variance_report(errors, baseline_error=0.0), "\n")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        ax1.plot(history[key], label=label)
    for key, label in (("accuracy", "train"), ("val_accuracy", "validation")):
        ax2.plot(history[key], label=label)
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    ax2.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    fig.savefig(args.plot, dpi=100)
    print(f"wrote {args.plot}")
    return 0 if report.passed else 1


def init_experiment(args: argparse.Namespace) -> int:
    """cs231n's initialization experiment: activations of a deep tanh net under three inits."""
    from .diagnostics import initialization_experiment

    results, fig = initialization_experiment(
        depth=args.depth, width=args.width, rng=np.random.default_rng(args.seed), plot=True
    )
    for label, (stats, report) in results.items():
        stds = " ".join(f"{s.std:.2g}" for s in stats if s.kind == "tanh")
        print(f"{label}: activation std per layer: {stds}")
        print("  " + str(report).replace("\n", "\n  ") + "\n")
    fig.savefig(args.plot, dpi=80)
    print(f"wrote {args.plot}")
    return 0


def report(args: argparse.Namespace) -> int:
    """Write one static HTML report on the run folders (a comparison for several), or on the
    seed groups (folders with group.json: mean and spread over the seeds)."""
    from .report import write_group_report, write_report

    groups = [os.path.isfile(os.path.join(r, "group.json")) for r in args.runs]
    if any(groups) and not all(groups):
        mixed = ", ".join(r for r, g in zip(args.runs, groups) if g)
        print(
            "mlplab report: error: give run folders or seed groups, not both "
            f"(groups here: {mixed})",
            file=sys.stderr,
        )
        return 1
    out = args.output
    if out is None:
        out = os.path.join(args.runs[0], "report.html") if len(args.runs) == 1 else "report.html"
    try:
        path = (write_group_report if all(groups) else write_report)(args.runs, out)
    except (ValueError, OSError) as e:
        print(f"mlplab report: error: {e}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


def _run_folder(text: str) -> str:
    """An argparse type: an existing folder (a run folder's files are checked by the report)."""
    if not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a folder")
    return text


def config_command(args: argparse.Namespace) -> int:
    """``mlplab config validate|show FILE [--set key.path=value ...]``."""
    from .config import ConfigError, load_config

    try:
        config = load_config(args.file, args.set)
    except ConfigError as e:
        print(f"mlplab config {args.action}: {args.file}: invalid config", file=sys.stderr)
        print(str(e), file=sys.stderr)
        return 1
    except OSError as e:  # a folder, an unreadable file
        print(f"mlplab config {args.action}: error: {_os_error(e, args.file)}", file=sys.stderr)
        return 1
    if args.action == "show":
        sys.stdout.write(config.to_toml())
    else:
        print(f"{args.file}: valid")
    return 0


def _experiment(config_path, overrides=()):
    """(resolved config, experiment) of a TOML file through mlplab.config."""
    from .config import build_experiment, load_config

    config = load_config(config_path, list(overrides))
    return config, build_experiment(config, verbose=1)


def train(args: argparse.Namespace) -> int:
    """Train a config into a new run folder, or continue one (``--resume RUN``)."""
    from .runs import check_run_dir, train_run

    if args.seeds is not None:
        return train_seeds(args)
    run = None
    try:
        if args.resume is not None:
            if args.config is not None or args.overrides or args.name or args.tags or args.note:
                raise ValueError(
                    "--resume RUN continues the run's own config.toml: give no CONFIG, "
                    "--set, --name, --tag or --note with it"
                )
            run = check_run_dir(args.resume)
            _, experiment = _experiment(run / "config.toml")
            train_run(run, experiment, resume=True)
        else:
            if args.config is None:
                raise ValueError("give a CONFIG file (or --resume RUN)")
            config, experiment = _experiment(args.config, args.overrides)
            run = _new_run(args.runs_dir, _run_name(args), config, args)
            train_run(run, experiment)
    except (ValueError, TypeError, OSError) as e:
        print(f"mlplab train: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        more = "" if run is None else f"; continue with: mlplab train --resume {run}"
        print(f"mlplab train: interrupted{more}", file=sys.stderr)
        return 130
    try:  # the run is recorded either way; a report that cannot be drawn is one more line
        from .report import write_report

        report_path = write_report([run], run / "report.html")
    except (ValueError, TypeError, OSError) as e:
        print(f"mlplab train: the run finished but its report failed: {e}", file=sys.stderr)
        return 1
    print(f"finished: {run}\nreport: {report_path}")
    return 0


def _run_name(args: argparse.Namespace) -> str:
    """``--name``, or the config file's name without its extension."""
    return args.name or os.path.splitext(os.path.basename(args.config))[0]


def _new_run(parent, name: str, config, args: argparse.Namespace, prefix: str = ""):
    """A new run folder under ``parent`` holding the resolved ``config``, ``--tag`` and
    ``--note``; says where it is."""
    from .runs import create_run

    run = create_run(
        parent, name, config.to_toml(), config_path=args.config, tags=args.tags, note=args.note
    )
    print(f"{prefix}run folder {run}")
    return run


def train_seeds(args: argparse.Namespace) -> int:
    """``mlplab train CONFIG --seeds N``: the config under seeds train.seed, train.seed + 1,
    ... (each member exactly ``mlplab train CONFIG --set train.seed=S``), grouped in
    ``runs/<date>-<time>-<name>-seeds/`` with a group.json."""
    from .config import ConfigError, load_config
    from .report import write_report
    from .runs import train_group, train_run

    group = None
    try:
        if args.resume is not None or args.config is None:
            raise ValueError("--seeds N needs a CONFIG file (and no --resume)")
        config = load_config(args.config, list(args.overrides))  # checked before any folder
        name = _run_name(args)
        seeds = [config.train.seed + i for i in range(args.seeds)]

        def train_one(group, seed):
            overrides = [*args.overrides, f"train.seed={seed}"]
            member_config, experiment = _experiment(args.config, overrides)
            run = _new_run(group, f"{name}-seed{seed}", member_config, args, f"seed {seed}: ")
            train_run(run, experiment)
            write_report([run], run / "report.html")
            return run

        group = train_group(args.runs_dir, name, seeds, train_one)
    except ConfigError as e:
        print(f"mlplab train: {args.config}: invalid config\n{e}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, OSError) as e:
        print(f"mlplab train: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        more = "" if group is None else f" (group {group})"
        print(f"mlplab train: interrupted{more}", file=sys.stderr)
        return 130
    print(f"finished: group {group} ({len(seeds)} seeds: {', '.join(map(str, seeds))})")
    try:  # the members are recorded either way
        from .report import write_group_report

        print(f"report: {write_group_report([group], group / 'report.html')}")
    except (ValueError, TypeError, OSError) as e:
        print(f"mlplab train: the group finished but its report failed: {e}", file=sys.stderr)
        return 1
    return 0


def compare(args: argparse.Namespace) -> int:
    """``mlplab compare GROUP_A GROUP_B``: each final metric's difference B - A with its 95%
    confidence interval by Welch's t."""
    from .runs import compare_groups

    try:
        result = compare_groups(args.group_a, args.group_b)
    except (ValueError, OSError) as e:
        print(f"mlplab compare: error: {e}", file=sys.stderr)
        return 1
    print(result)
    return 0


def rerun(args: argparse.Namespace) -> int:
    """Run a run's recorded config again in a new folder and compare every number."""
    from .runs import check_run_dir, compare_runs, create_run, train_run

    try:
        old = check_run_dir(args.run)
        _, experiment = _experiment(old / "config.toml")
        name = old.name[16:] if old.name[:8].isdigit() and old.name[15:16] == "-" else old.name
        runs_dir = args.runs_dir if args.runs_dir is not None else old.parent
        new = create_run(runs_dir, f"{name}-rerun", (old / "config.toml").read_text())
        print(f"run folder {new}")
        train_run(new, experiment)
        diff = compare_runs(old, new)
    except (ValueError, TypeError, OSError) as e:
        print(f"mlplab rerun: error: {e}", file=sys.stderr)
        return 1
    print(diff)
    return 0 if diff.identical else 1


def runs_command(args: argparse.Namespace) -> int:
    """``mlplab runs [DIR] [--sort COLUMN]``: the run folders of DIR as a table."""
    from .runs import format_table, list_runs, sort_rows

    try:
        rows = list_runs(args.dir)
        if args.sort is not None:
            rows = sort_rows(rows, args.sort, reverse=args.reverse)
    except (ValueError, OSError) as e:
        print(f"mlplab runs: error: {e}", file=sys.stderr)
        return 1
    print(format_table(rows))
    return 0


def evaluate_command(args: argparse.Namespace) -> int:
    """``mlplab evaluate RUN [--data test|validation|train]``: the final model's scores."""
    from .config import ConfigError
    from .runs import evaluate_run

    try:
        _refuse_running(args.run)
        scores = evaluate_run(args.run, args.data)
    except (ConfigError, ValueError, TypeError, OSError) as e:
        print(f"mlplab evaluate: error: {e}", file=sys.stderr)
        return 1
    print(f"{args.data}: " + "  ".join(f"{k} {v!r}" for k, v in scores.items()))
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """``mlplab predict RUN INPUT``: predictions as CSV on stdout."""
    from .config import ConfigError
    from .runs import load_trained_run, predict_run, predictions_csv, read_features

    try:
        try:
            X = read_features(args.input)
        except (ValueError, OSError) as e:  # numpy's own messages do not name the file
            raise ValueError(_naming(e, args.input, "INPUT")) from None
        _refuse_running(args.run)
        experiment = load_trained_run(args.run)
        text = predictions_csv(*predict_run(experiment, X))
    except (ConfigError, ValueError, TypeError, OSError) as e:
        print(f"mlplab predict: error: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(text)
    return 0


def _os_error(e: OSError, path: str) -> str:
    """An OSError as one line naming the file: ``'x.toml': Is a directory``."""
    return f"{e.filename or path!r}: {e.strerror or e}"


def _naming(e: Exception, path: str, what: str) -> str:
    """``e``'s message, prefixed with ``what`` and ``path`` unless it names the path already."""
    text = _os_error(e, path) if isinstance(e, OSError) else str(e)
    return text if path in text else f"{what}: {path!r}: {text}"


def _refuse_running(run_dir: str) -> None:
    """A ValueError for a run folder whose training is still running (not stale): its
    model.npz, if any, is not the run's final model yet."""
    from .runs import check_run_dir, read_status

    state = read_status(check_run_dir(run_dir))
    if state["status"] == "running":
        raise ValueError(
            f"RUN: {run_dir!r} is still running (pid {state.get('pid')} on "
            f"{state.get('host')}); wait until it has finished"
        )


def _int_at_least(minimum: int):
    """An argparse type: an int >= ``minimum``. Its ArgumentTypeError becomes argparse's usage
    error (exit status 2, naming the option) instead of a traceback from deep in training."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {minimum}, got {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def _plot_path(text: str) -> str:
    """An argparse type: a file name in an existing folder, checked before training so that
    a typo in the folder does not throw away a finished run."""
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"folder {folder!r} does not exist, got {text!r}")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlplab",
        description="NumPy multilayer perceptrons: train experiment configs (TOML) into run "
        "folders, re-run and compare them, and write HTML reports. "
        "'mlplab COMMAND --help' describes each command.",
    )
    from . import __version__

    parser.add_argument(
        "--version",
        action="version",
        version=f"mlplab {__version__}",
        help="print mlplab's version and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train a network on scikit-learn's digits and report")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="the random seed (default: 0)")
    p.add_argument(
        "--epochs", type=_int_at_least(1), default=40, help="epochs to train (default: 40)"
    )
    p.add_argument(
        "--plot", type=_plot_path, default="demo-training.png", help="where to write the loss plot"
    )
    p.set_defaults(func=demo)
    p = sub.add_parser(
        "init-experiment",
        help="activations of a deep tanh net under N(0, 0.01), "
        "N(0, 1) and Xavier init, with advice and a plot",
    )
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="the random seed (default: 0)")
    p.add_argument("--depth", type=_int_at_least(1), default=10, help="hidden layers (default: 10)")
    p.add_argument(
        "--width", type=_int_at_least(1), default=500, help="units per layer (default: 500)"
    )
    p.add_argument(
        "--plot",
        type=_plot_path,
        default="init-experiment.png",
        help="where to write the histograms (default: init-experiment.png)",
    )
    p.set_defaults(func=init_experiment)
    p = sub.add_parser("config", help="check an experiment config (TOML) or show it resolved")
    p.add_argument(
        "action",
        choices=("validate", "show"),
        help="validate: check the config and say so; show: print it resolved (extends and "
        "--set applied, every default filled in) as TOML",
    )
    p.add_argument("file", help="the experiment config, a TOML file (e.g. examples/digits.toml)")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY.PATH=VALUE",
        help="override one value, parsed as TOML (a bare word is a string), e.g. "
        "--set train.epochs=5 --set optimizer.name=sgd; repeatable",
    )
    p.set_defaults(func=config_command)
    p = sub.add_parser(
        "report",
        help="write a static HTML report on one or more run folders, or on seed groups",
    )
    p.add_argument(
        "runs",
        nargs="+",
        type=_run_folder,
        metavar="RUN",
        help="run folders, or seed group folders (with group.json, from train --seeds N): "
        "the mean and spread over the seeds, and for two groups Welch's 95%% intervals",
    )
    p.add_argument(
        "-o",
        "--output",
        type=_plot_path,
        default=None,
        help="the HTML file to write (default: RUN/report.html for one run or group, "
        "report.html here for several)",
    )
    p.set_defaults(func=report)
    p = sub.add_parser(
        "train",
        help="train a TOML experiment config into a new run folder (or --resume one)",
    )
    p.add_argument("config", nargs="?", metavar="CONFIG", help="the experiment's TOML file")
    p.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    p.add_argument("--name", help="the run's name (default: the config file's name)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optimizer.config.learning_rate=0.01",
    )
    p.add_argument("--tag", dest="tags", action="append", default=[], help="a tag (repeatable)")
    p.add_argument("--note", help="a free-text note stored with the run")
    p.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an interrupted run folder from its last checkpoint (bit-exact)",
    )
    p.add_argument(
        "--seeds",
        type=_int_at_least(1),
        metavar="N",
        help="train the config under N seeds (train.seed, train.seed + 1, ...), one run "
        "folder each, grouped in RUNS_DIR/<date>-<time>-<name>-seeds/ (see mlplab compare)",
    )
    p.set_defaults(func=train)
    p = sub.add_parser(
        "compare",
        help="compare two seed groups: each final metric's difference B - A with its 95%% "
        "confidence interval (Welch's t)",
    )
    p.add_argument("group_a", metavar="GROUP_A", help="a seed group folder (mlplab train --seeds)")
    p.add_argument("group_b", metavar="GROUP_B", help="the seed group compared with GROUP_A")
    p.set_defaults(func=compare)
    p = sub.add_parser(
        "rerun",
        help="run a run's config again in a new folder and check every number is identical",
    )
    p.add_argument("run", metavar="RUN", help="the run folder to repeat")
    p.add_argument("--runs-dir", default=None, help="where the new folder goes (default: RUN's)")
    p.set_defaults(func=rerun)
    p = sub.add_parser("runs", help="list the run folders of DIR as a table")
    p.add_argument("dir", nargs="?", default="runs", metavar="DIR", help="default: runs")
    p.add_argument(
        "--sort",
        metavar="COLUMN",
        help="sort by a column of the table (name, tags, status, a hyperparameter's dotted "
        "key, best_val, test, time)",
    )
    p.add_argument("--reverse", action="store_true", help="sort in descending order")
    p.set_defaults(func=runs_command)
    p = sub.add_parser(
        "evaluate", help="a finished run's loss and accuracy on its test, validation or train part"
    )
    p.add_argument("run", metavar="RUN", help="a finished run folder")
    p.add_argument(
        "--data",
        choices=("test", "validation", "train"),
        default="test",
        help="the part of the run's data (the same split, rebuilt from its seed); default test",
    )
    p.set_defaults(func=evaluate_command)
    p = sub.add_parser(
        "predict", help="a finished run's predictions on raw features, as CSV on stdout"
    )
    p.add_argument("run", metavar="RUN", help="a finished run folder")
    p.add_argument(
        "input",
        metavar="INPUT",
        help="raw features (before preprocessing): a numeric CSV (header optional) or .npy",
    )
    p.set_defaults(func=predict_command)
    _describe(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def _describe(sub: argparse._SubParsersAction) -> None:
    """Each subcommand's --help opens with the line the command list shows for it."""
    for choice in sub._choices_actions:
        parser = sub.choices[choice.dest]
        if not parser.description and choice.help:
            # the list's help is %-formatted by argparse, a description is not
            parser.description = choice.help.replace("%%", "%")


if __name__ == "__main__":
    sys.exit(main())
