"""Datasets: MNIST and Fashion-MNIST from IDX files, scikit-learn's bundled sets, tables, and 2-D
toy sets, all through one registry (:func:`load_dataset`).

MNIST-style files are looked for, in order, in an explicit ``path``, ``$MLPLAB_DATA/<name>``,
``/usr/share/datasets/<name>`` (Debian's ``dataset-fashion-mnist`` package) and the user cache
(``$MLPLAB_CACHE``, else ``$XDG_CACHE_HOME/mlplab``, else ``~/.cache/mlplab``); only when none
has them are they downloaded into the cache, SHA-256 checked and written atomically (a mirror
whose file does not match its checksum is skipped with a warning and the next one tried).
Wherever they come from, the files are checked against the dataset's definition (uint8 images of
28x28, at most 60,000 + 10,000 of them, labels 0..9) from their headers, before any data is
read, so a wrong or hostile file is an error, never a wrong array or a huge allocation.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._registry import Registry
from ..errors import check_choice, check_float, check_generator, check_positive_int
from .idx import read_idx, read_idx_header


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are in none of the searched folders and could not be downloaded."""


@dataclass
class Dataset:
    """Arrays and what they mean. ``X, y = dataset`` unpacks the training part.

    ``task`` is ``"binary"``, ``"multiclass"`` or ``"regression"``; ``X_test``/``y_test`` are set
    for sets that come with an official test split (MNIST, Fashion-MNIST).
    """

    X: np.ndarray
    y: np.ndarray
    task: str
    name: str = ""
    feature_names: list[str] | None = None
    target_names: list[str] | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    description: str = field(default="", repr=False)

    def __iter__(self):
        yield self.X
        yield self.y


# -- MNIST-style IDX sets -----------------------------------------------------------------------

_IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: name -> download locations (tried in order), the SHA-256 of each official ``.gz`` file, and
#: the definition every file is checked against: uint8 images of ``image_shape``, at most
#: ``sizes[part]`` of them, labels ``0..len(classes) - 1``
IDX_SOURCES: dict[str, dict[str, Any]] = {
    "fashion-mnist": {
        "mirrors": [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
        ],
        "sha256": {
            "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # noqa: E501 (a hash)
            "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",  # noqa: E501 (a hash)
            "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",  # noqa: E501 (a hash)
            "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",  # noqa: E501 (a hash)
        },
        "hint": "on Debian: apt-get install dataset-fashion-mnist",
        "image_shape": (28, 28),
        "sizes": {"train": 60_000, "test": 10_000},
        "classes": [
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ],
    },
    "mnist": {
        "mirrors": [
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
        ],
        "sha256": {
            "train-images-idx3-ubyte": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501 (a hash)
            "train-labels-idx1-ubyte": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501 (a hash)
            "t10k-images-idx3-ubyte": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501 (a hash)
            "t10k-labels-idx1-ubyte": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501 (a hash)
        },
        "hint": "the four files of http://yann.lecun.com/exdb/mnist/",
        "image_shape": (28, 28),
        "sizes": {"train": 60_000, "test": 10_000},
        "classes": [str(i) for i in range(10)],
    },
}


