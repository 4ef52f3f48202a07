"""Checkpoints: one ``.npz`` file holding the configuration as JSON and every array (weights,
buffers, optimizer state); loaded with ``allow_pickle=False`` and written atomically.

Loading trusts nothing in the file. The JSON is bounded in size and every field is checked;
every entry's ``.npy`` header (shape, dtype) and zip size are checked against the architecture
the JSON declares (built shape-only, allocating nothing) and against the trainer's optimizer
state before anything is decompressed, so a small file cannot force a huge allocation; and a
trainer is changed only after the whole checkpoint has been checked and read.
"""

from __future__ import annotations

import json
import math
import os
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from typing import IO, Any, Literal, NamedTuple

import numpy as np

from ..backend import dtype_name, to_numpy
from ..losses import get_loss
from ..network import Sequential
from ..optim import InjectHyperparamsState, Solver, Transform
from ._files import atomic_write, file_kind

# version 3: the optimizer state is the readable transforms' (Adam's m and v, the injected
# hyperparameters); version 2 held the fused kernels' (Adam's undivided sums m_sum and v_sum)
FORMAT, VERSION = "mlplab-checkpoint", 3
#: the largest JSON meta entry read (a NumPy str: 4 bytes per character, so 16 M characters)
MAX_META_BYTES = 64 * 2**20
_FLOATS = ("float32", "float64")
_CHUNK = 2**22
_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError)


# -- writing ------------------------------------------------------------------------------------


def _leaves(state: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path key, leaf) of an optimizer state (NamedTuples by field name, tuples by position,
    dicts by key, of arrays and numbers): e.g. ``inner_state/0/m/0.W``."""
    if hasattr(state, "_fields"):
        for name, s in zip(state._fields, state):
            yield from _leaves(s, f"{prefix}{name}/")
    elif isinstance(state, (tuple, list)):
        for i, s in enumerate(state):
            yield from _leaves(s, f"{prefix}{i}/")
    elif isinstance(state, dict):
        for k, s in state.items():
            yield from _leaves(s, f"{prefix}{k}/")
    else:
        yield prefix.rstrip("/"), state


def _flatten(state: Any) -> tuple[dict, dict]:
    """Optimizer state -> (flat path-keyed arrays, flat path-keyed Python numbers)."""
    arrays, scalars = {}, {}
    for key, leaf in _leaves(state):
        if isinstance(leaf, (int, float)):
            scalars[key] = leaf
        else:
            arrays[key] = to_numpy(leaf)
    return arrays, scalars


def _callback_states(trainer) -> tuple[list[dict], dict[str, Any]]:
    """(field ``callbacks``, the ``callbacks/<i>/<key>/<name>`` arrays) of the trainer's
    callbacks that keep state (``Callback.get_state``), in the trainer's order."""
    described: list[dict] = []
    arrays: dict[str, Any] = {}
    for cb in trainer.callbacks:
        state = cb.get_state()
        if state is None:
            continue
        i = len(described)
        numbers, groups = {}, {}
        for key, value in state.items():
            if isinstance(value, dict):
                groups[key] = list(value)
                arrays.update({f"callbacks/{i}/{key}/{k}": to_numpy(v) for k, v in value.items()})
            else:
                numbers[key] = value
        described.append(
            {
                "class": type(cb).__name__,
                "monitor": getattr(cb, "monitor", None),
                "mode": getattr(cb, "mode", None),
                "numbers": numbers,
                "arrays": groups,
            }
        )
    return described, arrays


