"""The IDX file format of MNIST and Fashion-MNIST (gzip-compressed or raw).

Header: two zero bytes, a type code, the number of dimensions, then each dimension as a
big-endian uint32; the data follow in C order, big-endian. A file whose length does not match
its header is refused: a truncated download must never become a silently short array.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        if head == b"\x1f\x8b":  # gzip magic
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise ValueError(f"IDX file {path!r} is truncated or corrupt ({e}); delete it and get it "
                         "again") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (``.gz`` or raw), in native byte order."""
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise ValueError(f"{path!r} is not an IDX file (bad magic number {data[:4].hex()!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise ValueError(f"IDX file {path!r} is truncated: its header is incomplete")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise ValueError(f"IDX file {path!r} is {what}: {len(data)} bytes, the header "
                         f"{shape} needs {expected}; delete it and get it again")
    return np.frombuffer(data, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when the name ends in ``.gz``)."""
    path = os.fspath(path)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _TYPES.items()}
    array = np.asarray(array)
    code = codes.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: dtype {array.dtype} has no IDX type code; valid: "
                         f"{sorted(str(np.dtype(t)) for t in _TYPES.values())}")
    body = (bytes([0, 0, code, array.ndim])
            + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
            + array.astype(np.dtype(_TYPES[code])).tobytes())
    if compress if compress is not None else path.endswith(".gz"):
        body = gzip.compress(body)
    with open(path, "wb") as f:
        f.write(body)
