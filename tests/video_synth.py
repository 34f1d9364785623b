"""Short synthetic clips for the video tests: a smooth random texture moving by a known shift."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import torch


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth, high-contrast random RGB texture, uint8 (what optical flow can lock onto)."""
    import cv2
    rng = np.random.default_rng(seed)
    a = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    a = (a - a.min()) / (a.max() - a.min())
    return (a * 255 + 0.5).astype(np.uint8)


def shifted(n: int = 8, size: tuple[int, int] = (64, 96), shift: tuple[int, int] = (3, 2),
            seed: int = 0) -> list[np.ndarray]:
    """n frames of a texture whose content moves by shift = (dx, dy) px each frame."""
    h, w = size
    dx, dy = shift
    pad = n * max(abs(dx), abs(dy)) + 8
    base = texture(h + 2 * pad, w + 2 * pad, seed)
    return [np.ascontiguousarray(base[pad - t * dy: pad - t * dy + h, pad - t * dx: pad - t * dx + w])
            for t in range(n)]


def moving_square(n: int = 8, size: tuple[int, int] = (64, 96), step: int = 8, side: int = 16) -> list[np.ndarray]:
    """A white square crossing a still texture at `step` px per frame (fast motion, occlusions)."""
    base = texture(*size, seed=3) // 2
    out = []
    for t in range(n):
        f = base.copy()
        x = 4 + t * step
        f[24:24 + side, x:x + side] = 255
        out.append(f)
    return out


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 12, audio: str | None = None,
               rotation: int = 0, pts: list[int] | None = None) -> Path:
    """Encode frames with PyAV (H.264, or what the suffix implies); optionally with a 440 Hz tone
    (`audio` is the codec: 'aac', 'pcm_s16le', ...), a display rotation, or explicit frame times
    in 1/1000 s (a variable frame rate)."""
    import av
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        if pts is not None:
            s.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            s.set_display_rotation(rotation)
        a = None
        rate = 48000 if audio == "libopus" else 22050
        if audio:
            a = c.add_stream(audio, rate=rate)
            a.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            if pts is not None:
                vf.pts, vf.time_base = pts[i], Fraction(1, 1000)
            for p in s.encode(vf):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
        if a is not None:
            seconds = len(frames) / fps if pts is None else (pts[-1] + 100) / 1000
            t = np.arange(int(rate * seconds)) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            fmt = a.codec_context.format.name if a.codec_context.format else "fltp"
            samples = (tone * 32767).astype(np.int16) if fmt.startswith("s16") else tone
            af = av.AudioFrame.from_ndarray(samples[None], format=fmt, layout="mono")
            af.sample_rate, af.pts = rate, 0
            for p in a.encode(af):
                c.mux(p)
            for p in a.encode(None):
                c.mux(p)
    return path


def write_folder(path: Path, frames: list[np.ndarray]) -> Path:
    from PIL import Image
    path.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        Image.fromarray(f).save(path / f"frame{i}.png")
    return path


class Flicker:
    """A cheap painter that flickers: every frame gets a different tint and fresh fine noise (what
    a feed-forward network's changing strokes look like), drawn from the frame's own pixels, so
    the same frame is always painted the same. Counts its calls; raises KeyboardInterrupt on call
    `fail_at` (0-based), as if the run were killed there."""

    def __init__(self, seed: int = 0, fail_at: int | None = None):
        self.calls = 0
        self.seed = seed
        self.fail_at = fail_at

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.fail_at is not None and self.calls == self.fail_at:
            raise KeyboardInterrupt
        self.calls += 1
        g = torch.Generator().manual_seed(self.seed * 100_003 + int(x.double().sum() * 1000) % 2**31)
        tint = torch.rand(1, 3, 1, 1, generator=g)
        noise = torch.rand(x.shape, generator=g)
        return (0.6 * x + 0.25 * tint + 0.15 * noise).clamp(0, 1)


def identity(x: torch.Tensor) -> torch.Tensor:
    return x.clone()