def save_checkpoint(path: str | os.PathLike, trainer, *, extra: dict | None = None) -> None:
    """Write model config and weights, loss, optimizer spec and state, epoch and rng states;
    ``extra`` (JSON-able) is stored alongside for wrappers such as the scikit-learn estimators.

    The file is replaced atomically (a temporary file beside it, fsync'ed, then renamed), with
    the process umask's permissions; a symlink is followed (its target gets the checkpoint) and
    a path that is a directory, FIFO or device is refused with a ValueError.
    """
    model = trainer.model
    if not model.built or trainer.opt_state is None:
        raise RuntimeError("save_checkpoint: nothing trained yet (call fit first)")
    arrays: dict[str, Any] = {f"state/{k}": to_numpy(v) for k, v in trainer.get_state().items()}
    opt_arrays, scalars = _flatten(trainer.opt_state)
    arrays.update({f"opt/{k}": v for k, v in opt_arrays.items()})
    callbacks, callback_arrays = _callback_states(trainer)
    arrays.update(callback_arrays)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model": model.get_config(),
        "in_features": model.in_features,
        "dtype": str(np.dtype(to_numpy(next(iter(model.params().values()))).dtype)),
        "loss": {"name": trainer.loss.name, "config": trainer.loss.get_config()},
        "optimizer": trainer.optimizer.spec,
        "opt_scalars": scalars,
        "epoch": trainer.epoch,
        "step": trainer.step,
        "rng": trainer.rng.bit_generator.state,
        "augment_rng": trainer.augment_rng.bit_generator.state,
        "layer_rngs": [g.bit_generator.state for g in model.generators()],
        "history": trainer.history.history,
        "history_epochs": trainer.history.epoch,
        "callbacks": callbacks,
        "extra": extra or {},
    }
    arrays["meta"] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays), owner="save_checkpoint")


# -- reading: the file's structure --------------------------------------------------------------


def _check_same_keys(want, have, what: str) -> None:
    """A ValueError saying ``what`` when the keys of ``have`` are not those of ``want``."""
    missing, unexpected = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    if missing or unexpected:
        raise ValueError(f"{what}: missing {missing}, unexpected {unexpected}")


class _Entry(NamedTuple):
    """One array of the file as its ``.npy`` header declares it."""

    member: str  # the zip member's name
    shape: tuple
    dtype: np.dtype
    fortran: bool
    offset: int  # bytes of header before the data


def _bad(path: str, field: str, what: str, value: Any) -> ValueError:
    text = repr(value)
    text = text if len(text) <= 80 else text[:77] + "..."
    return ValueError(f"checkpoint {path!r}: field {field!r} must be {what}, got {text}")


def _read_header(f: IO[bytes], path: str, key: str, member: str) -> _Entry:
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f".npy format version {version} is not one mlplab writes")
        offset = f.tell()
    except _ERRORS as e:
        raise ValueError(
            f"checkpoint {path!r}: entry {key!r} has no valid .npy header ({e})"
        ) from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise ValueError(
            f"checkpoint {path!r}: entry {key!r} has dtype {dtype}; checkpoints "
            "hold plain numeric arrays only"
        )
    return _Entry(member, tuple(int(n) for n in shape), dtype, bool(fortran), offset)


def _read_array(zf: zipfile.ZipFile, entry: _Entry, path: str, key: str) -> np.ndarray:
    """The entry's array; the header is read again and must be the checked one, so what is
    allocated is what was checked (even if the file changed since)."""
    nbytes = math.prod(entry.shape) * entry.dtype.itemsize
    try:
        with zf.open(entry.member) as f:
            if _read_header(f, path, key, entry.member) != entry:
                raise ValueError("its header changed while it was being read")
            data = bytearray(nbytes)  # writable, unlike np.frombuffer of bytes
            view, done = memoryview(data), 0
            while done < nbytes:  # in chunks: no second full-size copy
                chunk = f.read(min(nbytes - done, _CHUNK))
                if not chunk:
                    break
                view[done : done + len(chunk)] = chunk
                done += len(chunk)
            if done != nbytes or f.read(1):  # reading to the end also checks the CRC
                raise ValueError(
                    f"entry {key!r} does not hold the {nbytes} bytes its header declares"
                )
    except _ERRORS as e:
        raise ValueError(f"checkpoint {path!r} is truncated or corrupt ({e})") from None
    order: Literal["C", "F"] = "F" if entry.fortran else "C"
    return np.frombuffer(data, dtype=entry.dtype).reshape(entry.shape, order=order)


