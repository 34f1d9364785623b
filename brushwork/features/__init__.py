"""Feature extractors (what represents a signal) and the statistics computed on their outputs.

`Features` is the protocol every extractor follows; `Extractor` is VGG-19 at a device and dtype.
Extractors return raw activations; `FEATURE_SCALE` / `normalised` is the one way to put VGG taps
on a common scale (see `base`).
"""
from .base import Features
from .extractor import Extractor
from .vgg import (CHANNELS, FEATURE_SCALE, LAYERS, TAPS, PoolIndices, VGG19Features, check_taps, normalised,
                  unpool, vgg19, weights_path)

__all__ = ["CHANNELS", "FEATURE_SCALE", "Extractor", "Features", "LAYERS", "PoolIndices", "TAPS",
           "VGG19Features", "check_taps", "normalised", "unpool", "vgg19", "weights_path"]
