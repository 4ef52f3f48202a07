"""Checkpoints: one ``.npz`` file holding the configuration as JSON and every array (weights,
buffers, optimizer state); loaded with ``allow_pickle=False`` and written atomically."""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from ..backend import to_numpy
from ..losses import get_loss
from ..network import Sequential

# version 2: Adam keeps undivided moment sums (m_sum, v_sum) instead of m and v
FORMAT, VERSION = "mlplab-checkpoint", 2


def _flatten(state: Any, prefix: str, arrays: dict, scalars: dict) -> None:
    """Optimizer state (tuples and dicts of arrays and numbers) -> flat path-keyed entries."""
    if isinstance(state, (tuple, list)):
        for i, s in enumerate(state):
            _flatten(s, f"{prefix}{i}/", arrays, scalars)
    elif isinstance(state, dict):
        for k, s in state.items():
            _flatten(s, f"{prefix}{k}/", arrays, scalars)
    elif isinstance(state, (int, float)):
        scalars[prefix.rstrip("/")] = state
    else:
        arrays[prefix.rstrip("/")] = to_numpy(state)


def _fill(template: Any, prefix: str, arrays: dict, scalars: dict, xp) -> Any:
    """Rebuild a state shaped like ``template`` from the flat entries."""
    if isinstance(template, tuple):
        return tuple(_fill(s, f"{prefix}{i}/", arrays, scalars, xp) for i, s in enumerate(template))
    if isinstance(template, dict):
        return {k: _fill(s, f"{prefix}{k}/", arrays, scalars, xp) for k, s in template.items()}
    key = prefix.rstrip("/")
    if key not in (scalars if isinstance(template, (int, float)) else arrays):
        raise ValueError(f"checkpoint: optimizer state {key!r} is missing; the checkpoint was "
                         "written for a different optimizer")
    if isinstance(template, (int, float)):
        return type(template)(scalars[key])
    value = arrays[key]
    if tuple(value.shape) != tuple(template.shape):
        raise ValueError(f"checkpoint: optimizer state {key!r} has shape {value.shape}, "
                         f"expected {tuple(template.shape)}")
    return xp.asarray(value, dtype=template.dtype)


def save_checkpoint(path: str | os.PathLike, trainer, *, extra: dict | None = None) -> None:
    """Write model config and weights, loss, optimizer spec and state, epoch and rng states;
    ``extra`` (JSON-able) is stored alongside for wrappers such as the scikit-learn estimators."""
    model = trainer.model
    if not model.built or trainer.opt_state is None:
        raise RuntimeError("save_checkpoint: nothing trained yet (call fit first)")
    arrays = {f"state/{k}": to_numpy(v) for k, v in trainer.get_state().items()}
    opt_arrays, scalars = {}, {}
    _flatten(trainer.opt_state, "", opt_arrays, scalars)
    arrays.update({f"opt/{k}": v for k, v in opt_arrays.items()})
    meta = {
        "format": FORMAT, "version": VERSION,
        "model": model.get_config(), "in_features": model.in_features,
        "dtype": str(np.dtype(to_numpy(next(iter(model.params().values()))).dtype)),
        "loss": {"name": trainer.loss.name, "config": trainer.loss.get_config()},
        "optimizer": trainer.optimizer.spec, "opt_scalars": scalars,
        "epoch": trainer.epoch, "step": trainer.step,
        "rng": trainer.rng.bit_generator.state,
        "augment_rng": trainer.augment_rng.bit_generator.state,
        "layer_rngs": [g.bit_generator.state for g in model.generators()],
        "history": trainer.history.history, "history_epochs": trainer.history.epoch,
        "extra": extra or {},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)  # atomic: a reader sees the old file or the new one, never half
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict]:
    """(meta, arrays) of a checkpoint file, with clear errors for missing or broken files."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"checkpoint {path!r} is truncated or corrupt ({e})") from None
    if "meta" not in arrays:
        raise ValueError(f"checkpoint {path!r} is not an mlplab checkpoint (no 'meta' entry)")
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path!r} is not an mlplab checkpoint")
    if meta.get("version") != VERSION:
        raise ValueError(f"checkpoint {path!r} has format version {meta.get('version')}; this "
                         f"mlplab reads version {VERSION}")
    return meta, arrays


def load_model(path: str | os.PathLike, *, xp=np) -> Sequential:
    """The trained model of a checkpoint, built and with its weights, for inference."""
    meta, arrays = read_checkpoint(path)
    model = Sequential.from_config(meta["model"])
    model.build(meta["in_features"], rng=np.random.default_rng(0), dtype=meta["dtype"], xp=xp)
    model.set_state({k[6:]: v for k, v in arrays.items()
                     if k.startswith("state/") and not k.startswith("state/loss.")})
    return model


def load_checkpoint(path: str | os.PathLike, trainer) -> None:
    """Restore a trainer (same architecture) to the saved point, so ``fit`` resumes exactly."""
    meta, arrays = read_checkpoint(path)
    model = trainer.model
    if model.get_config() != meta["model"]:
        raise ValueError("load_checkpoint: the trainer's model architecture differs from the "
                         "checkpoint's")
    if not model.built:
        model.build(meta["in_features"], rng=np.random.default_rng(0), dtype=meta["dtype"])
    loss = get_loss(meta["loss"])
    if loss.get_config() != trainer.loss.get_config() or loss.name != trainer.loss.name:
        raise ValueError(f"load_checkpoint: the checkpoint was trained with {meta['loss']}")
    if getattr(trainer.loss, "build", None) and not trainer.loss.built:
        trainer.loss.build(model.out_features, rng=np.random.default_rng(0), dtype=model.dtype,
                           xp=model.xp)
    trainer.set_state({k[6:]: v for k, v in arrays.items() if k.startswith("state/")})
    template = trainer._update.init(trainer.params())
    opt = {k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}
    trainer.opt_state = _fill(template, "", opt, meta["opt_scalars"], model.xp)
    trainer.epoch, trainer.step = meta["epoch"], meta["step"]
    trainer.rng.bit_generator.state = meta["rng"]
    trainer.augment_rng.bit_generator.state = meta["augment_rng"]
    for g, s in zip(model.generators(), meta["layer_rngs"]):
        g.bit_generator.state = s
    trainer.history.history = {k: list(v) for k, v in meta["history"].items()}
    trainer.history.epoch = list(meta["history_epochs"])
