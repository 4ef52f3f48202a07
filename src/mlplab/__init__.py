"""mlplab: a NumPy lab for fully connected neural networks with hand-written backprop.

The public API, re-exported flat; no logic lives here.
"""
from .activations import ACTIVATIONS, get_activation
from .diagnostics import (GradcheckReport, TrainingMonitor, bias_variance_report, diagnose,
                          gradcheck, initialization_experiment, learning_curve,
                          overfit_tiny_subset, validation_curve)
from .initializers import (INITIALIZERS, constant, get_initializer, glorot_normal, glorot_uniform,
                           he_normal, he_uniform, lecun_normal, lecun_uniform, normal, ones,
                           orthogonal, sparse, uniform, zeros)
from .layers import (ELU, LAYERS, Activation, BatchNorm, Dense, DropConnect, Dropout,
                     GaussianNoise, HierarchicalSoftmax, Identity, Layer, LeakyReLU, Maxout,
                     PReLU, ReLU, Residual, Sigmoid, Softmax, Softplus, Tanh, get_layer)
from .losses import (LOSSES, Huber, Loss, MeanAbsoluteError, MeanSquaredError, MulticlassHinge,
                     MultilabelHinge, NegativeLogLikelihood, SigmoidBinaryCrossEntropy,
                     SoftmaxCrossEntropy, SquaredHinge, get_loss)
from .network import Sequential
from ._settings import get_num_threads, set_compiled_kernels, set_num_threads, threads
from .optim import (Constant, CosineDecay, ExponentialDecay, InverseTimeDecay, LinearWarmup,
                    StepDecay, adadelta, adagrad, adam, get_optimizer, get_schedule, lbfgs,
                    momentum, nesterov, newton, rmsprop, sgd)
from .regularizers import L1, L2, ElasticNet, MaxNorm
from .data import (Dataset, GaussianInputNoise, RandomShift, load_dataset, load_fashion_mnist,
                   load_mnist, load_table, train_val_test_split)
from .metrics import classification_scores, confusion_matrix, regression_scores
from .tune import cross_validate, select_and_evaluate
from .train import (CSVLogger, Callback, EarlyStopping, History, ModelCheckpoint,
                    ReduceLROnPlateau, TerminateOnNaN, Trainer, TrainingDiverged, load_model)

from ._lazy import lazy_getattr

# scikit-learn loads on first use of these (see mlplab._lazy)
__getattr__ = lazy_getattr(__name__, dict.fromkeys(
    ["ImageMean", "Whitening", "fit_preprocessing", "get_preprocessor"], ".data.preprocessing"))

__version__ = "0.1.0"

__all__ = [
    # network and layers
    "Sequential", "Layer", "Dense", "DropConnect", "Activation", "Identity", "Sigmoid", "Tanh",
    "ReLU", "LeakyReLU", "PReLU", "ELU", "Softplus", "Softmax", "Maxout", "BatchNorm", "Dropout",
    "GaussianNoise", "Residual", "HierarchicalSoftmax", "get_layer", "LAYERS",
    # losses
    "Loss", "MeanSquaredError", "MeanAbsoluteError", "Huber", "SoftmaxCrossEntropy",
    "SigmoidBinaryCrossEntropy", "MulticlassHinge", "SquaredHinge", "MultilabelHinge",
    "NegativeLogLikelihood", "get_loss", "LOSSES",
    # initializers and activations
    "zeros", "ones", "constant", "normal", "uniform", "lecun_normal", "lecun_uniform",
    "glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "sparse", "orthogonal",
    "get_initializer", "INITIALIZERS", "get_activation", "ACTIVATIONS",
    # training
    "Trainer", "Callback", "History", "EarlyStopping", "ReduceLROnPlateau", "TerminateOnNaN",
    "ModelCheckpoint", "CSVLogger", "TrainingDiverged", "load_model",
    "sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "newton", "lbfgs",
    "get_optimizer",
    "get_schedule", "Constant", "StepDecay", "ExponentialDecay", "InverseTimeDecay", "CosineDecay",
    "LinearWarmup", "L1", "L2", "ElasticNet", "MaxNorm", "GaussianInputNoise", "RandomShift",
    # data and evaluation
    "Dataset", "load_dataset", "load_fashion_mnist", "load_mnist", "load_table",
    "Whitening", "ImageMean", "get_preprocessor", "fit_preprocessing", "train_val_test_split",
    "classification_scores", "regression_scores", "confusion_matrix", "cross_validate",
    "select_and_evaluate",
    # diagnostics
    "gradcheck", "GradcheckReport", "diagnose", "TrainingMonitor", "bias_variance_report",
    "learning_curve", "validation_curve", "overfit_tiny_subset", "initialization_experiment",
    # process-wide settings: threads of the matrix products and the optimizer sweep, compiled steps
    "set_num_threads", "get_num_threads", "threads", "set_compiled_kernels",
    "__version__",
]
