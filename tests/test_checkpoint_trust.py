"""Checkpoints one can trust: saving never clobbers what is not a checkpoint file and leaves
nothing half-written; loading a hostile or broken file fails fast, without a big allocation,
with a ValueError naming the file and the field, and leaves the trainer as it was."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest

import mlplab
from mlplab import Dense, ReLU, Sequential, Trainer
from mlplab.train import _files, checkpoint

from examples import LAYER_CASES


# -- helpers --------------------------------------------------------------------------------------
def make_trainer(seed=0, *, width=5, epochs=2, optimizer="adam"):
    model = Sequential([Dense(width), ReLU(), mlplab.Dropout(0.1), Dense(3)])
    return Trainer(
        model,
        "cross_entropy",
        optimizer,
        batch_size=8,
        epochs=epochs,
        rng=np.random.default_rng(seed),
        verbose=0,
    )


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(40, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)


@pytest.fixture
def saved(data, tmp_path):
    """(trainer, path of its checkpoint) after 2 epochs."""
    t = make_trainer()
    t.fit(*data)
    path = tmp_path / "ck.npz"
    t.save(path)
    return t, path


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def write_zip(path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)


def with_meta(src, dst, change) -> str:
    """Copy of checkpoint ``src`` at ``dst`` whose JSON went through ``change(meta)``."""
    entries = members(src)
    meta = json.loads(str(np.load(io.BytesIO(entries["meta.npy"]))))
    change(meta)
    entries["meta.npy"] = npy(np.array(json.dumps(meta)))
    write_zip(dst, entries)
    return str(dst)


def snapshot(t: Trainer) -> dict:
    """Everything load may change, as plain copies."""
    opt, scalars = checkpoint._flatten(t.opt_state)
    return {
        "state": t.get_state(),
        "opt": {k: v.copy() for k, v in opt.items()},
        "scalars": dict(scalars),
        "epoch": t.epoch,
        "step": t.step,
        "rng": t.rng.bit_generator.state,
        "augment": t.augment_rng.bit_generator.state,
        "layers": [g.bit_generator.state for g in t.model.generators()],
        "history": json.dumps(t.history.history),
    }


def assert_same(a: dict, b: dict) -> None:
    for part in ("state", "opt"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            np.testing.assert_array_equal(a[part][k], b[part][k], err_msg=f"{part}/{k}")
    assert {k: a[k] for k in a if k not in ("state", "opt")} == {
        k: b[k] for k in b if k not in ("state", "opt")
    }


def fails_small_and_fast(load, match: str, limit_mb: float = 16.0) -> None:
    """``load()`` raises a ValueError matching ``match``, in under a second, with a traced
    peak (NumPy reports its array memory to tracemalloc) below ``limit_mb``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=match):
            load()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < limit_mb * 2**20, f"loading allocated {peak / 2**20:.0f} MB before failing"


# -- item 11: saving -----------------------------------------------------------------------------
def test_save_refuses_fifo_and_directory_and_leaves_them(saved, data, tmp_path):
    t, _ = saved
    fifo, folder = tmp_path / "pipe", tmp_path / "folder"
    os.mkfifo(fifo)
    folder.mkdir()
    with pytest.raises(
        ValueError,
        match=r"save_checkpoint: .*pipe.* is a FIFO .*not a regular "
        r"file; refusing",
    ):
        t.save(fifo)
    with pytest.raises(ValueError, match=r"folder.* is a directory, not a regular file"):
        t.save(folder)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and folder.is_dir()
    cb = mlplab.ModelCheckpoint(fifo, save_best_only=False)  # the callback writes the same way
    t2 = make_trainer(epochs=1)
    t2.callbacks.append(cb)
    with pytest.raises(ValueError, match="not a regular file"):
        t2.fit(*data)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert not list(tmp_path.glob(".tmp-*"))


def test_save_refuses_a_character_device(saved, tmp_path):
    # a device node like /dev/null, made here (never touch the real one): needs root
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("cannot create a device node here (needs root)")
    with pytest.raises(ValueError, match="is a character device, not a regular file"):
        saved[0].save(node)
    assert stat.S_ISCHR(os.stat(node).st_mode)