def cache_dir() -> Path:
    """Where downloads go: ``$MLPLAB_CACHE``, else ``$XDG_CACHE_HOME/mlplab``, else
    ``~/.cache/mlplab``."""
    if os.environ.get("MLPLAB_CACHE"):
        return Path(os.environ["MLPLAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "mlplab"


def search_folders(name: str, path: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for dataset ``name``, in order."""
    if path is not None:
        return [Path(path)]  # an explicit path is a promise: nothing else is searched
    folders = []
    if os.environ.get("MLPLAB_DATA"):
        folders.append(Path(os.environ["MLPLAB_DATA"]) / name)
    folders += [Path("/usr/share/datasets") / name, cache_dir() / name]
    return folders


def _file_in(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


class _ChecksumError(ValueError):
    """A downloaded file whose SHA-256 is not the expected one."""


def _download(url: str, target: Path, sha256: str) -> None:
    """Stream ``url`` into ``target`` atomically, with a progress bar and a SHA-256 check."""
    from tqdm.auto import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=target.name,
                leave=False,
                file=sys.stderr,
                disable=None,
            ) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != sha256:
            raise _ChecksumError(
                f"download of {url} has SHA-256 {digest.hexdigest()}, expected "
                f"{sha256}: refusing the file (corrupt transfer or changed source)"
            )
        os.replace(tmp, target)  # atomic: the cache never holds half a file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _locate_idx(name: str, path, download: bool) -> dict[str, Path]:
    source = IDX_SOURCES[name]
    folders = search_folders(name, path)
    for folder in folders:
        found = {stem: _file_in(folder, stem) for stem in _IDX_FILES}
        if all(found.values()):
            return found  # type: ignore[return-value]
    where = "\n  ".join(str(f) for f in folders)
    fix = (
        f"Put the four files ({', '.join(s + '.gz' for s in _IDX_FILES)}) in one of them "
        f"({source['hint']}), or set MLPLAB_DATA to a folder holding a {name!r} folder"
    )
    if path is not None or not download:
        raise DatasetNotFoundError(f"{name}: files not found in\n  {where}\n{fix}.")
    folder = cache_dir() / name
    for stem in _IDX_FILES:
        if not _file_in(folder, stem):
            _download_from_mirrors(
                name,
                stem,
                folder,
                f"{name}: files not found in\n  {where}\nand the download failed",
                fix,
            )
    return {stem: _file_in(folder, stem) for stem in _IDX_FILES}  # type: ignore[misc]


def _download_from_mirrors(name: str, stem: str, folder: Path, failed: str, fix: str) -> None:
    """Try each mirror in turn; a checksum mismatch is warned about and the next mirror tried."""
    mirrors = IDX_SOURCES[name]["mirrors"]
    errors, mismatched = [], False
    for i, mirror in enumerate(mirrors):
        try:
            _download(
                f"{mirror}{stem}.gz", folder / f"{stem}.gz", IDX_SOURCES[name]["sha256"][stem]
            )
            return
        except _ChecksumError as e:
            mismatched = True
            errors.append(str(e))
            if i + 1 < len(mirrors):
                warnings.warn(
                    f"{name}: {e}; trying the next mirror, {mirrors[i + 1]}", stacklevel=5
                )  # the caller of load_mnist()
        except (urllib.error.URLError, OSError) as e:
            errors.append(f"{mirror}{stem}.gz: {e}")
    if mismatched:  # a file that arrived but is wrong is a ValueError, not a missing file
        raise ValueError(
            f"{name}: no mirror served a file with the expected checksum: {'; '.join(errors)}"
        )
    raise DatasetNotFoundError(f"{failed} ({'; '.join(errors)}).\n{fix}.")


def _read_part(name: str, files: dict[str, Path], part: str) -> tuple[np.ndarray, np.ndarray]:
    """One part's images and labels, checked against the dataset's definition from the headers
    before any data is read (a wrong file never becomes a wrong array or a huge allocation)."""
    source = IDX_SOURCES[name]
    prefix = "train" if part == "train" else "t10k"
    images, labels = files[f"{prefix}-images-idx3-ubyte"], files[f"{prefix}-labels-idx1-ubyte"]
    size, image_shape = source["sizes"][part], tuple(source["image_shape"])
    n_classes = len(source["classes"])
    dtype, shape = read_idx_header(images)
    if dtype != np.uint8 or len(shape) != 3 or shape[1:] != image_shape:
        raise ValueError(
            f"{name}: {part} images {str(images)!r} hold {dtype} values of shape "
            f"{shape}; {name} images are uint8 pixels (0..255) of shape "
            f"(n, {image_shape[0]}, {image_shape[1]})"
        )
    if shape[0] > size:
        raise ValueError(
            f"{name}: {part} images {str(images)!r} declare {shape[0]:,} images; "
            f"{name} has {size:,} {part} images"
        )
    try:
        X = read_idx(images, dtype=np.uint8, shape=shape)
        y = read_idx(labels, dtype=np.uint8, shape=(shape[0],))
    except ValueError as e:
        raise ValueError(
            f"{name}: {part} {e} (uint8 labels 0..{n_classes - 1}, one per image: {shape[0]})"
        ) from None
    wrong = np.flatnonzero(y >= n_classes)
    if wrong.size:
        raise ValueError(
            f"{name}: {part} labels {str(labels)!r} hold {wrong.size} values out of "
            f"range 0..{n_classes - 1}, the first at index {wrong[0]}: "
            f"{int(y[wrong[0]])}"
        )
    return X, y


def _load_idx_set(name: str, path, download: bool, flatten: bool, dtype: str | None):
    files = _locate_idx(name, path, download)
    out = []
    for X, y in (_read_part(name, files, "train"), _read_part(name, files, "test")):
        if flatten:
            X = X.reshape(X.shape[0], -1)
        if dtype is not None:
            X = X.astype(dtype) / np.asarray(255, dtype=dtype)  # [0, 1], in dtype
        out.append((X, y.astype(np.int64)))
    return tuple(out)


def _check_dtype(owner: str, dtype):
    if dtype is not None:
        check_choice(owner, "dtype", str(np.dtype(dtype)), ("float32", "float64"))
    return dtype


def load_fashion_mnist(
    path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    flatten: bool = True,
    dtype: str | None = "float32",
):
    """Fashion-MNIST: ``(X_train, y_train), (X_test, y_test)``, 60,000 + 10,000 images of 28x28.

    ``flatten`` gives ``(n, 784)`` rows; ``dtype`` scales pixels to [0, 1] in that float type
    (``None`` keeps the raw uint8 values). Labels are int64 class indices 0..9. Files that are
    not uint8 28x28 images with labels 0..9, or hold more images than the official set, are
    refused with a ``ValueError``; fewer (a subset) are accepted.

    References: Xiao, Rasul, Vollgraf, "Fashion-MNIST" (arXiv:1708.07747, 2017).
    """
    return _load_idx_set(
        "fashion-mnist", path, download, flatten, _check_dtype("load_fashion_mnist", dtype)
    )


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    flatten: bool = True,
    dtype: str | None = "float32",
):
    """MNIST digits: ``(X_train, y_train), (X_test, y_test)``, as :func:`load_fashion_mnist`.

    References: LeCun, Bottou, Bengio, Haffner (Proc. IEEE 1998).
    """
    return _load_idx_set("mnist", path, download, flatten, _check_dtype("load_mnist", dtype))


# -- the registry ---------------------------------------------------------------------------------

DATASETS: Registry[Callable[..., Dataset]] = Registry("dataset")


def load_dataset(name: str, **options: Any) -> Dataset:
    """A dataset by name: ``mnist``, ``fashion_mnist`` (with test split), scikit-learn's bundled
    ``digits``, ``iris``, ``wine``, ``breast_cancer``, ``diabetes``, and the 2-D toy sets
    ``spiral``, ``moons``, ``circles``, ``xor`` (these take ``n_samples``, ``noise``, ``rng``;
    without ``rng`` they use ``numpy.random.default_rng(0)``, so two calls give the same data).

    ``digits`` pixels are the integers 0..16, not scaled (unlike MNIST's [0, 1]).
    """
    return DATASETS.get(name)(**options)


def _idx_dataset(name: str):
    def load(path=None, *, download=True, flatten=True, dtype="float32") -> Dataset:
        (X, y), (Xt, yt) = _load_idx_set(
            name, path, download, flatten, _check_dtype(f"load_dataset({name!r})", dtype)
        )
        sizes = IDX_SOURCES[name]["sizes"]
        pixels = "pixels scaled to [0, 1]" if dtype is not None else "raw uint8 pixels 0..255"
        description = f"{name}: {len(X):,} training and {len(Xt):,} test images of 28x28, {pixels}"
        if (len(X), len(Xt)) != (sizes["train"], sizes["test"]):
            description += (
                f"; a subset: the official set has {sizes['train']:,} + {sizes['test']:,}"
            )
        return Dataset(
            X,
            y,
            "multiclass",
            name,
            None,
            list(IDX_SOURCES[name]["classes"]),
            Xt,
            yt,
            description=description,
        )

    return load


DATASETS.register("fashion_mnist", _idx_dataset("fashion-mnist"))
DATASETS.register("mnist", _idx_dataset("mnist"))


#: what a loader says about its values before scikit-learn's own description
_VALUE_NOTES = {
    "digits": "Pixels are the integers 0..16 (8x8 images, 64 features), stored as "
    "floats and not scaled: divide by 16 for [0, 1].\n\n"
}


def _sklearn_dataset(name: str, task: str):
    def load(*, dtype: str = "float32") -> Dataset:
        import sklearn.datasets

        _check_dtype(f"load_dataset({name!r})", dtype)
        bunch = getattr(sklearn.datasets, f"load_{name}")()
        y = bunch.target.astype(dtype if task == "regression" else np.int64)
        targets = getattr(bunch, "target_names", None)
        return Dataset(
            bunch.data.astype(dtype),
            y,
            task,
            name,
            [str(f) for f in getattr(bunch, "feature_names", [])] or None,
            [str(t) for t in targets] if targets is not None else None,
            description=_VALUE_NOTES.get(name, "") + bunch.DESCR,
        )

    load.__doc__ = f"scikit-learn's bundled ``{name}`` set as a :class:`Dataset` of ``dtype``." + (
        " " + _VALUE_NOTES[name].strip() if name in _VALUE_NOTES else ""
    )
    return load


for _name, _task in (
    ("digits", "multiclass"),
    ("iris", "multiclass"),
    ("wine", "multiclass"),
    ("breast_cancer", "binary"),
    ("diabetes", "regression"),
):
    DATASETS.register(_name, _sklearn_dataset(_name, _task))


# -- 2-D toy sets for decision boundaries --------------------------------------------------------

#: the seed of the toy sets' generator when none is given: the same data on every call
TOY_SEED = 0


def _toy_args(owner, n_samples, noise, rng, dtype):
    _check_dtype(owner, dtype)
    rng = np.random.default_rng(TOY_SEED) if rng is None else check_generator(owner, rng)
    return (
        check_positive_int(owner, "n_samples", n_samples, minimum=2),
        check_float(owner, "noise", noise, low=0.0),
        rng,
    )


def _seed(rng: np.random.Generator) -> int:
    """A scikit-learn random_state drawn from ``rng`` (scikit-learn takes no Generator)."""
    return int(rng.integers(0, 2**31 - 1))


def _spiral_arms(y: np.ndarray, K: int, span: float) -> tuple[np.ndarray, np.ndarray]:
    """Radius and angle of each point, per arm ``np.linspace(0, 1, m)`` and
    ``np.linspace(span k, span (k + 1), m)`` (the same arithmetic, bit for bit), for all arms at
    once: one pass over the points, however many arms."""
    m = np.bincount(y, minlength=K)[y]  # the size of each point's arm
    i = np.arange(y.size) // K  # the point's place along its arm
    div = np.maximum(m - 1, 1)
    start, stop = span * y, span * (y + 1)
    r = i * (1.0 / div)
    t = i * ((stop - start) / div) + start
    last = (i == m - 1) & (m > 1)  # linspace ends exactly on its stop
    r[last], t[last] = 1.0, stop[last]
    return r, t


@DATASETS.register("spiral")
def make_spiral(
    n_samples: int = 300,
    *,
    n_classes: int = 3,
    noise: float = 0.2,
    rng: np.random.Generator | None = None,
    dtype: str = "float32",
) -> Dataset:
    """cs231n's spiral: arm k has radius r from 0 to 1 and angle t from s k to s (k + 1) radians
    (s = 12 / n_classes, so 4 for three arms) plus N(0, noise^2); x = (r sin t, r cos t). Not
    linearly separable. ``n_samples`` is spread evenly over the arms, so ``n_classes`` may not
    exceed it. Without ``rng``, ``numpy.random.default_rng(0)``."""
    n, noise, rng = _toy_args("make_spiral", n_samples, noise, rng, dtype)
    K = check_positive_int("make_spiral", "n_classes", n_classes, minimum=2)
    if K > n:
        raise ValueError(
            f"make_spiral: n_classes must be <= n_samples (every arm needs a "
            f"point), got {n_classes=}, {n_samples=}"
        )
    y = np.arange(n) % K
    r, t = _spiral_arms(y, K, 12.0 / K)
    t += noise * rng.standard_normal(n)
    X = np.stack([r * np.sin(t), r * np.cos(t)], axis=1)
    return Dataset(
        X.astype(dtype),
        y.astype(np.int64),
        "multiclass",
        "spiral",
        ["x1", "x2"],
        [str(k) for k in range(K)],
    )


@DATASETS.register("moons")
def make_moons(
    n_samples: int = 300,
    *,
    noise: float = 0.1,
    rng: np.random.Generator | None = None,
    dtype: str = "float32",
) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons``)."""
    import sklearn.datasets

    n, noise, rng = _toy_args("make_moons", n_samples, noise, rng, dtype)
    X, y = sklearn.datasets.make_moons(n, noise=noise, random_state=_seed(rng))
    return Dataset(X.astype(dtype), y.astype(np.int64), "binary", "moons", ["x1", "x2"], ["0", "1"])


@DATASETS.register("circles")
def make_circles(
    n_samples: int = 300,
    *,
    noise: float = 0.05,
    factor: float = 0.5,
    rng: np.random.Generator | None = None,
    dtype: str = "float32",
) -> Dataset:
    """A small circle inside a large one (scikit-learn's ``make_circles``)."""
    import sklearn.datasets

    n, noise, rng = _toy_args("make_circles", n_samples, noise, rng, dtype)
    factor = check_float(
        "make_circles",
        "factor",
        factor,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )
    X, y = sklearn.datasets.make_circles(n, noise=noise, factor=factor, random_state=_seed(rng))
    return Dataset(
        X.astype(dtype), y.astype(np.int64), "binary", "circles", ["x1", "x2"], ["outer", "inner"]
    )


@DATASETS.register("xor")
def make_xor(
    n_samples: int = 300,
    *,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
    dtype: str = "float32",
) -> Dataset:
    """Points uniform in [-1, 1]^2, class 1 where x1 x2 > 0 (the quadrants a single layer cannot
    separate); ``noise`` is Gaussian jitter added after labelling."""
    n, noise, rng = _toy_args("make_xor", n_samples, noise, rng, dtype)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    X = X + noise * rng.standard_normal((n, 2))
    return Dataset(X.astype(dtype), y, "binary", "xor", ["x1", "x2"], ["0", "1"])