def _entries(zf: zipfile.ZipFile, path: str) -> dict[str, _Entry]:
    """Every entry's header, checked against its zip size; nothing is decompressed beyond the
    headers."""
    entries: dict[str, _Entry] = {}
    for info in zf.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
        if key in entries or key + ".npy" != info.filename:
            raise ValueError(
                f"checkpoint {path!r}: entry {info.filename!r} is "
                f"{'repeated' if key in entries else 'not a .npy array'}"
            )
        if key == "meta" and info.file_size > MAX_META_BYTES:
            raise ValueError(
                f"checkpoint {path!r}: entry 'meta' is {info.file_size} bytes, "
                f"more than the {MAX_META_BYTES} a checkpoint's JSON may take"
            )
        try:
            with zf.open(info) as f:
                entry = _read_header(f, path, key, info.filename)
        except _ERRORS as e:
            if str(e).startswith(f"checkpoint {path!r}"):
                raise
            raise ValueError(f"checkpoint {path!r} is truncated or corrupt ({e})") from None
        size = entry.offset + math.prod(entry.shape) * entry.dtype.itemsize
        if size != info.file_size:
            raise ValueError(
                f"checkpoint {path!r}: entry {key!r} is {info.file_size} bytes "
                f"uncompressed, but its header ({entry.dtype} {entry.shape}) "
                f"implies {size}"
            )
        entries[key] = entry
    return entries


def _read_meta(zf: zipfile.ZipFile, entries: dict, path: str) -> dict:
    if "meta" not in entries:
        raise ValueError(f"checkpoint {path!r} is not an mlplab checkpoint (no 'meta' entry)")
    entry = entries["meta"]
    if entry.dtype.kind != "U" or entry.shape != ():
        raise ValueError(
            f"checkpoint {path!r}: entry 'meta' must be a JSON string, got "
            f"{entry.dtype} {entry.shape}"
        )
    text = str(_read_array(zf, entry, path, "meta")[()])
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"checkpoint {path!r}: field 'meta' is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path!r} is not an mlplab checkpoint")
    if meta.get("version") == 2:
        raise ValueError(
            f"checkpoint {path!r} has format version 2, whose optimizer state "
            f"(Adam's undivided moment sums m_sum, v_sum and the learning-rate "
            f"multiplier) this mlplab no longer reads; it reads version {VERSION}. "
            "Resume it with the mlplab that wrote it (before issue 12), or start a "
            "new run from its weights"
        )
    if meta.get("version") != VERSION:
        raise ValueError(
            f"checkpoint {path!r} has format version {meta.get('version')}; this "
            f"mlplab reads version {VERSION}"
        )
    _check_meta(meta, path)
    return meta


# -- reading: the JSON's fields -----------------------------------------------------------------
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_meta(meta: dict, path: str) -> None:
    """Every field the loaders use has the right type, so errors name the field, not a
    KeyError or a NumPy TypeError deep inside."""
    required = (
        "model",
        "in_features",
        "dtype",
        "loss",
        "opt_scalars",
        "epoch",
        "step",
        "rng",
        "augment_rng",
        "layer_rngs",
        "history",
        "history_epochs",
    )
    for field in required:
        if field not in meta:
            raise ValueError(f"checkpoint {path!r}: field {field!r} is missing")
    for field in ("model", "loss", "opt_scalars", "rng", "augment_rng", "history"):
        if not isinstance(meta[field], dict):
            raise _bad(path, field, "a JSON object", meta[field])
    if not isinstance(meta.get("extra", {}), dict):
        raise _bad(path, "extra", "a JSON object", meta["extra"])
    if not _is_int(meta["in_features"]) or meta["in_features"] < 1:
        raise _bad(path, "in_features", "a positive int", meta["in_features"])
    if meta["dtype"] not in _FLOATS:
        raise _bad(path, "dtype", f"one of {list(_FLOATS)}", meta["dtype"])
    for field in ("epoch", "step"):
        if not _is_int(meta[field]) or meta[field] < 0:
            raise _bad(path, field, "an int >= 0", meta[field])
    if not isinstance(meta["layer_rngs"], list) or not all(
        isinstance(s, dict) for s in meta["layer_rngs"]
    ):
        raise _bad(path, "layer_rngs", "a list of generator states", meta["layer_rngs"])
    for key, value in meta["opt_scalars"].items():
        if not _is_number(value):
            raise _bad(path, f"opt_scalars/{key}", "a number", value)
    for key, values in meta["history"].items():
        if not isinstance(values, list) or not all(v is None or _is_number(v) for v in values):
            raise _bad(path, f"history/{key}", "a list of numbers", values)
    epochs = meta["history_epochs"]
    if not isinstance(epochs, list) or not all(_is_int(e) for e in epochs):
        raise _bad(path, "history_epochs", "a list of ints", epochs)
    _check_callbacks_field(meta, path)
    for field, build in (("model", Sequential.from_config), ("loss", get_loss)):
        try:
            build(meta[field])
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(
                f"checkpoint {path!r}: field {field!r} does not describe a valid {field} ({e})"
            ) from None


