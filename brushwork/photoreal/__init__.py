"""Photorealistic stylization: the look of one photo on another, still a photo."""
from .decoders import PhotoWCTDecoders, shipped_decoders
from .photo import photo
from .train import train_photowct

__all__ = ["PhotoWCTDecoders", "photo", "shipped_decoders", "train_photowct"]
