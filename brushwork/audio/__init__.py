"""Audio: I/O, spectrograms and Griffin-Lim, random-filter features, measures and pictures."""
from .io import Audio, load_audio, save_audio
from .measures import evaluate
from .pictures import save_spectrograms, spectrogram_picture

__all__ = ["Audio", "evaluate", "load_audio", "save_audio", "save_spectrograms", "spectrogram_picture"]