def _check_callbacks_field(meta: dict, path: str) -> None:
    """Field ``callbacks`` (optional: checkpoints written before it hold none): a list of
    ``{"class", "monitor", "mode", "numbers", "arrays"}``, numbers JSON numbers or null,
    arrays the names of each group's entries."""
    items = meta.setdefault("callbacks", [])
    if not isinstance(items, list):
        raise _bad(path, "callbacks", "a list of callback states", items)
    keys = {"class", "monitor", "mode", "numbers", "arrays"}
    for i, item in enumerate(items):
        where = f"callbacks/{i}"
        if not isinstance(item, dict) or set(item) != keys:
            raise _bad(path, where, f"an object with keys {sorted(keys)}", item)
        if not isinstance(item["class"], str):
            raise _bad(path, f"{where}/class", "a class name", item["class"])
        for field in ("monitor", "mode"):
            if item[field] is not None and not isinstance(item[field], str):
                raise _bad(path, f"{where}/{field}", "a string or null", item[field])
        if not isinstance(item["numbers"], dict):
            raise _bad(path, f"{where}/numbers", "a JSON object", item["numbers"])
        for key, value in item["numbers"].items():
            if value is not None and not _is_number(value):
                raise _bad(path, f"{where}/numbers/{key}", "a number or null", value)
        groups = item["arrays"]
        if not isinstance(groups, dict) or not all(
            isinstance(names, list) and all(isinstance(n, str) for n in names)
            for names in groups.values()
        ):
            raise _bad(path, f"{where}/arrays", "an object of lists of array names", groups)
        both = set(groups) & set(item["numbers"])
        if both:
            raise _bad(path, where, "numbers and arrays under different keys", sorted(both))


def _check_callback_arrays(entries: dict[str, _Entry], meta: dict, path: str) -> None:
    """The ``callbacks/...`` entries are exactly those field ``callbacks`` names, and each is a
    copy of the model's state: the ``state/<name>`` entry's shape and dtype."""
    declared = {
        f"callbacks/{i}/{key}/{name}": name
        for i, item in enumerate(meta["callbacks"])
        for key, names in item["arrays"].items()
        for name in names
    }
    present = {k for k in entries if k.startswith("callbacks/")}
    missing, unexpected = sorted(set(declared) - present), sorted(present - set(declared))
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path!r}: the callback arrays do not match field 'callbacks': "
            f"missing {missing}, unexpected {unexpected}"
        )
    for key, name in declared.items():
        want = entries.get(f"state/{name}")
        got = entries[key]
        if want is None or (got.shape, got.dtype) != (want.shape, want.dtype):
            wanted = "no such weight" if want is None else f"{want.dtype} {want.shape}"
            raise ValueError(
                f"checkpoint {path!r}: entry {key!r} holds {got.dtype} {got.shape}, but the "
                f"model's 'state/{name}' is {wanted}"
            )


# -- reading: the declared architecture, shape-only -------------------------------------------
class _Spec(NamedTuple):
    shape: tuple
    dtype: np.dtype


