"""brushwork: neural style transfer — keep the shape of a photo, paint it in the style you want.

    import brushwork
    out = brushwork.stylize("photo.jpg", "starry_night.jpg", size=512, callback=print)
    brushwork.save_image(out, "out.png")
    out = brushwork.apply("photo.jpg", preset=7)   # feed-forward: one pass, full resolution
    out = brushwork.photo("day.jpg", "dusk.jpg")     # the look of one photo on another, still a photo
    brushwork.qr("https://example.org", "wave.jpg").save("qr.png")   # a painted QR code that scans
    out = brushwork.fashion("dress.jpg", "pattern.jpg")  # a pattern painted onto a garment
"""
__version__ = "0.1.0"

from .errors import BrushworkError, InputError, InputWarning, MissingWeightsError  # noqa: E402
from .image import UpTo, load_image, save_image  # noqa: E402
from .optimize import mrf, qr, reconstruct, stylize, texture  # noqa: E402
from .photoreal import photo, train_photowct  # noqa: E402
from .progress import Progress  # noqa: E402
from .feedforward import apply, presets  # noqa: E402
from .feedforward.export import export_onnx  # noqa: E402
from .feedforward.modelfile import load_model, save_model  # noqa: E402
from .feedforward.train import train_adain, train_fast, train_multistyle  # noqa: E402
from .feedforward.student import train_student  # noqa: E402
from .translate import train_cut, train_cyclegan, train_pix2pix  # noqa: E402
from .translate.run import translate, translate_folder  # noqa: E402
from .video import stylize_video  # noqa: E402
from .audio import stylize_audio  # noqa: E402
from .fashion import fashion, garment_mask  # noqa: E402

__all__ = ["BrushworkError", "InputError", "InputWarning", "MissingWeightsError", "Progress", "UpTo", "apply", "export_onnx",
           "fashion", "garment_mask",
           "load_image", "load_model", "mrf", "photo", "presets", "qr", "reconstruct", "save_image", "save_model", "stylize",
           "stylize_audio", "stylize_video", "texture", "train_adain", "train_cut", "train_cyclegan", "train_fast",
           "train_multistyle", "train_photowct", "train_pix2pix", "train_student", "translate", "translate_folder", "__version__"]
