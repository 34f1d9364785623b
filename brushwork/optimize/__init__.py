"""Image iteration: one engine and the recipes built on it."""
from .engine import Extractor, Schedule, objective, optimize
from .mrf import mrf
from .reconstruct import reconstruct
from .stylize import stylize
from .texture import texture


__all__ = ["Extractor", "Schedule", "mrf", "objective", "optimize", "reconstruct", "stylize", "texture"]
