"""Image-to-image translation: pix2pix (paired), CycleGAN and CUT (unpaired), trained by
`training.fit`, saved as `.bw` files, run as Stylizers at full resolution, and generators of
the reference implementation loaded from their state dicts (`reference.py`)."""
from .model import TranslationModel, Translator
from .train import train_cut, train_cyclegan, train_pix2pix

__all__ = ["TranslationModel", "Translator", "train_cut", "train_cyclegan", "train_pix2pix"]
