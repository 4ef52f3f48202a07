"""Data loaders never return silently wrong data: MNIST-style files are checked against the
dataset's definition from their headers (before any data is read, so a small hostile file cannot
force a huge allocation), a mirror with a wrong checksum hands over to the next one, tables report
the bad cell, and the toy sets refuse impossible arguments and default to a fixed seed."""

from __future__ import annotations

import gzip
import hashlib
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from mlplab.data import datasets as ds
from mlplab.data import load_dataset, load_mnist, load_table, read_idx

STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float64): 0x0E}


def idx_bytes(a: np.ndarray, shape: tuple[int, ...] | None = None) -> bytes:
    """An IDX file built by hand: magic (0, 0, type code, ndim), big-endian uint32 dimensions
    (``shape`` may claim something else than ``a`` holds), big-endian data."""
    shape = a.shape if shape is None else shape
    return (
        struct.pack(">BBBB", 0, 0, CODES[a.dtype], len(shape))
        + struct.pack(f">{len(shape)}I", *shape)
        + a.astype(a.dtype.newbyteorder(">")).tobytes()
    )


def write_set(folder: Path, rng, n_train=6, n_test=3, **replace) -> dict[str, np.ndarray]:
    """Four gzip IDX files shaped like MNIST's; ``replace`` swaps in other raw bytes by stem."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        STEMS[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        STEMS[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        STEMS[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        STEMS[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, a in arrays.items():
        raw = replace.get(stem.replace("-", "_"), idx_bytes(a))
        (folder / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
    return arrays


# -- MNIST-style files against the dataset's definition -----------------------------------------


def _bad_sets(rng):
    n = 6
    return {
        "float64 images": (
            {"train_images_idx3_ubyte": idx_bytes(rng.random((n, 28, 28)))},
            r"train images .* hold float64 values of shape \(6, 28, 28\); .* "
            r"uint8 pixels \(0\.\.255\) of shape \(n, 28, 28\)",
        ),
        "negative int32 images": (
            {"train_images_idx3_ubyte": idx_bytes(rng.integers(-255, 0, (n, 28, 28), np.int32))},
            "train images .* hold int32 values",
        ),
        "5x5 images": (
            {"t10k_images_idx3_ubyte": idx_bytes(np.zeros((3, 5, 5), np.uint8))},
            r"test images .* shape \(3, 5, 5\); .* of shape \(n, 28, 28\)",
        ),
        "label 200": (
            {"train_labels_idx1_ubyte": idx_bytes(np.array([1, 2, 200, 3, 4, 5], np.uint8))},
            r"train labels .* 1 values out of range 0\.\.9, the first at index 2: 200",
        ),
        "int32 labels": (
            {"train_labels_idx1_ubyte": idx_bytes(np.arange(6, dtype=np.int32))},
            r"train IDX file .* holds int32 values, expected uint8 .*labels 0\.\.9",
        ),
        "fewer labels than images": (
            {"t10k_labels_idx1_ubyte": idx_bytes(np.zeros(2, np.uint8))},
            r"test IDX file .* declares shape \(2,\), expected \(3,\)",
        ),
        # the header alone is refused: the file holds no data at all, only the claim
        "more images than the set has": (
            {
                "train_images_idx3_ubyte": idx_bytes(
                    np.zeros((0, 28, 28), np.uint8), shape=(60_001, 28, 28)
                )
            },
            "train images .* declare 60,001 images; mnist has 60,000 train images",
        ),
    }


@pytest.mark.parametrize("case", list(_bad_sets(np.random.default_rng(0))))
def test_mnist_files_outside_the_definition_are_refused(tmp_path, rng, case):
    replace, match = _bad_sets(rng)[case]
    write_set(tmp_path / "mnist", rng, **replace)
    with pytest.raises(ValueError, match=f"mnist: {match}"):
        load_mnist(tmp_path / "mnist")


def test_a_subset_of_the_definition_loads_and_says_so(tmp_path, rng):
    arrays = write_set(tmp_path / "f", rng, n_train=6, n_test=3)
    d = load_dataset("fashion_mnist", path=tmp_path / "f")
    np.testing.assert_array_equal(d.X, arrays[STEMS[0]].reshape(6, 784) / np.float32(255))
    np.testing.assert_array_equal(d.y_test, arrays[STEMS[3]])
    assert "6 training and 3 test images" in d.description
    assert "a subset: the official set has 60,000 + 10,000" in d.description


def test_a_small_gzip_file_cannot_force_a_large_allocation(tmp_path, rng):
    """A 32 MB run of zeros compresses to ~32 KB; the reader must stop at what the header
    declares (or refuse the header), never decompress it all."""
    images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    bomb = gzip.compress(idx_bytes(images) + bytes(32 << 20))
    assert len(bomb) < 100_000
    folder = tmp_path / "mnist"
    write_set(folder, rng)
    (folder / f"{STEMS[0]}.gz").write_bytes(bomb)
    # a header that claims 4 GiB (and 8 MB of zeros behind it) is refused from the header
    (tmp_path / "huge.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros((0, 1), np.uint8), shape=(2**20, 2**12)) + bytes(8 << 20))
    )
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="longer than its header says"):
            load_mnist(folder)
        with pytest.raises(
            ValueError,
            match=r"declares shape \(1048576, 4096\) "
            r"\(4,294,967,296 bytes of uint8\), more than "
            r"max_bytes=1,073,741,824",
        ):
            read_idx(tmp_path / "huge.gz")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"peak {peak:,} bytes"
    with pytest.raises(ValueError, match=r"declares shape \(3, 28, 28\), expected \(7, 28, 28\)"):
        read_idx(folder / f"{STEMS[2]}.gz", shape=(7, 28, 28))
    # and within the limits the same bytes read back exactly
    np.testing.assert_array_equal(
        read_idx(folder / f"{STEMS[1]}.gz", dtype="uint8", shape=(None,)).shape, (6,)
    )


def test_a_raw_file_is_measured_before_it_is_read(tmp_path):
    good = np.arange(12, dtype=np.int32).reshape(3, 4)
    (tmp_path / "a.idx").write_bytes(idx_bytes(good) + bytes(100))
    with pytest.raises(
        ValueError,
        match=r"is longer than its header says: 160 bytes, the "
        r"header \(3, 4\) needs 60",
    ):
        read_idx(tmp_path / "a.idx")
    (tmp_path / "b.idx").write_bytes(idx_bytes(good))
    np.testing.assert_array_equal(read_idx(tmp_path / "b.idx", dtype=np.int32), good)
    with pytest.raises(ValueError, match="holds int32 values, expected float32"):
        read_idx(tmp_path / "b.idx", dtype="float32")
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "missing.idx")


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """Nothing found locally: every searched folder is inside tmp_path and empty."""
    monkeypatch.setenv("MLPLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "search_folders", lambda name, path=None: [tmp_path / "cache" / name])
    return tmp_path


def test_a_checksum_mismatch_on_one_mirror_tries_the_next(isolated, rng, monkeypatch):
    good = isolated / "good"
    arrays = write_set(good, rng)
    bad = isolated / "bad"  # the same files but one: its images have other bytes
    write_set(bad, rng, train_images_idx3_ubyte=idx_bytes(np.zeros((6, 28, 28), np.uint8)))
    for stem in STEMS[1:]:
        (bad / f"{stem}.gz").write_bytes((good / f"{stem}.gz").read_bytes())
    sums = {s: hashlib.sha256((good / f"{s}.gz").read_bytes()).hexdigest() for s in STEMS}
    monkeypatch.setitem(
        ds.IDX_SOURCES,
        "mnist",
        {
            **ds.IDX_SOURCES["mnist"],
            "sha256": sums,
            "mirrors": [bad.as_uri() + "/", good.as_uri() + "/"],
        },
    )
    with pytest.warns(
        UserWarning,
        match=r"mnist: download of file:.*/bad/train-images-idx3-ubyte"
        r"\.gz has SHA-256 .*trying the next mirror, file:.*good",
    ):
        (X, y), (Xt, yt) = load_mnist(dtype=None, flatten=False)
    np.testing.assert_array_equal(X, arrays[STEMS[0]])
    np.testing.assert_array_equal(yt, arrays[STEMS[3]])
    for stem in STEMS:  # the cache holds the good files only
        assert (isolated / "cache" / "mnist" / f"{stem}.gz").read_bytes() == (
            good / f"{stem}.gz"
        ).read_bytes()
    # when no mirror matches, the error lists every mismatch
    monkeypatch.setenv("MLPLAB_CACHE", str(isolated / "cache2"))
    monkeypatch.setattr(ds, "search_folders", lambda name, path=None: [isolated / "cache2" / name])
    monkeypatch.setitem(
        ds.IDX_SOURCES,
        "mnist",
        {**ds.IDX_SOURCES["mnist"], "mirrors": [bad.as_uri() + "/", bad.as_uri() + "/"]},
    )
    with (
        pytest.warns(UserWarning, match="/bad/train-images.*trying the next mirror"),
        pytest.raises(
            ValueError,
            match=r"no mirror served a file with the expected checksum"
            r": .*/bad/train-images.*; .*/bad/train-images",
        ),
    ):
        load_mnist()


# -- toy sets --------------------------------------------------------------------------------------


def test_spiral_refuses_more_arms_than_points():
    with pytest.raises(
        ValueError,
        match=r"make_spiral: n_classes must be <= n_samples .*"
        r"n_classes=100000000, n_samples=300",
    ):
        ds.make_spiral(n_classes=10**8)
    with pytest.raises(ValueError, match="n_classes=11, n_samples=10"):
        load_dataset("spiral", n_samples=10, n_classes=11)


def test_spiral_arms_are_cs231n_linspaces():
    """Uneven arms (103 points over 5 arms) against the per-arm np.linspace construction."""
    n, K = 103, 5
    d = ds.make_spiral(n, n_classes=K, noise=0.0, dtype="float64")
    span = 12.0 / K
    for k in range(K):
        m = int(np.sum(np.arange(n) % K == k))
        r, t = np.linspace(0.0, 1.0, m), np.linspace(span * k, span * (k + 1), m)
        np.testing.assert_array_equal(d.X[d.y == k], np.stack([r * np.sin(t), r * np.cos(t)], 1))
    one_each = ds.make_spiral(4, n_classes=4, noise=0.0)  # one point per arm: each at r = 0
    np.testing.assert_array_equal(one_each.X, 0.0)


@pytest.mark.parametrize("name", ["spiral", "moons", "circles", "xor"])
def test_toy_sets_default_to_a_fixed_seed(name):
    a, b = load_dataset(name, n_samples=50), load_dataset(name, n_samples=50)
    ref = load_dataset(name, n_samples=50, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X, ref.X)
    np.testing.assert_array_equal(a.y, ref.y)


def test_digits_says_its_pixels_are_0_to_16():
    from sklearn.datasets import load_digits

    d = load_dataset("digits")
    raw = load_digits().data
    assert raw.max() == 16 and np.array_equal(raw, np.round(raw))  # the claim, independently
    np.testing.assert_array_equal(d.X, raw.astype(np.float32))
    assert "integers 0..16" in d.description and "0..16" in ds.DATASETS.get("digits").__doc__
    assert "digits`` pixels are the integers 0..16" in load_dataset.__doc__


# -- tables ----------------------------------------------------------------------------------------


def test_a_stray_string_in_a_numeric_column_is_reported_with_its_row(tmp_path):
    # row 2 (counting data rows from 0) of column x holds "oops"; the rest are numbers
    (tmp_path / "t.csv").write_text(
        "a,x,color,y\n1,1.5,red,0\n2,2.0,blue,1\n3,oops,10,0\n4,3.1,red,1\n5,2.2,blue,0\n"
    )
    with pytest.raises(
        ValueError,
        match=r"load_table: column 'x' of .*t\.csv' holds numbers "
        r"except in 1 cell\(s\) \(row 2: 'oops'; .*categorical=",
    ):
        load_table(tmp_path / "t.csv", target="y")
    with pytest.raises(ValueError, match=r"column 'x' .* \(row 2: 'oops'"):
        load_table(tmp_path / "t.csv", target="y", categorical=["color"])
    # listed as categorical, x is text by the caller's word; color ("10" among words) is text
    d = load_table(tmp_path / "t.csv", target="y", categorical=["x", "color"])
    assert d.feature_names == [
        "a",
        "x=1.5",
        "x=2.0",
        "x=2.2",
        "x=3.1",
        "x=oops",
        "color=10",
        "color=blue",
        "color=red",
    ]
    # the same in the target: numbers with one stray text cell
    (tmp_path / "r.csv").write_text("a,y\n1,0.5\n2,1.5\n3,n/a?\n4,2.5\n")
    with pytest.raises(ValueError, match=r"column 'y' .* \(row 2: 'n/a\?'.*task='classification'"):
        load_table(tmp_path / "r.csv", target="y")
    with pytest.raises(ValueError, match=r"column 'y' .* \(row 2: 'n/a\?'"):
        load_table(tmp_path / "r.csv", target="y", task="regression")
    assert load_table(tmp_path / "r.csv", target="y", task="classification").target_names == [
        "0.5",
        "1.5",
        "2.5",
        "n/a?",
    ]


def test_a_high_cardinality_column_is_refused_above_max_categories(tmp_path):
    import pandas as pd

    n = 1001  # one more than the documented default, max_categories=1000
    pd.DataFrame(
        {"id": [f"u{i}" for i in range(n)], "x": np.arange(n) % 7, "y": np.arange(n) % 2}
    ).to_csv(tmp_path / "ids.csv", index=False)
    with pytest.raises(
        ValueError,
        match=r"column 'id' .* has 1,001 distinct values, more than "
        r"max_categories=1000: .* 1,001 columns \(0\.00 GB of "
        r"float32 for 1,001 rows\)\. Drop it \(drop=\['id'\]\)",
    ):
        load_table(tmp_path / "ids.csv", target="y")
    d = load_table(tmp_path / "ids.csv", target="y", max_categories=n)
    assert d.X.shape == (n, 1 + n) and d.X.dtype == np.float32
    np.testing.assert_array_equal(d.X[:, 1:].sum(axis=1), 1.0)  # one-hot: one 1 per row
    assert load_table(tmp_path / "ids.csv", target="y", drop=["id"]).X.shape == (n, 1)
    with pytest.raises(
        ValueError, match="load_table: max_categories must be an int >= 1, got max_categories=0"
    ):
        load_table(tmp_path / "ids.csv", target="y", max_categories=0)


def test_dropping_the_target_and_corrupt_files_are_clear_errors(tmp_path):
    import pandas as pd

    df = pd.DataFrame({"a": np.arange(200), "y": np.arange(200) % 2})
    df.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        ValueError,
        match=r"load_table: drop names the target column 'y'.*"
        r"drop=\['a', 'y'\]",
    ):
        load_table(tmp_path / "t.csv", target="y", drop=["a", "y"])
    packed = gzip.compress((tmp_path / "t.csv").read_bytes())
    (tmp_path / "cut.csv.gz").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(
        ValueError,
        match=r"load_table: cannot read '.*cut\.csv\.gz', it is "
        r"truncated or corrupt \(EOFError",
    ):
        load_table(tmp_path / "cut.csv.gz", target="y")
    (tmp_path / "bad.parquet").write_bytes(b"PAR1" + bytes(16) + b"PAR1")
    with pytest.raises(ValueError, match=r"cannot read '.*bad\.parquet', it is truncated"):
        load_table(tmp_path / "bad.parquet", target="y")


def test_an_empty_dimension_does_not_hide_a_huge_declared_shape(tmp_path):
    """(0, 2**32-1, 2**32-1) declares 0 bytes, but NumPy cannot index such an array: the header
    check must refuse it with the file's name (found by the fuzz suite: a raw 'array is too
    big')."""
    path = tmp_path / "huge.idx"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + struct.pack(">III", 0, 2**32 - 1, 2**32 - 1))
    with pytest.raises(
        ValueError, match=r"huge\.idx.*declares shape \(0, 4294967295, 4294967295\)"
    ):
        read_idx(path)


def test_a_table_without_rows_or_with_infinite_numbers_is_refused(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b,target\n")
    with pytest.raises(ValueError, match=r"empty\.csv' has no rows"):
        load_table(empty, "target")
    inf = tmp_path / "inf.csv"
    inf.write_text("a,b,target\n1,2,0\n1e400,3,1\n4,inf,0\n")
    with pytest.raises(
        ValueError,
        match=r"column 'a' of .*inf\.csv' holds infinite values "
        r"\(rows \[1\]: \[inf\]\)",
    ):
        load_table(inf, "target")
