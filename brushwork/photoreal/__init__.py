"""Photorealistic stylization: the look of one photo on another, still a photo."""
from .photo import photo

__all__ = ["photo"]
