"""Process-wide settings (threads, the compiled switch) and the level-0 helpers that read them:
the thread pool and the reused buffers."""

from __future__ import annotations

import re

import numpy as np
import pytest

import mlplab
from mlplab import _buffers, _parallel, _settings


@pytest.fixture(autouse=True)
def _defaults():
    """Every test starts and ends on the defaults."""
    mlplab.set_num_threads(None)
    mlplab.set_compiled_kernels(None)
    yield
    mlplab.set_num_threads(None)
    mlplab.set_compiled_kernels(None)


# -- threads ---------------------------------------------------------------------------------------


def test_sweep_threads_default_to_environment_then_setter_then_default_again(monkeypatch):
    monkeypatch.delenv("MLPLAB_NUM_THREADS", raising=False)
    assert mlplab.get_num_threads() == 1
    monkeypatch.setenv("MLPLAB_NUM_THREADS", "3")  # read when used, not at import
    assert mlplab.get_num_threads() == 3
    mlplab.set_num_threads(2)
    assert mlplab.get_num_threads() == 2
    with mlplab.threads(4):
        assert mlplab.get_num_threads() == 4
    assert mlplab.get_num_threads() == 2
    mlplab.set_num_threads(None)
    assert mlplab.get_num_threads() == 3


def test_bad_thread_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("MLPLAB_NUM_THREADS", "two")
    with pytest.raises(
        ValueError,
        match=r"\$MLPLAB_NUM_THREADS must be a positive int, "
        r"got MLPLAB_NUM_THREADS='two'",
    ):
        mlplab.get_num_threads()


@pytest.mark.parametrize("bad", [2.0, "2", True, np.float64(2.0), [2]])
def test_thread_count_of_wrong_type_is_type_error(bad):
    with pytest.raises(
        TypeError,
        match=r"set_num_threads: n must be a positive int or None, "
        rf"got n={re.escape(repr(bad))} of type "
        rf"{type(bad).__name__}",
    ):
        mlplab.set_num_threads(bad)
    assert mlplab.get_num_threads() == 1  # nothing changed


def test_numpy_integers_are_thread_counts():
    mlplab.set_num_threads(np.int64(2))
    assert mlplab.get_num_threads() == 2 and type(mlplab.get_num_threads()) is int


# -- the compiled switch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, enabled",
    [("0", False), (" Off", False), ("no", False), ("false", False), ("1", True), ("", True)],
)
def test_compiled_switch_environment(monkeypatch, value, enabled):
    monkeypatch.setenv("MLPLAB_COMPILED", value)
    assert _settings.compiled_kernels_enabled() is enabled
    mlplab.set_compiled_kernels(not enabled)  # the setter wins over the environment
    assert _settings.compiled_kernels_enabled() is (not enabled)


@pytest.mark.parametrize("bad", [1, 0, "yes", np.bool_(True)])
def test_compiled_switch_of_wrong_type_is_type_error(bad):
    with pytest.raises(
        TypeError,
        match=r"set_compiled_kernels: enabled must be True, False or "
        r"None, got enabled=",
    ):
        mlplab.set_compiled_kernels(bad)


# -- the thread pool -------------------------------------------------------------------------------


@pytest.mark.parametrize("n_threads", [1, 3])
def test_foreach_visits_every_entry_once_on_any_thread_count(n_threads):
    """Chunks of several arrays, a non-contiguous array (whole) and a small one: each entry is
    written exactly once, whatever the split."""
    size = 5 * _parallel.CHUNK + 7  # several chunks and a partial one
    a, b = np.zeros(size), np.arange(size, dtype=np.float64)
    c = np.zeros((40, 30)).T  # not C-contiguous
    small = np.zeros(5)

    def add(x, y, step):
        x += y + step

    with mlplab.threads(n_threads):
        _parallel.foreach(add, [(a, b), (small, np.ones(5))], 1.0)
        _parallel.foreach(add, [(c, np.ones_like(c))], 2.0)
    np.testing.assert_array_equal(a, np.arange(size) + 1.0)
    np.testing.assert_array_equal(small, np.full(5, 2.0))
    np.testing.assert_array_equal(c, np.full((30, 40), 3.0))


# -- buffers ---------------------------------------------------------------------------------------


def test_matmul_into_writes_the_plain_product(rng):
    a, b = rng.standard_normal((4, 3)), rng.uniform(1, 2, (4, 3))
    out = np.empty((4, 4))
    assert _buffers.matmul_into(out, a, b.T) is out
    np.testing.assert_array_equal(out, a @ b.T)


def test_matmul_into_on_array_api_strict(rng):
    xs = pytest.importorskip("array_api_strict")
    a, b = rng.standard_normal((4, 3)), rng.uniform(1, 2, (3, 4))
    out = xs.zeros((4, 4), dtype=xs.float64)
    assert _buffers.matmul_into(out, xs.asarray(a), xs.asarray(b)) is out
    np.testing.assert_array_equal(np.asarray(out), a @ b)


def test_scratch_reuses_until_shape_or_dtype_changes():
    scratch = _buffers.Scratch()
    first = scratch.like("W", np.zeros((3, 4), np.float32))
    assert scratch.like("W", np.ones((3, 4), np.float32)) is first
    assert scratch.like("b", np.ones((3, 4), np.float32)) is not first
    for other in (np.zeros((4, 3), np.float32), np.zeros((3, 4), np.float64)):
        buf = scratch.like("W", other)
        assert buf is not first and buf.shape == other.shape and buf.dtype == other.dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flush_tiny_zeroes_only_below_the_threshold(dtype):
    from mlplab.optim.transforms import flush_tiny

    tiny = np.finfo(dtype).smallest_normal * 2.0**24
    subnormal = np.finfo(dtype).smallest_subnormal
    a = np.array([0.5 * tiny, -0.5 * tiny, tiny, -2 * tiny, 1.0, subnormal, np.nan], dtype=dtype)
    before = a.copy()
    flushed = flush_tiny(a)
    expected = np.array([0, 0, tiny, -2 * tiny, 1.0, 0, np.nan], dtype=dtype)
    np.testing.assert_array_equal(flushed, expected)
    np.testing.assert_array_equal(a, before)  # a new array: the state given is untouched