def test_save_follows_a_symlink_and_replaces_its_target(saved, data, tmp_path):
    t, path = saved
    link = tmp_path / "latest.npz"
    link.symlink_to(path)
    t.fit(*data)  # 2 more epochs: the new checkpoint differs from the one at `path`
    t.save(link)
    assert link.is_symlink() and os.readlink(link) == str(path)
    assert checkpoint.read_checkpoint(path)[0]["epoch"] == t.epoch == 4
    dangling = tmp_path / "to-be"
    (tmp_path / "new-link").symlink_to(dangling)
    t.save(tmp_path / "new-link")  # a link to a file not yet there: the file is created
    assert (tmp_path / "new-link").is_symlink() and dangling.is_file()


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_save_uses_the_process_umask(saved, tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        saved[0].save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.npz").st_mode) == mode


def test_save_fsyncs_the_file_and_its_folder(saved, tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(stat.S_IFMT(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    saved[0].save(tmp_path / "s.npz")
    assert synced == [stat.S_IFREG, stat.S_IFDIR]  # the data before the rename, then the rename


def test_failed_write_removes_its_temporary_and_keeps_the_old_file(saved, tmp_path):
    _, path = saved
    before = path.read_bytes()

    def write(f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _files.atomic_write(path, write, owner="test")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]


def test_next_save_removes_temporaries_of_killed_saves(saved, tmp_path):
    t, path = saved
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(done.stdout)  # a process that has exited: its temporary is stale
    host = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    stale = tmp_path / f".tmp-ck.npz.{dead}.{host}.0badcafe"
    stale.write_bytes(b"PK\x03\x04 cut by SIGKILL")
    live = tmp_path / f".tmp-ck.npz.{os.getppid()}.{host}.0goodcafe"  # a writer still running
    live.write_bytes(b"being written")
    other = tmp_path / f".tmp-other.npz.{dead}.{host}.0badcafe"  # another file's: not ours
    other.write_bytes(b"")
    # a pid of another host (shared or network folder) says nothing here: keep its file
    remote = tmp_path / f".tmp-ck.npz.{dead}.{'0' * 8 if host != '0' * 8 else '1' * 8}.0badcafe"
    remote.write_bytes(b"being written elsewhere")
    t.save(path)
    assert not stale.exists() and live.exists() and other.exists() and remote.exists()


# -- item 12: no big allocation from a small file ------------------------------------------------
def test_huge_declared_architecture_fails_before_building(saved, tmp_path):
    _, path = saved
    huge = with_meta(
        path,
        tmp_path / "huge.npz",
        lambda m: m.update(
            in_features=20_000,
            model={
                "layers": [
                    {"name": "Dense", "config": {"units": 20_000}},
                    *m["model"]["layers"][1:],
                ]
            },
        ),
    )
    assert os.path.getsize(huge) < 20_000  # a small file claiming 1.6 GB of weights
    match = r"huge\.npz.*'state/0\.W' holds float32 \(4, 5\).*declare float32 \(20000, 20000\)"
    fails_small_and_fast(lambda: mlplab.load_model(huge), match)
    fails_small_and_fast(lambda: checkpoint.read_checkpoint(huge), match)
    # a trainer with that (unbuilt) architecture: also refused before anything is built
    t = Trainer(
        Sequential([Dense(20_000), ReLU(), mlplab.Dropout(0.1), Dense(3)]),
        "cross_entropy",
        "adam",
        rng=np.random.default_rng(0),
        verbose=0,
    )
    fails_small_and_fast(lambda: t.load(huge), match)
    assert not t.model.built


def test_npy_header_claiming_a_huge_shape(saved, tmp_path):
    _, path = saved
    entries = members(path)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)}
    )
    entries["state/0.W.npy"] = header.getvalue() + bytes(80)
    write_zip(tmp_path / "h.npz", entries)
    fails_small_and_fast(
        lambda: mlplab.load_model(tmp_path / "h.npz"),
        r"h\.npz.*entry 'state/0\.W' is \d+ bytes uncompressed, but its header "
        r"\(float32 \(100000, 100000\)\) implies 40000000\d+",
    )


def write_bomb(path, src, member: str, megabytes: int = 50) -> None:
    """``src`` with ``member`` replaced by a deflated float64 vector of ``megabytes`` of zeros
    (about 1000 times smaller in the file) whose header matches its size."""
    entries = members(src)
    n = megabytes * 2**20 // 8
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (n,)}
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            if name != member:
                zf.writestr(name, data, compress_type=zipfile.ZIP_STORED)
        with zf.open(member, "w", force_zip64=True) as f:
            f.write(header.getvalue())
            chunk = bytes(2**20)
            for _ in range(megabytes):
                f.write(chunk)


