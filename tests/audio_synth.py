"""Synthetic sounds for the audio tests: tones, chirps, noise, and files written in any codec."""
from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import numpy as np

RATE = 22_050


def tone(hz: float, seconds: float, rate: int = RATE, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def chirp(f0: float, f1: float, seconds: float, rate: int = RATE, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds)))).astype(np.float32)


def noise(seconds: float, rate: int = RATE, amp: float = 0.2, seed: int = 0) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(round(seconds * rate))).astype(np.float32)


def write_wav(path: Path, channels: np.ndarray, rate: int, declared_rate: int | None = None) -> Path:
    """(channels, samples) float in [-1, 1] as 16-bit PCM; `declared_rate` forges the header's rate."""
    pcm = (np.clip(np.atleast_2d(channels), -1, 1) * 32767).astype("<i2").T.copy()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    if declared_rate is not None:
        data = bytearray(path.read_bytes())
        data[24:28] = int(declared_rate).to_bytes(4, "little")  # fmt chunk: sample rate
        data[28:32] = int(declared_rate * 2 * pcm.shape[1]).to_bytes(4, "little")  # byte rate
        path.write_bytes(bytes(data))
    return path


def write_coded(path: Path, samples: np.ndarray, rate: int, codec: str, fmt: str) -> Path:
    """Mono `samples` through an FFmpeg encoder (opus/ogg, mp3, aac/m4a) in float planar frames."""
    import av
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.time_base = Fraction(1, rate)
        step = stream.codec_context.frame_size or 1024
        x = np.pad(samples.astype(np.float32), (0, -len(samples) % step))
        for start in range(0, len(x), step):
            frame = av.AudioFrame.from_ndarray(x[None, start:start + step], format="fltp", layout="mono")
            frame.rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path
