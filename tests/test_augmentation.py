"""Per-batch augmentation: RandomShift against scipy.ndimage.shift, GaussianInputNoise moments,
fresh draws per batch, seeded reproducibility, dtype kept, and use inside the trainer."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import mlplab
from mlplab import GaussianInputNoise, RandomShift


def test_random_shift_is_a_zero_filled_translation_and_covers_all_shifts(rng):
    h, w, s, n = 6, 5, 2, 600
    x = rng.uniform(0.5, 1.0, size=(n, h * w)).astype(np.float32)  # no zeros: fills are visible
    out = RandomShift((h, w), max_shift=s)(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
    candidates = {(dy, dx) for dy in range(-s, s + 1) for dx in range(-s, s + 1)}
    seen = []
    for xi, oi in zip(x.reshape(n, h, w), out.reshape(n, h, w)):
        matches = [
            c
            for c in candidates
            if np.array_equal(ndimage.shift(xi, c, order=0, mode="constant", cval=0.0), oi)
        ]
        assert len(matches) == 1, "each output must be exactly one zero-filled shift of its input"
        seen.append(matches[0])
    counts = np.array([seen.count(c) for c in sorted(candidates)])
    # 25 equally likely shifts, 24 expected each: all occur, none wildly over-represented
    assert counts.min() >= 8 and counts.max() <= 48


def test_random_shift_is_seeded_and_fresh_per_batch(rng):
    x = rng.uniform(size=(50, 64))
    aug = RandomShift((8, 8), max_shift=1)
    a = aug(x, np.random.default_rng(3))
    np.testing.assert_array_equal(a, aug(x, np.random.default_rng(3)))
    g = np.random.default_rng(3)
    assert not np.array_equal(aug(x, g), aug(x, g))
    with pytest.raises(
        ValueError,
        match=r"RandomShift: expected 64 features \(an 8x8 image\), "
        "got 10",
    ):
        aug(x[:, :10], g)
    with pytest.raises(ValueError, match="max_shift must be an int >= 1"):
        RandomShift((8, 8), max_shift=0)


def test_gaussian_input_noise_moments_dtype_and_freshness():
    x = np.full((400, 250), 2.0, dtype=np.float32)
    g = np.random.default_rng(0)
    noise = GaussianInputNoise(0.3)
    out = noise(x, g)
    assert out.dtype == np.float32
    e = (out - x).astype(np.float64).ravel()  # 100,000 draws
    se = 0.3 / np.sqrt(e.size)
    assert abs(e.mean()) < 5 * se
    assert abs(e.std() - 0.3) < 5 * 0.3 / np.sqrt(2 * e.size)
    assert abs(np.mean((e / 0.3) ** 4) - 3.0) < 0.1  # Gaussian kurtosis
    assert not np.array_equal(noise(x, g), out)
    np.testing.assert_array_equal(noise(x, np.random.default_rng(0)), out)
    np.testing.assert_array_equal(GaussianInputNoise(0.0)(x, g), x)
    with pytest.raises(ValueError, match="GaussianInputNoise: std must be in"):
        GaussianInputNoise(-1.0)


def test_trainer_augments_training_batches_only(rng):
    """The augment hook sees every training batch (each example once per epoch) and nothing
    from evaluation or prediction."""
    seen = []

    def record(x, g):
        seen.append(x.shape[0])
        return x

    X, y = rng.standard_normal((70, 3)), rng.integers(0, 2, 70)
    t = mlplab.Trainer(
        mlplab.Sequential([mlplab.Dense(2)]),
        "cross_entropy",
        "sgd",
        batch_size=32,
        epochs=2,
        augment=record,
        rng=np.random.default_rng(0),
        verbose=0,
    )
    t.fit(X, y, validation_data=(X, y))
    t.predict(X)
    assert seen == [32, 32, 6] * 2