class _ShapeOnly:
    """An array namespace whose arrays are only a shape and a dtype (like PyTorch's "meta"
    device): building a model on it lists every array's shape without allocating any."""

    float32, float64 = np.dtype("float32"), np.dtype("float64")

    @staticmethod
    def zeros(shape, dtype=None, **_: Any) -> _Spec:
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        return _Spec(tuple(int(n) for n in shape), np.dtype(dtype or "float64"))

    ones = empty = zeros

    def full(self, shape, fill_value, dtype=None, **_: Any) -> _Spec:
        return self.zeros(shape, dtype)

    def asarray(self, x, dtype=None, **_: Any) -> _Spec:
        if isinstance(x, _Spec):
            return _Spec(x.shape, np.dtype(dtype or x.dtype))
        return self.zeros(np.shape(x), dtype or np.asarray(x).dtype)


def _without_draws(obj: Any) -> list:
    """Set every ``*_initializer`` of ``obj`` and of its sublayers (given or default) to
    ``"zeros"``, so a build draws nothing; returns the objects visited."""
    seen = [obj]
    for name in list(vars(obj)):
        if name.endswith("_initializer"):
            setattr(obj, name, "zeros")
    for sub in getattr(obj, "layers", None) or []:  # Residual blocks
        seen += _without_draws(sub)
    return seen


def _declared_arrays(meta: dict, path: str) -> dict[str, _Spec] | None:
    """{state key: (shape, dtype)} of the model the JSON declares, from a shape-only build;
    None when a user-registered layer computes on its arrays while building."""
    model = Sequential.from_config(meta["model"])
    built_here: list = [model]
    for layer in model.layers:
        built_here += _without_draws(layer)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the symmetry warning of the zeros initializer
            model.build(
                meta["in_features"],
                rng=np.random.default_rng(0),
                dtype=meta["dtype"],
                xp=_ShapeOnly(),
            )
            arrays = {**model.params(), **model.buffers()}
    except Exception as e:  # noqa: BLE001
        if all(type(o).__module__.startswith("mlplab.") for o in built_here):
            raise ValueError(
                f"checkpoint {path!r}: fields 'model' and 'in_features' do not build ({e})"
            ) from None
        return None  # a user's layer: the real build (after this) reports real errors
    return {k: _Spec(tuple(v.shape), np.dtype(v.dtype)) for k, v in arrays.items()}


def _check_state(entries: dict[str, _Entry], meta: dict, path: str) -> None:
    """The weights and buffers in the file are exactly those of the declared architecture."""
    state = {k[6:]: e for k, e in entries.items() if k.startswith("state/")}
    dtype = np.dtype(meta["dtype"])
    declared = _declared_arrays(meta, path)
    if declared is not None:
        _check_same_keys(
            declared,
            state,
            f"checkpoint {path!r}: the arrays do not match the architecture in field 'model'",
        )
    for key, entry in state.items():
        want = declared[key] if declared is not None else _Spec(entry.shape, dtype)
        if entry.shape != want.shape or entry.dtype != want.dtype:
            raise ValueError(
                f"checkpoint {path!r}: entry 'state/{key}' holds {entry.dtype} {entry.shape}, "
                f"but fields 'model', 'in_features' and 'dtype' declare {want.dtype} "
                f"{want.shape}"
            )


class _Checkpoint:
    """An open, checked checkpoint: ``meta`` and the entries' headers; ``read(key)`` reads one
    array (only ever one whose header was checked)."""

    def __init__(self, path: str | os.PathLike):
        self.path = path = os.fspath(path)
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise FileNotFoundError(f"checkpoint {path!r} does not exist") from None
        if file_kind(mode) != "regular file":
            raise ValueError(f"checkpoint {path!r} is a {file_kind(mode)}, not a regular file")
        try:
            self.zf = zipfile.ZipFile(path)
        except _ERRORS as e:
            raise ValueError(f"checkpoint {path!r} is truncated or corrupt ({e})") from None
        try:
            self.entries = _entries(self.zf, path)
            self.meta = _read_meta(self.zf, self.entries, path)
            unexpected = [
                k
                for k in self.entries
                if not (k == "meta" or k.startswith(("state/", "opt/", "callbacks/")))
            ]
            if unexpected:
                raise ValueError(
                    f"checkpoint {path!r}: unexpected entries {unexpected} (a "
                    "checkpoint holds 'meta', 'state/...', 'opt/...' and 'callbacks/...')"
                )
            _check_state(self.entries, self.meta, path)
            _check_callback_arrays(self.entries, self.meta, path)
        except BaseException:
            self.zf.close()
            raise

    def read(self, key: str) -> np.ndarray:
        return _read_array(self.zf, self.entries[key], self.path, key)

    def keys(self, prefix: str) -> list[str]:
        return [k[len(prefix) :] for k in self.entries if k.startswith(prefix)]

    def __enter__(self) -> _Checkpoint:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.zf.close()


