"""Quality numbers for a sound: how close it is to its content and to its style.

- `style_distance`: squared distance of the random-filter Gram matrices, relative to the
  style's Gram energy (0 = same statistics; the loss the recipe minimises, normalised).
- `content_correlation`: Pearson correlation of the log-magnitude spectrograms, frame by frame
  over the common length (1 = same time-frequency shape, 0 = unrelated).
- `spectral_convergence` (in `stft`): how well a waveform realises a magnitude.

All run without gradients in fp32 with the recipe's default filters, so numbers compare
across runs and machines.
"""
from __future__ import annotations

import torch

from ..features.stats import gram
from .features import TAP, RandomFilters
from .io import AudioSource, load_audio
from .stft import STFT, log_spectrogram

MEANINGS = {
    "style_distance": "lower = closer to the style's timbre/texture statistics (0 = same)",
    "content_correlation": "higher = closer to the content's time-frequency shape (1 = same)",
}


def style_distance(result: torch.Tensor, style: torch.Tensor, features: RandomFilters) -> float:
    """‖G(result) − G(style)‖² / ‖G(style)‖² for log spectrograms (bins, frames)."""
    with torch.no_grad():
        g = gram(features.targets(result)[TAP])
        s = gram(features.targets(style)[TAP])
    return float((g - s).pow(2).sum() / s.pow(2).sum().clamp_min(1e-30))


def content_correlation(result: torch.Tensor, content: torch.Tensor) -> float:
    """Pearson correlation of two log spectrograms over their common frames."""
    n = min(result.shape[-1], content.shape[-1])
    a, b = result[:, :n].flatten().double(), content[:, :n].flatten().double()
    a, b = a - a.mean(), b - b.mean()
    # one reduction for all three sums and √(‖a‖²‖b‖²): a sound compared with itself gives exactly 1
    return float((a * b).sum() / ((a * a).sum() * (b * b).sum()).sqrt().clamp_min(1e-30))


def evaluate(result: AudioSource, content: AudioSource | None = None, style: AudioSource | None = None, *,
             rate: int = 22_050, n_fft: int = 2048, filters: int = 4096, width: int = 11,
             seed: int = 0) -> dict[str, float]:
    """The measures that apply: `content_correlation` with a content, `style_distance` with a style."""
    stft = STFT(n_fft)
    spec = log_spectrogram(load_audio(result, rate).samples, stft)
    out: dict[str, float] = {}
    if content is not None:
        out["content_correlation"] = content_correlation(spec, log_spectrogram(load_audio(content, rate).samples, stft))
    if style is not None:
        feats = RandomFilters(stft.bins, filters, width, seed, "cpu", torch.float32)
        out["style_distance"] = style_distance(spec, log_spectrogram(load_audio(style, rate).samples, stft), feats)
    return out
