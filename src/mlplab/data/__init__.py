"""Data: batching (more to come: datasets, preprocessing, splits) (level 1)."""
from .augmentation import GaussianInputNoise, RandomShift
from .batching import minibatch_indices

__all__ = ["GaussianInputNoise", "RandomShift", "minibatch_indices"]