@pytest.mark.parametrize(
    "member, match",
    [
        (
            "state/0.W.npy",
            r"'state/0\.W' holds float64 \(6553600,\), but fields 'model', "
            r"'in_features' and 'dtype' declare float32 \(4, 5\)",
        ),
        (
            "opt/inner_state/0/m/0.W.npy",
            r"optimizer state 'inner_state/0/m/0\.W' holds float64 "
            r"\(6553600,\), the "
            r"trainer's optimizer expects float32 \(4, 5\)",
        ),
    ],
)
def test_zip_bomb_is_refused_before_decompressing(saved, tmp_path, member, match):
    t, path = saved
    bomb = tmp_path / "bomb.npz"
    write_bomb(bomb, path, member)
    assert os.path.getsize(bomb) < 2**20  # 50 MB of zeros in well under 1 MB
    before = snapshot(t)
    fails_small_and_fast(lambda: t.load(bomb), r"bomb\.npz.*" + match)
    assert_same(before, snapshot(t))


def test_meta_json_is_bounded(saved, monkeypatch):
    _, path = saved
    monkeypatch.setattr(checkpoint, "MAX_META_BYTES", 1000)
    with pytest.raises(
        ValueError,
        match=r"ck\.npz.*entry 'meta' is \d+ bytes, more than the "
        r"1000 a checkpoint's JSON may take",
    ):
        mlplab.load_model(path)


# -- item 13: malformed files, and load validates everything before it assigns -------------------
def corrupt_rng(m):
    m["rng"] = {"bit_generator": "PCG64", "state": {"state": "x", "inc": 1}}


