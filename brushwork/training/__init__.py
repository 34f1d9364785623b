"""One training loop for every network (`fit`), the recipes' contract (`Recipe`), and training data:
image folders, paired (A/, B/) and unpaired folders, augmentation, deterministic batches."""
from .checkpoint import checkpoint_path
from .data import Augment, Batches, ImageFolder, PairedFolder, Prefetch, Unpaired, data_dir, step_generator
from .loop import Settings, fit, inverse_decay, non_negative, positive_int
from .precision import autocast, native_bf16, training_dtype
from .recipe import Recipe

__all__ = ["Augment", "Batches", "ImageFolder", "PairedFolder", "Prefetch", "Recipe", "Settings", "Unpaired",
           "autocast", "checkpoint_path", "data_dir", "fit", "inverse_decay", "native_bf16", "non_negative",
           "positive_int", "step_generator", "training_dtype"]
