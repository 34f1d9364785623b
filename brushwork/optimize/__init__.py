"""Image iteration: one engine over a canvas, run settings, composable loss builds, and the
recipes built on them."""
from .builds import Build, Loss, combine
from .canvas import Canvas, ImageCanvas
from .engine import Schedule, objective, optimize
from .mrf import mrf
from .qr import qr
from .reconstruct import reconstruct
from .settings import RunSettings
from .stylize import stylize
from .texture import texture

__all__ = ["Build", "Canvas", "ImageCanvas", "Loss", "RunSettings", "Schedule", "combine", "mrf", "objective",
           "optimize", "qr", "reconstruct", "stylize", "texture"]
