"""A labelled picture of spectrograms (content, style, result) to look at before listening.

Each panel is a log-magnitude spectrogram on a mel-spaced frequency axis (low notes get room,
as they do in hearing) with ticks in Hz and seconds, all panels on one colour scale (magma-like:
black is silence) and one time scale, so lengths and loudness compare at a glance.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..image import check_output_path, save_image
from .io import AudioSource, load_audio
from .stft import STFT, log_spectrogram

# magma-like anchors from silence to loud
_COLORS = np.array([(0, 0, 4), (40, 11, 84), (101, 21, 110), (159, 42, 99), (212, 72, 66),
                    (245, 125, 21), (250, 193, 39), (252, 253, 191)], dtype=np.float32)
PANEL_HEIGHT = 160
SECONDS_PX = 90          # horizontal pixels per second of sound
MARGIN_LEFT, MARGIN_TOP, MARGIN_BOTTOM = 58, 20, 18


def _mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _colormap(v: np.ndarray) -> np.ndarray:
    x = np.clip(v, 0, 1) * (len(_COLORS) - 1)
    i = np.minimum(x.astype(int), len(_COLORS) - 2)
    f = (x - i)[..., None]
    return (_COLORS[i] * (1 - f) + _COLORS[i + 1] * f).astype(np.uint8)


def _panel(spec: np.ndarray, rate: int, width: int, top: float) -> np.ndarray:
    """(bins, frames) log magnitude -> (PANEL_HEIGHT, width, 3) RGB, low frequencies at the bottom."""
    bins, frames = spec.shape
    mels = np.linspace(_mel(np.array(0.0)), _mel(np.array(rate / 2)), PANEL_HEIGHT)[::-1]
    rows = np.clip(np.round(700.0 * (10 ** (mels / 2595.0) - 1) / (rate / 2) * (bins - 1)), 0, bins - 1).astype(int)
    cols = np.clip((np.arange(width) + 0.5) * frames / width, 0, frames - 1).astype(int)
    return _colormap(spec[rows][:, cols] / max(top, 1e-6))


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def spectrogram_picture(spectrograms: dict[str, torch.Tensor], rate: int, hop: int) -> Image.Image:
    """One panel per labelled (bins, frames) log-magnitude spectrogram, stacked top to bottom."""
    specs = {k: v.detach().float().cpu().numpy() for k, v in spectrograms.items()}
    longest = max(s.shape[1] for s in specs.values())
    seconds = longest * hop / rate
    plot_w = max(200, round(seconds * SECONDS_PX))
    top = max(float(s.max()) for s in specs.values())
    panel_h = MARGIN_TOP + PANEL_HEIGHT + MARGIN_BOTTOM
    img = Image.new("RGB", (MARGIN_LEFT + plot_w + 10, panel_h * len(specs)), (255, 255, 255))
    draw, font = ImageDraw.Draw(img), _font(11)
    hz_ticks = [t for t in (100, 500, 1000, 2000, 4000, 8000, 16000) if t < rate / 2]
    second_step = next(s for s in (0.5, 1, 2, 5, 10, 30, 60) if seconds / s <= 12)
    for n, (label, spec) in enumerate(specs.items()):
        y0 = n * panel_h + MARGIN_TOP
        w = max(1, round(plot_w * spec.shape[1] / longest))
        img.paste(Image.fromarray(_panel(spec, rate, w, top)), (MARGIN_LEFT, y0))
        draw.text((MARGIN_LEFT, y0 - 15), f"{label}  ({spec.shape[1] * hop / rate:.1f} s)", fill=(0, 0, 0), font=font)
        top_mel = _mel(np.array(rate / 2))
        for hz in hz_ticks:
            y = y0 + round((1 - _mel(np.array(hz)) / top_mel) * (PANEL_HEIGHT - 1))
            draw.line([(MARGIN_LEFT - 4, y), (MARGIN_LEFT - 1, y)], fill=(0, 0, 0))
            draw.text((2, y - 6), f"{hz / 1000:g} kHz" if hz >= 1000 else f"{hz} Hz", fill=(0, 0, 0), font=font)
        t = 0.0
        while t <= seconds + 1e-9:
            x = MARGIN_LEFT + round(t / seconds * plot_w)
            draw.line([(x, y0 + PANEL_HEIGHT), (x, y0 + PANEL_HEIGHT + 3)], fill=(0, 0, 0))
            draw.text((x - 6, y0 + PANEL_HEIGHT + 4), f"{t:g} s", fill=(0, 0, 0), font=font)
            t += second_step
    return img


def save_spectrograms(sounds: dict[str, AudioSource | torch.Tensor], path: str | os.PathLike, *,
                      rate: int = 22_050, n_fft: int = 2048) -> Path:
    """Write `spectrogram_picture` of labelled sounds (files or `Audio`, decoded at `rate`; or
    ready (bins, frames) log spectrograms) as an image file, atomically."""
    p = check_output_path(path)
    stft = STFT(n_fft)
    specs = {label: s if torch.is_tensor(s) else log_spectrogram(load_audio(s, rate).samples, stft)
             for label, s in sounds.items()}
    pic = np.asarray(spectrogram_picture(specs, rate, stft.step), dtype=np.float32) / 255.0
    return save_image(torch.from_numpy(pic).permute(2, 0, 1)[None], p)
