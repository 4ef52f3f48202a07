"""Training: the trainer, callbacks and checkpoints (level 3)."""

from .callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    ReduceLROnPlateau,
    TerminateOnNaN,
    TrainingDiverged,
)
from .checkpoint import load_checkpoint, load_model, read_checkpoint, save_checkpoint
from .trainer import Trainer

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "ModelCheckpoint",
    "ProgressBar",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
    "Trainer",
    "TrainingDiverged",
    "load_checkpoint",
    "load_model",
    "read_checkpoint",
    "save_checkpoint",
]