MALFORMED = {  # change of the JSON -> (field named, how)
    "epoch as a string": (
        lambda m: m.update(epoch="3"),
        r"field 'epoch' must be an int >= 0, "
        r"got '3'",
    ),
    "epoch missing": (lambda m: m.pop("epoch"), r"field 'epoch' is missing"),
    "in_features negative": (
        lambda m: m.update(in_features=-4),
        r"field 'in_features' must be a positive int, got -4",
    ),
    "dtype unknown": (lambda m: m.update(dtype="float8"), r"field 'dtype' must be one of"),
    "history a list": (
        lambda m: m.update(history=[1, 2]),
        r"field 'history' must be a JSON "
        r"object, got \[1, 2\]",
    ),
    "history values text": (
        lambda m: m["history"].update(loss="low"),
        r"field 'history/loss' must be a list of numbers, got 'low'",
    ),
    "history_epochs floats": (
        lambda m: m.update(history_epochs=[0.5]),
        r"field 'history_epochs' must be a list of ints",
    ),
    "opt scalar text": (
        lambda m: m["opt_scalars"].update({"inner_state/0/t": "4"}),
        r"field 'opt_scalars/inner_state/0/t' must be a number, got '4'",
    ),
    "opt int step a float": (
        lambda m: m["opt_scalars"].update({"inner_state/0/t": 4.5}),
        r"field 'opt_scalars/inner_state/0/t' must be an int, got 4\.5",
    ),
    "opt scalar extra": (
        lambda m: m["opt_scalars"].update(momentum=0.9),
        r"optimizer state \['momentum'\] is not part of the trainer's "
        r"optimizer",
    ),
    "rng state broken": (corrupt_rng, r"field 'rng' must be a PCG64 state"),
    "layer rngs missing": (
        lambda m: m.update(layer_rngs=[]),
        r"field 'layer_rngs' must be 1 generator states",
    ),
    "model unknown layer": (
        lambda m: m["model"]["layers"].append({"name": "NoSuchLayer"}),
        r"field 'model' does not describe a valid model",
    ),
    "loss not an object": (
        lambda m: m.update(loss="mse"),
        r"field 'loss' must be a JSON "
        r"object",
    ),
    "extra a list": (lambda m: m.update(extra=[]), r"field 'extra' must be a JSON object"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_checkpoint_names_file_and_field_and_changes_nothing(saved, data, tmp_path, case):
    change, match = MALFORMED[case]
    _, path = saved
    bad = with_meta(path, tmp_path / "bad.npz", change)
    other = make_trainer(seed=7)  # a different run of the same setup, past the checkpoint
    other.fit(*data)
    other.fit(*data)
    before = snapshot(other)
    with pytest.raises(ValueError, match=r"checkpoint '.*bad\.npz'.*" + match):
        other.load(bad)
    assert_same(before, snapshot(other))  # not half-restored


def test_meta_that_is_not_json(saved, tmp_path):
    _, path = saved
    entries = members(path)
    entries["meta.npy"] = npy(np.array('{"format": "mlplab-checkpoint", '))
    write_zip(tmp_path / "j.npz", entries)
    with pytest.raises(
        ValueError,
        match=r"checkpoint '.*j\.npz': field 'meta' is not valid "
        r"JSON \(Expecting",
    ):
        mlplab.load_model(tmp_path / "j.npz")
    entries["meta.npy"] = npy(np.zeros(3))
    write_zip(tmp_path / "n.npz", entries)
    with pytest.raises(
        ValueError,
        match=r"n\.npz': entry 'meta' must be a JSON string, got "
        r"float64 \(3,\)",
    ):
        mlplab.load_model(tmp_path / "n.npz")


def test_entries_that_do_not_fit(saved, tmp_path):
    t, path = saved
    entries = members(path)
    entries["state/0.W.npy"] = npy(np.zeros((4, 5)))  # float64 where float32 is declared
    write_zip(tmp_path / "d.npz", entries)
    with pytest.raises(ValueError, match=r"d\.npz': entry 'state/0\.W' holds float64 \(4, 5\)"):
        t.load(tmp_path / "d.npz")
    entries = members(path)
    del entries["state/3.b.npy"]  # (Dense, ReLU, Dropout, Dense: the last bias is 3.b)
    write_zip(tmp_path / "m.npz", entries)
    with pytest.raises(
        ValueError,
        match=r"m\.npz': the arrays do not match the architecture in "
        r"field 'model': missing \['3\.b'\]",
    ):
        t.load(tmp_path / "m.npz")
    entries["state/3.b.npy"] = members(path)["state/3.b.npy"]
    entries["extra/x.npy"] = npy(np.zeros(2))
    write_zip(tmp_path / "x.npz", entries)
    with pytest.raises(ValueError, match=r"x\.npz': unexpected entries \['extra/x'\]"):
        t.load(tmp_path / "x.npz")
    entries = members(path)
    entries["state/0.W.npy"] = npy(np.array([object()], dtype=object))
    write_zip(tmp_path / "o.npz", entries)
    with pytest.raises(
        ValueError,
        match=r"o\.npz': entry 'state/0\.W' has dtype object; "
        "checkpoints hold plain numeric arrays only",
    ):
        t.load(tmp_path / "o.npz")


def test_load_refuses_a_trainer_of_another_shape(saved, tmp_path):
    t, path = saved
    other = Trainer(
        Sequential([Dense(5), ReLU(), mlplab.Dropout(0.1), Dense(3)]),
        "cross_entropy",
        "adam",
        rng=np.random.default_rng(0),
        verbose=0,
    )
    other.model.build(6, rng=np.random.default_rng(0))
    with pytest.raises(
        ValueError,
        match=r"ck\.npz' has in_features 4 \(field 'in_features'\), "
        r"the trainer's model has 6",
    ):
        other.load(path)
    wide = make_trainer(width=6)
    with pytest.raises(ValueError, match="the trainer's model architecture differs"):
        wide.load(path)


def test_load_and_save_of_a_special_file(tmp_path, saved):
    os.mkfifo(tmp_path / "p.npz")  # np.load on a FIFO would wait for a writer forever
    with pytest.raises(ValueError, match=r"p\.npz' is a FIFO \(named pipe\), not a regular file"):
        saved[0].load(tmp_path / "p.npz")
    with pytest.raises(ValueError, match=r"checkpoint '.*' is a directory"):
        mlplab.load_model(tmp_path)


def test_valid_checkpoint_still_round_trips_into_a_fresh_trainer(saved, data):
    t, path = saved
    fresh = make_trainer()
    fresh.load(path)  # unbuilt: built from the checkpoint
    assert_same(snapshot(t), snapshot(fresh))
    meta, arrays = checkpoint.read_checkpoint(path)
    assert meta["epoch"] == 2 and set(arrays) >= {"state/0.W", "opt/inner_state/0/m/0.W"}
    np.testing.assert_array_equal(arrays["state/0.W"], t.model.params()["0.W"])


@pytest.mark.parametrize("make", LAYER_CASES)
def test_shape_only_build_gives_the_real_shapes_of_every_layer(make):
    # the guard against huge declared architectures builds shape-only: it must see what a
    # real build allocates, for every registered layer (and default initializers)
    model = Sequential([make(), Dense(3)])
    meta = {
        "model": model.get_config(),
        "in_features": 5,
        "dtype": "float64",
        "loss": {"name": "SoftmaxCrossEntropy", "config": {}},
    }
    model.build(5, rng=np.random.default_rng(0), dtype="float64")
    real = {**model.params(), **model.buffers()}
    shapes = checkpoint._declared_arrays(meta, "p")
    assert {k: (s.shape, s.dtype) for k, s in shapes.items()} == {
        k: (v.shape, v.dtype) for k, v in real.items()
    }