class _LazyArrays(Mapping):
    """A checkpoint's arrays, each read from the file when first asked for."""

    def __init__(self, path: str, entries: dict[str, _Entry]):
        self._path, self._entries = path, entries
        self._cache: dict[str, np.ndarray] = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._cache:
            entry = self._entries[key]
            with zipfile.ZipFile(self._path) as zf:
                self._cache[key] = _read_array(zf, entry, self._path, key)
        return self._cache[key]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, Mapping[str, np.ndarray]]:
    """(meta, arrays) of a checkpoint file, with clear errors for missing or broken files.

    ``meta`` is the checked JSON; ``arrays`` maps entry names (``"state/0.W"``, ``"opt/..."``)
    to arrays read from the file on first access, after their headers were checked.
    """
    with _Checkpoint(path) as ck:
        entries = {k: e for k, e in ck.entries.items() if k != "meta"}
        return ck.meta, _LazyArrays(ck.path, entries)


# -- loading ------------------------------------------------------------------------------------
def load_model(path: str | os.PathLike, *, xp=np) -> Sequential:
    """The trained model of a checkpoint, built and with its weights, for inference.

    ``model.loss`` is the loss it was trained with (field ``loss``), so
    ``model.predict_proba(X)`` needs no loss argument.
    """
    with _Checkpoint(path) as ck:
        meta = ck.meta
        state = {k: ck.read(f"state/{k}") for k in ck.keys("state/")}
    model = Sequential.from_config(meta["model"])
    model.build(meta["in_features"], rng=np.random.default_rng(0), dtype=meta["dtype"], xp=xp)
    model.set_state(state)
    model.loss = get_loss(meta["loss"])
    return model


def _scalar_fits(template: Any, value: Any) -> bool:
    if isinstance(template, bool):
        return isinstance(value, bool)
    return _is_int(value) if isinstance(template, int) else _is_number(value)


def _read_opt_state(ck: _Checkpoint, template: Any, xp) -> Any:
    """The optimizer state shaped like ``template``; every entry is checked against it (keys,
    shapes, dtypes, number types) before any array is read."""
    path = ck.path
    want = dict(_leaves(template))
    have = {k: ck.entries[f"opt/{k}"] for k in ck.keys("opt/")}
    scalars = ck.meta["opt_scalars"]
    for key, leaf in want.items():
        if key not in (scalars if isinstance(leaf, (int, float)) else have):
            raise ValueError(
                f"checkpoint {path!r}: optimizer state {key!r} is missing; the "
                "checkpoint was written for a different optimizer"
            )
    unexpected = sorted((set(have) | set(scalars)) - set(want))
    if unexpected:
        raise ValueError(
            f"checkpoint {path!r}: optimizer state {unexpected} is not part of the "
            "trainer's optimizer; the checkpoint was written for a different "
            "optimizer"
        )
    values = {}
    for key, leaf in want.items():
        if isinstance(leaf, (int, float)):
            if not _scalar_fits(leaf, scalars[key]):
                kind = (
                    "a bool"
                    if isinstance(leaf, bool)
                    else "an int"
                    if isinstance(leaf, int)
                    else "a number"
                )
                raise _bad(path, f"opt_scalars/{key}", kind, scalars[key])
            values[key] = type(leaf)(scalars[key])
            continue
        entry, shape, dtype = have[key], tuple(leaf.shape), dtype_name(leaf.dtype)
        if entry.shape != shape or entry.dtype.name != dtype:
            raise ValueError(
                f"checkpoint {path!r}: optimizer state {key!r} holds {entry.dtype} "
                f"{entry.shape}, the trainer's optimizer expects {dtype} {shape}"
            )
    for key, leaf in want.items():
        if key not in values:
            values[key] = xp.asarray(ck.read(f"opt/{key}"), dtype=leaf.dtype)
    return _rebuild(template, "", values)


