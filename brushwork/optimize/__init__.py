"""Image iteration: one engine and the recipes built on it."""
from .engine import Extractor, Schedule, objective, optimize
from .reconstruct import reconstruct
from .stylize import stylize
from .texture import texture


def mrf(*args, **kwargs):  # imported lazily: the module is optional until it lands
    from .mrf import mrf as _mrf
    return _mrf(*args, **kwargs)


__all__ = ["Extractor", "Schedule", "mrf", "objective", "optimize", "reconstruct", "stylize", "texture"]
