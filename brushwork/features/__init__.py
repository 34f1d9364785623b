"""Feature extractors: what represents an image."""
from .vgg import CHANNELS, LAYERS, TAPS, VGG19Features, check_taps, vgg19, weights_path

__all__ = ["CHANNELS", "LAYERS", "TAPS", "VGG19Features", "check_taps", "vgg19", "weights_path"]
