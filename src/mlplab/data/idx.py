"""The IDX file format of MNIST and Fashion-MNIST (gzip-compressed or raw).

Header: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32; the data follow in C order, big-endian. A file whose length does not match
its header is refused: a truncated download must never become a silently short array.

Reading is bounded: the header is read and checked first (against ``dtype``/``shape`` when given
and against ``max_bytes``), then exactly the declared number of bytes is decompressed into an
array of that size, so a small file (a gzip bomb, a header claiming 2^32 items) can never force
a huge allocation.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from typing import BinaryIO

import numpy as np

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: the most bytes of data :func:`read_idx` reads unless told otherwise (1 GiB; the largest public
#: IDX files, EMNIST's, hold about 0.55 GB)
MAX_BYTES = 2**30

_CORRUPT = (EOFError, OSError, zlib.error)


def _open(path: str) -> BinaryIO:
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"  # gzip magic
    return gzip.open(path, "rb") if gzipped else open(path, "rb")  # type: ignore[return-value]


def _corrupt(path: str, e: BaseException) -> ValueError:
    return ValueError(
        f"IDX file {path!r} is truncated or corrupt ({e}); delete it and get it again"
    )


def _read_header(f: BinaryIO, path: str) -> tuple[np.dtype, tuple[int, ...]]:
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _TYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {magic.hex()!r})")
    ndim = magic[3]
    dims = f.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        raise ValueError(f"IDX file {path!r} is truncated: its header is incomplete")
    shape = tuple(int.from_bytes(dims[4 * i : 4 * i + 4], "big") for i in range(ndim))
    return np.dtype(_TYPES[magic[2]]), shape


def read_idx_header(path: str | os.PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """The native dtype and shape an IDX file declares, reading its header only."""
    path = os.fspath(path)
    f = _open(path)  # a missing file stays a FileNotFoundError
    try:
        with f:
            dtype, shape = _read_header(f, path)
    except _CORRUPT as e:
        raise _corrupt(path, e) from None
    return dtype.newbyteorder("="), shape


def _check_header(
    path: str, dtype: np.dtype, shape: tuple[int, ...], want_dtype, want_shape, max_bytes: int
) -> int:
    """The number of data bytes the header declares, after checking it against what is asked."""
    native = dtype.newbyteorder("=")
    if want_dtype is not None and native != np.dtype(want_dtype):
        raise ValueError(
            f"IDX file {path!r} holds {native} values, expected {np.dtype(want_dtype)}"
        )
    if want_shape is not None and (
        len(shape) != len(want_shape)
        or any(w is not None and s != w for s, w in zip(shape, want_shape))
    ):
        want = tuple("any" if w is None else w for w in want_shape)
        raise ValueError(f"IDX file {path!r} declares shape {shape}, expected {want}")
    nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on a hostile header
    # an empty dimension makes nbytes 0, but NumPy still refuses an array whose other
    # dimensions multiply past its index range: bound them too
    if max(nbytes, math.prod(s for s in shape if s) * dtype.itemsize) > max_bytes:
        raise ValueError(
            f"IDX file {path!r} declares shape {shape} ({nbytes:,} bytes of "
            f"{native}), more than {max_bytes=:,}; pass a larger max_bytes to "
            "read_idx if the file is genuine"
        )
    return nbytes


def _read_body(f: BinaryIO, path: str, out: np.ndarray, header: int) -> None:
    """Fill ``out`` from ``f``, reading no more than one byte past it (bounded decompression)."""
    view = out.reshape(-1).view(np.uint8).data  # a memoryview of the array's bytes
    got = 0
    while got < len(view):
        n = f.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            break
        got += n
    if got < len(view):
        raise ValueError(
            f"IDX file {path!r} is truncated: {header + got} bytes, the header "
            f"{out.shape} needs {header + len(view)}; delete it and get it again"
        )
    if f.read(1):
        raise ValueError(
            f"IDX file {path!r} is longer than its header says: the header "
            f"{out.shape} needs {header + len(view)} bytes; delete it and get it "
            "again"
        )


def read_idx(
    path: str | os.PathLike,
    *,
    dtype=None,
    shape: tuple[int | None, ...] | None = None,
    max_bytes: int = MAX_BYTES,
) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` or raw), in native byte order.

    Parameters
    ----------
    dtype : the value type the file must hold (e.g. ``"uint8"``); ``None`` accepts any
    shape : the shape the file must declare, ``None`` for a dimension of any size
    max_bytes : the most data bytes to read (default :data:`MAX_BYTES`, 1 GiB)

    Everything is checked from the header before any data is read or allocated; a raw file's
    size must equal what the header declares, and a gzip file is decompressed only up to it.
    """
    path = os.fspath(path)
    f = _open(path)  # a missing file stays a FileNotFoundError
    try:
        with f:
            file_dtype, file_shape = _read_header(f, path)
            header = 4 + 4 * len(file_shape)
            nbytes = _check_header(path, file_dtype, file_shape, dtype, shape, max_bytes)
            if not isinstance(f, gzip.GzipFile):
                size = os.fstat(f.fileno()).st_size
                if size != header + nbytes:
                    what = "truncated" if size < header + nbytes else "longer than its header says"
                    raise ValueError(
                        f"IDX file {path!r} is {what}: {size} bytes, the header "
                        f"{file_shape} needs {header + nbytes}; delete it and get "
                        "it again"
                    )
            out = np.empty(file_shape, file_dtype)
            _read_body(f, path, out, header)
    except _CORRUPT as e:
        raise _corrupt(path, e) from None
    return out.astype(file_dtype.newbyteorder("="), copy=False)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``)."""
    path = os.fspath(path)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}
    array = np.asarray(array)
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(
            f"write_idx: dtype {array.dtype} has no IDX type code; valid: "
            f"{sorted(str(np.dtype(t)) for t in _TYPES.values())}"
        )
    body = (
        bytes([0, 0, code, array.ndim])
        + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
        + array.astype(np.dtype(_TYPES[code])).tobytes()
    )
    if compress if compress is not None else path.endswith(".gz"):
        body = gzip.compress(body)
    with open(path, "wb") as f:
        f.write(body)
