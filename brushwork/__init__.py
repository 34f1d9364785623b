"""brushwork: neural style transfer — keep the shape of a photo, paint it in the style you want.

    import brushwork
    out = brushwork.stylize("photo.jpg", "starry_night.jpg", size=512, callback=print)
    brushwork.save_image(out, "out.png")
"""
__version__ = "0.1.0"

from .errors import BrushworkError, InputError, MissingWeightsError  # noqa: E402
from .image import load_image, save_image  # noqa: E402
from .optimize import mrf, reconstruct, stylize, texture  # noqa: E402
from .progress import Progress  # noqa: E402

__all__ = ["BrushworkError", "InputError", "MissingWeightsError", "Progress", "load_image", "mrf",
           "reconstruct", "save_image", "stylize", "texture", "__version__"]
