"""Data: datasets, preprocessing, splits, batching, augmentation (level 1: never sees a layer)."""

from .._lazy import lazy_getattr
from .augmentation import GaussianInputNoise, RandomShift
from .batching import minibatch_indices
from .datasets import (
    DATASETS,
    Dataset,
    DatasetNotFoundError,
    cache_dir,
    load_dataset,
    load_fashion_mnist,
    load_mnist,
    make_circles,
    make_moons,
    make_spiral,
    make_xor,
    search_folders,
)
from .idx import read_idx, read_idx_header, write_idx
from .split import get_splitter, train_val_test_split
from .table import load_table

__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetNotFoundError",
    "GaussianInputNoise",
    "ImageMean",
    "PREPROCESSORS",
    "RandomShift",
    "Whitening",
    "cache_dir",
    "fit_preprocessing",
    "get_preprocessor",
    "get_splitter",
    "load_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_table",
    "make_circles",
    "make_moons",
    "make_preprocessing",
    "make_spiral",
    "make_xor",
    "minibatch_indices",
    "read_idx",
    "read_idx_header",
    "search_folders",
    "train_val_test_split",
    "write_idx",
]

# scikit-learn loads on first use of these (see mlplab._lazy)
__getattr__ = lazy_getattr(
    __name__,
    dict.fromkeys(
        [
            "PREPROCESSORS",
            "ImageMean",
            "Whitening",
            "fit_preprocessing",
            "get_preprocessor",
            "make_preprocessing",
        ],
        ".preprocessing",
    ),
)
