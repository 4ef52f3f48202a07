"""Datasets: the IDX reader against hand-built files, the search order, downloads from a local
file:// mirror (tests never touch the network) with SHA-256 checks, clear errors for missing,
corrupt and truncated files, the registry, tables and toy sets."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from mlplab.data import datasets as ds
from mlplab.data import load_dataset, load_fashion_mnist, load_table, read_idx, write_idx

STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def fake_idx_set(folder: Path, rng, n_train=12, n_test=5, gz=True) -> dict:
    """Four small IDX files shaped like MNIST's, written byte by byte (big-endian header)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        STEMS[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        STEMS[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        STEMS[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        STEMS[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, a in arrays.items():
        raw = (
            bytes([0, 0, 8, a.ndim]) + b"".join(n.to_bytes(4, "big") for n in a.shape) + a.tobytes()
        )
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return arrays


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No real data folders or cache: MLPLAB_DATA and the cache point into tmp_path, and the
    system folder is replaced by one that does not exist."""
    monkeypatch.setenv("MLPLAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MLPLAB_CACHE", str(tmp_path / "cache"))
    real = ds.search_folders
    monkeypatch.setattr(
        ds,
        "search_folders",
        lambda name, path=None: [
            f if not str(f).startswith("/usr/share/datasets") else tmp_path / "system" / name
            for f in real(name, path)
        ],
    )
    return tmp_path


def test_read_idx_matches_hand_built_files(tmp_path, rng):
    arrays = fake_idx_set(tmp_path, rng, gz=False)
    np.testing.assert_array_equal(read_idx(tmp_path / STEMS[0]), arrays[STEMS[0]])
    for dtype in (np.int16, np.int32, np.float32, np.float64):
        a = rng.standard_normal((3, 4)).astype(dtype) * 100
        write_idx(tmp_path / "a.idx.gz", a)
        out = read_idx(tmp_path / "a.idx.gz")
        assert out.dtype == dtype and out.dtype.isnative
        np.testing.assert_array_equal(out, a)
    # big-endian on disk: the header's dimension 258 is bytes 00 00 01 02
    write_idx(tmp_path / "b.idx", np.zeros(258, np.int32))
    assert (tmp_path / "b.idx").read_bytes()[:8] == bytes([0, 0, 0x0C, 1, 0, 0, 1, 2])


def test_corrupt_and_truncated_files_are_refused(tmp_path, rng):
    arrays = fake_idx_set(tmp_path, rng, gz=False)
    raw = (tmp_path / STEMS[0]).read_bytes()
    (tmp_path / "short").write_bytes(raw[:-1])
    with pytest.raises(ValueError, match="is truncated: .* bytes, the header"):
        read_idx(tmp_path / "short")
    (tmp_path / "long").write_bytes(raw + b"\0")
    with pytest.raises(ValueError, match="longer than its header says"):
        read_idx(tmp_path / "long")
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04" + raw[4:])
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    gz = gzip.compress(raw)
    (tmp_path / "cut.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "cut.gz")
    assert arrays  # the intact file still reads
    read_idx(tmp_path / STEMS[0])


def test_search_order_explicit_env_system_cache(isolated, rng):
    fake_idx_set(isolated / "cache" / "fashion-mnist", rng, n_train=7)
    (X, y), _ = load_fashion_mnist(download=False)
    assert X.shape == (7, 784)
    fake_idx_set(isolated / "system" / "fashion-mnist", rng, n_train=8)
    assert load_fashion_mnist(download=False)[0][0].shape[0] == 8
    fake_idx_set(isolated / "data" / "fashion-mnist", rng, n_train=9)
    assert load_fashion_mnist(download=False)[0][0].shape[0] == 9
    arrays = fake_idx_set(isolated / "mine", rng, n_train=10, gz=False)
    (X, y), (Xt, yt) = load_fashion_mnist(isolated / "mine")
    assert X.shape == (10, 784) and X.dtype == np.float32
    np.testing.assert_array_equal(X, arrays[STEMS[0]].reshape(10, 784) / np.float32(255))
    np.testing.assert_array_equal(yt, arrays[STEMS[3]])
    assert y.dtype == np.int64
    (Xr, _), _ = load_fashion_mnist(isolated / "mine", flatten=False, dtype=None)
    assert Xr.dtype == np.uint8 and Xr.shape == (10, 28, 28)


def test_nothing_found_offline_says_where_to_put_the_files(isolated):
    with pytest.raises(
        ds.DatasetNotFoundError,
        match=r"(?s)fashion-mnist: files not found in.*"
        r"data/fashion-mnist.*cache/fashion-mnist.*train-images-idx3-ubyte\.gz.*"
        "apt-get install dataset-fashion-mnist",
    ):
        load_fashion_mnist(download=False)
    with pytest.raises(ds.DatasetNotFoundError, match="mine"):
        load_fashion_mnist(isolated / "mine")  # an explicit path is not silently ignored


def test_download_checks_sha256_and_writes_atomically(isolated, rng, monkeypatch):
    mirror = isolated / "mirror"
    fake_idx_set(mirror, rng, n_train=6)
    sums = {s: hashlib.sha256((mirror / f"{s}.gz").read_bytes()).hexdigest() for s in STEMS}
    monkeypatch.setitem(
        ds.IDX_SOURCES,
        "mnist",
        {
            **ds.IDX_SOURCES["mnist"],
            "mirrors": ["file:///nonexistent/", mirror.as_uri() + "/"],
            "sha256": sums,
        },
    )
    (X, y), (Xt, yt) = ds.load_mnist()  # the first mirror fails, the second serves
    assert X.shape == (6, 784)
    cached = sorted(os.listdir(isolated / "cache" / "mnist"))
    assert cached == sorted(f"{s}.gz" for s in STEMS)  # no temporary files left behind

    # a file whose checksum does not match is refused and never lands in the cache
    monkeypatch.setitem(
        ds.IDX_SOURCES,
        "mnist",
        {
            **ds.IDX_SOURCES["mnist"],
            "mirrors": [mirror.as_uri() + "/"],
            "sha256": {**sums, STEMS[0]: "0" * 64},
        },
    )
    monkeypatch.setenv("MLPLAB_CACHE", str(isolated / "cache2"))
    with pytest.raises(ValueError, match="SHA-256 .* expected 0000"):
        ds.load_mnist()
    assert not (isolated / "cache2" / "mnist" / f"{STEMS[0]}.gz").exists()
    assert not [f for f in os.listdir(isolated / "cache2" / "mnist") if f.startswith(".tmp")]


def test_registry_bundled_sets():
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

    iris = load_dataset("iris")
    X, y = iris
    np.testing.assert_array_equal(X, load_iris().data.astype(np.float32))
    assert X.dtype == np.float32 and y.dtype == np.int64 and iris.task == "multiclass"
    assert iris.target_names == ["setosa", "versicolor", "virginica"]
    assert load_dataset("breast_cancer").task == "binary"
    d = load_dataset("diabetes", dtype="float64")
    assert d.task == "regression" and d.y.dtype == np.float64
    np.testing.assert_array_equal(d.y, load_diabetes().target)
    assert load_dataset("Breast-Cancer").X.shape == load_breast_cancer().data.shape
    with pytest.raises(ValueError, match="unknown dataset 'iriss'.*iris"):
        load_dataset("iriss")


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_real_fashion_mnist_from_the_system_folder():
    d = load_dataset("fashion_mnist", path="/usr/share/datasets/fashion-mnist")
    assert d.X.shape == (60000, 784) and d.X_test.shape == (10000, 784)
    assert np.array_equal(np.bincount(d.y), [6000] * 10)  # the balanced official split
    assert d.X.min() == 0.0 and d.X.max() == 1.0 and d.target_names[9] == "Ankle boot"


def test_toy_sets_have_their_geometry():
    g = np.random.default_rng(0)
    xor = load_dataset("xor", n_samples=400, rng=g)
    assert np.array_equal(xor.y, (xor.X[:, 0] * xor.X[:, 1] > 0).astype(int))
    spiral = load_dataset("spiral", n_samples=300, noise=0.0, rng=g)
    r = np.hypot(*spiral.X.T)
    assert np.bincount(spiral.y).tolist() == [100, 100, 100] and r.max() <= 1 + 1e-6
    # without noise, the angle grows along each arm: t = atan2(x, y) unwrapped is linear in r
    arm = spiral.X[spiral.y == 1][1:]  # (the first point sits at r = 0, with no angle)
    t = np.unwrap(np.arctan2(arm[:, 0], arm[:, 1]))
    np.testing.assert_allclose(np.diff(t), 4 / 99, atol=1e-5)  # arm 1 spans 4..8 radians
    assert (t[-1] - 8.0) % (2 * np.pi) == pytest.approx(0.0, abs=1e-5)
    circles = load_dataset("circles", n_samples=200, noise=0.0, rng=g)
    np.testing.assert_allclose(np.hypot(*circles.X[circles.y == 1].T), 0.5, atol=1e-6)
    a = load_dataset("moons", rng=np.random.default_rng(3)).X
    np.testing.assert_array_equal(a, load_dataset("moons", rng=np.random.default_rng(3)).X)
    with pytest.raises(ValueError, match="make_xor: noise must be in"):
        load_dataset("xor", noise=-1.0, rng=g)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        load_dataset("spiral", rng=0)


def test_load_table_csv_and_parquet(tmp_path):
    import pandas as pd

    df = pd.DataFrame(
        {
            "age": [20, 31, 45, 52],
            "color": ["red", "blue", "red", "green"],
            "member": [True, False, True, True],
            "label": ["yes", "no", "yes", "no"],
        }
    )
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        d = load_table(tmp_path / name, target="label")
        assert d.feature_names == [
            "age",
            "color=blue",
            "color=green",
            "color=red",
            "member=False",
            "member=True",
        ]
        np.testing.assert_array_equal(d.X[:, 0], [20, 31, 45, 52])
        np.testing.assert_array_equal(d.X[:, 1:4], [[0, 0, 1], [1, 0, 0], [0, 0, 1], [0, 1, 0]])
        assert d.target_names == ["no", "yes"] and d.y.tolist() == [1, 0, 1, 0]
        assert d.task == "binary" and d.X.dtype == np.float32
    reg = load_table(tmp_path / "t.csv", target="age", drop=["label"])
    assert reg.task == "multiclass"  # integer target: classes, unless told otherwise
    reg = load_table(tmp_path / "t.csv", target="age", drop=["label"], task="regression")
    assert reg.task == "regression" and reg.y.tolist() == [20, 31, 45, 52]


def test_load_table_reports_missing_values_and_bad_columns(tmp_path):
    (tmp_path / "m.csv").write_text("a,b,c,y\n1,,x,0\n2,3,,1\n4,5,z,1\n,7,w,0\n")
    with pytest.raises(
        ValueError,
        match=r"missing values in 'a' \(1 rows\), 'b' \(1 rows\), "
        r"'c' \(1 rows\) of 4 rows.*missing='drop'",
    ):
        load_table(tmp_path / "m.csv", target="y")
    d = load_table(tmp_path / "m.csv", target="y", missing="drop")
    assert d.X.shape[0] == 1 and "dropped 3 of 4 rows" in d.description
    with pytest.raises(ValueError, match="target column 'z' not in .* columns: \\['a', 'b'"):
        load_table(tmp_path / "m.csv", target="z")
    with pytest.raises(ValueError, match="cannot tell the format"):
        (tmp_path / "x.json").write_text("{}")
        load_table(tmp_path / "x.json", target="y")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_table(tmp_path / "nope.csv", target="y")


def test_tests_cannot_reach_the_network():
    import urllib.request

    with pytest.raises(AssertionError, match="tests must stay offline"):
        urllib.request.urlopen("https://example.org/")