def _check_hyperparams(optimizer: Transform | Solver, state: Any, path: str) -> None:
    """The injected hyperparameters of a read optimizer state, checked as its next update
    checks them (``Transform.built``), so a bad value is refused here, naming the file."""
    if (
        not isinstance(optimizer, Transform)
        or optimizer.built is None
        or optimizer.scheduled is None
        or not isinstance(state, InjectHyperparamsState)
    ):
        return
    try:
        optimizer.built({**state.hyperparams, **optimizer.scheduled(state)})
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"checkpoint {path!r}: the optimizer hyperparameters (field 'opt_scalars', "
            f"'hyperparams/...') are not valid: {e}"
        ) from None


def _rebuild(template: Any, prefix: str, values: dict) -> Any:
    """A state shaped like ``template`` (tuples, NamedTuples, dicts) from path-keyed leaves."""
    if hasattr(template, "_fields"):
        return type(template)(
            *(
                _rebuild(s, f"{prefix}{name}/", values)
                for name, s in zip(template._fields, template)
            )
        )
    if isinstance(template, tuple):
        return tuple(_rebuild(s, f"{prefix}{i}/", values) for i, s in enumerate(template))
    if isinstance(template, list):
        return [_rebuild(s, f"{prefix}{i}/", values) for i, s in enumerate(template)]
    if isinstance(template, dict):
        return {k: _rebuild(s, f"{prefix}{k}/", values) for k, s in template.items()}
    return values[prefix.rstrip("/")]


def _check_generator_state(
    generator: np.random.Generator, state: Any, path: str, field: str
) -> None:
    probe = type(generator.bit_generator)()  # a throwaway: the trainer's stays untouched
    try:
        probe.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise _bad(path, field, f"a {type(probe).__name__} state ({e})", state) from None


def load_checkpoint(path: str | os.PathLike, trainer) -> None:
    """Restore a trainer (same architecture) to the saved point, so ``fit`` resumes exactly.

    Everything is checked and read first; a checkpoint that does not fit the trainer raises a
    ValueError naming the file and the field, and leaves the trainer as it was.
    """
    with _Checkpoint(path) as ck:
        plan = _plan_restore(ck, trainer)
    _restore(trainer, ck.meta, plan)


def _plan_restore(ck: _Checkpoint, trainer) -> dict:
    path, meta, model = ck.path, ck.meta, trainer.model
    if model.get_config() != meta["model"]:
        raise ValueError(
            f"load_checkpoint: the trainer's model architecture differs from the "
            f"checkpoint's (field 'model' of {path!r})"
        )
    loss = get_loss(meta["loss"])
    if loss.get_config() != trainer.loss.get_config() or loss.name != trainer.loss.name:
        raise ValueError(
            f"load_checkpoint: {path!r} was trained with loss {meta['loss']} "
            f"(field 'loss'), the trainer has {trainer.loss.name}"
        )
    if model.built:
        for field, mine in (("in_features", model.in_features), ("dtype", dtype_name(model.dtype))):
            if mine != meta[field]:
                raise ValueError(
                    f"load_checkpoint: the checkpoint {path!r} has {field} "
                    f"{meta[field]!r} (field {field!r}), the trainer's model has "
                    f"{mine!r}"
                )
        ref_model, xp = model, model.xp
    else:  # a stand-in, built and filled here, so the trainer changes only once all is read
        ref_model, xp = Sequential.from_config(meta["model"]), np
        ref_model.build(meta["in_features"], rng=np.random.default_rng(0), dtype=meta["dtype"])
    targets = {**ref_model.params(), **ref_model.buffers()}  # what the state/ entries fill
    keys = ck.keys("state/")
    _check_same_keys(
        targets, keys, f"load_checkpoint: the weights in {path!r} do not match the trainer's"
    )
    for key, target in targets.items():
        entry = ck.entries[f"state/{key}"]
        if entry.shape != tuple(target.shape) or entry.dtype.name != dtype_name(target.dtype):
            raise ValueError(
                f"load_checkpoint: entry 'state/{key}' of {path!r} holds "
                f"{entry.dtype} {entry.shape}, the trainer's model has "
                f"{dtype_name(target.dtype)} {tuple(target.shape)}"
            )
    generators = ref_model.generators()
    if len(meta["layer_rngs"]) != len(generators):
        raise _bad(
            path,
            "layer_rngs",
            f"{len(generators)} generator states (one per stochastic layer)",
            meta["layer_rngs"],
        )
    for field, gen in (
        ("rng", trainer.rng),
        ("augment_rng", trainer.augment_rng),
        *((f"layer_rngs/{i}", g) for i, g in enumerate(generators)),
    ):
        state = meta[field] if "/" not in field else meta["layer_rngs"][int(field[11:])]
        _check_generator_state(gen, state, path, field)
    params = ref_model.params()
    opt_state = _read_opt_state(ck, trainer.optimizer.init(params), xp)
    _check_hyperparams(trainer.optimizer, opt_state, path)
    callbacks = _plan_callbacks(ck, trainer, xp)
    state = {k: ck.read(f"state/{k}") for k in keys}
    return {"state": state, "opt_state": opt_state, "callbacks": callbacks}


def _plan_callbacks(ck: _Checkpoint, trainer, xp) -> list[tuple[Any, dict]]:
    """(callback, state) pairs: the saved states of each class, in order, paired with the
    trainer's callbacks of that class that keep state, in order. A pair must watch the same
    quantity the same way; a saved state with no callback of its class to continue is left
    (the callback was dropped), a callback with no saved state starts afresh."""
    path = ck.path
    mine: dict[str, list[tuple[Any, set]]] = {}
    for cb in trainer.callbacks:
        current = cb.get_state()
        if current is not None:
            mine.setdefault(type(cb).__name__, []).append((cb, set(current)))
    plans: list[tuple[Any, dict]] = []
    taken: dict[str, int] = {}
    for i, item in enumerate(ck.meta["callbacks"]):
        name = item["class"]
        n = taken.get(name, 0)
        taken[name] = n + 1
        if n >= len(mine.get(name, [])):
            continue
        cb, fields = mine[name][n]
        for attr in ("monitor", "mode"):
            if getattr(cb, attr, None) != item[attr]:
                raise ValueError(
                    f"load_checkpoint: {path!r} holds the state of {name}({attr}="
                    f"{item[attr]!r}) (field 'callbacks/{i}'), but the trainer's {name} has "
                    f"{attr}={getattr(cb, attr, None)!r}; give the trainer the callbacks the "
                    "checkpoint was trained with"
                )
        saved = set(item["numbers"]) | set(item["arrays"])
        if saved != fields:
            raise ValueError(
                f"load_checkpoint: {path!r} field 'callbacks/{i}' holds {name} state "
                f"{sorted(saved)}, the trainer's {name} keeps {sorted(fields)}"
            )
        state: dict[str, Any] = dict(item["numbers"])
        for key, names in item["arrays"].items():
            state[key] = {k: xp.asarray(ck.read(f"callbacks/{i}/{key}/{k}")) for k in names}
        plans.append((cb, state))
    return plans


def _restore(trainer, meta: dict, plan: dict) -> None:
    """Assign a checked plan; nothing here can fail on the checkpoint's content."""
    model = trainer.model
    if not model.built:
        model.build(meta["in_features"], rng=np.random.default_rng(0), dtype=meta["dtype"])
    trainer.set_state(plan["state"])
    trainer.opt_state = plan["opt_state"]
    trainer.epoch, trainer.step = meta["epoch"], meta["step"]
    trainer.rng.bit_generator.state = meta["rng"]
    trainer.augment_rng.bit_generator.state = meta["augment_rng"]
    for g, s in zip(model.generators(), meta["layer_rngs"]):
        g.bit_generator.state = s
    trainer.history.history = {k: list(v) for k, v in meta["history"].items()}
    trainer.history.epoch = list(meta["history_epochs"])
    for cb, state in plan["callbacks"]:
        cb.set_state(state)
