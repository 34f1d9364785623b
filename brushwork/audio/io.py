"""Audio I/O through PyAV: any container FFmpeg reads in (wav, flac, ogg, mp3, m4a, ...), wav or flac out.

Sound is a float32 mono signal in [-1, 1] (channels are averaged) at a working rate; the
rate of the file it came from is kept beside it, so a result can be written at that rate.
Files are decoded packet by packet and refused, with the reason, past `MAX_SECONDS`: the
optimisation holds the whole spectrogram and its feature maps at once, so memory grows with
the length. Writing is atomic (temp file + rename); a failed write leaves nothing behind.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..files import atomic_path
from ..image import check_writable_file

# Longest sound we decode: at 22.05 kHz and hop 512, 5 minutes is 12,920 frames, whose
# 4096 random-filter activations alone take 210 MB per copy (the optimiser keeps several).
MAX_SECONDS = 300.0
MIN_SECONDS = 0.5    # the random filters see 11 frames (0.26 s at the defaults); less says nothing
MIN_RATE, MAX_RATE = 1000, 384_000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aif", ".aiff", ".wma")
SAVE_CODECS = {".wav": ("wav", "pcm_s16le", "s16"), ".flac": ("flac", "flac", "s16")}


@dataclass
class Audio:
    """A mono signal `samples` (float32, 1-D) at `rate` Hz; `source_rate` is the rate of the file it came from."""

    samples: np.ndarray
    rate: int
    source_rate: int
    name: str = ""

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


AudioSource = str | os.PathLike | Audio


def is_audio_path(path: str | os.PathLike) -> bool:
    """A file whose name says it is a sound."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def check_rate(rate: int, what: str = "sample rate") -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(f"{what} must be a whole number of Hz from {MIN_RATE} to {MAX_RATE}, not {rate!r}")
    return int(rate)


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Polyphase resampling (Kaiser-windowed FIR) from `src` to `dst` Hz."""
    if src == dst:
        return x.astype(np.float32, copy=False)
    from scipy.signal import resample_poly
    g = gcd(src, dst)
    return resample_poly(x, dst // g, src // g).astype(np.float32)


def _clock(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _too_long(p: Path, seconds: float) -> InputError:
    return InputError(f"{p}: {_clock(seconds)} of audio is too long; the spectrogram is optimised whole, so "
                      f"sounds are limited to {MAX_SECONDS / 60:g} minutes (cut a part out first)")


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e).split(": '")[0] or type(e).__name__


def _decode(p: Path) -> tuple[np.ndarray, int]:
    """All of `p`'s first audio track as float32 mono at its own rate."""
    import av
    try:
        container = av.open(str(p), metadata_errors="ignore")
    except av.error.FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except av.error.PermissionError:
        raise InputError(f"{p}: cannot be read (permission denied)") from None
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{p}: not an audio file, or a corrupt one ({_reason(e)})") from None
    with container:
        if not container.streams.audio:
            raise InputError(f"{p}: has no audio track")
        stream = container.streams.audio[0]
        rate = int(stream.rate or 0)
        if rate <= 0:
            raise InputError(f"{p}: declares a sample rate of {rate} Hz; it cannot be played")
        if container.duration is not None and container.duration / 1e6 > MAX_SECONDS + 1:
            raise _too_long(p, container.duration / 1e6)
        # planar float at the file's own layout and rate: the mix-down and resampling are ours
        to_float = av.AudioResampler(format="fltp", rate=rate)
        chunks, n = [], 0
        try:
            for frame in container.decode(stream):
                for out in to_float.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0, dtype=np.float32))
                    n += chunks[-1].size
                if n > (MAX_SECONDS + 1) * rate:  # duration unknown or understated by the container
                    raise _too_long(p, n / rate)
            for out in to_float.resample(None):
                chunks.append(out.to_ndarray().mean(axis=0, dtype=np.float32))
        except av.error.FFmpegError as e:
            raise InputError(f"{p}: corrupt audio ({_reason(e)})") from None
    if not chunks:
        raise InputError(f"{p}: has no audio samples")
    return np.concatenate(chunks), rate


def load_audio(src: AudioSource, rate: int = 22_050) -> Audio:
    """Decode a file (or take an `Audio`) as mono float32 at `rate` Hz; refuse too short or too long sounds."""
    rate = check_rate(rate, "the working sample rate")
    if isinstance(src, Audio):
        a = src
        samples = resample(a.samples, a.rate, rate)
        name, source_rate = a.name, a.source_rate
    else:
        p = Path(src)
        if p.is_dir():
            raise InputError(f"{p}: is a folder, not an audio file")
        raw, source_rate = _decode(p)
        samples, name = resample(raw, source_rate, rate), p.name
    if not np.isfinite(samples).all():
        raise InputError(f"{name or 'audio'}: contains samples that are not finite numbers")
    seconds = len(samples) / rate
    if seconds < MIN_SECONDS:
        raise InputError(f"{name or 'audio'}: {seconds:.2f} s is too short (at least {MIN_SECONDS:g} s)")
    if seconds > MAX_SECONDS + 1:
        raise _too_long(Path(name or "audio"), seconds)
    return Audio(np.clip(samples, -1.0, 1.0), rate, source_rate, name)


def check_audio_output(path: str | os.PathLike) -> Path:
    """Refuse an output path we could not write, before any long work starts."""
    p = Path(path)
    if p.suffix.lower() not in SAVE_CODECS:
        raise InputError(f"{p}: unknown audio output format; use one of {', '.join(sorted(SAVE_CODECS))}")
    return check_writable_file(p)


def _encode(tmp: Path, samples: np.ndarray, rate: int, fmt: str, codec: str, sample_fmt: str) -> None:
    import av
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype(np.int16)
    with av.open(str(tmp), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.time_base = Fraction(1, rate)
        step = stream.codec_context.frame_size or 4096  # flac takes fixed-size frames
        for start in range(0, len(pcm), step):
            frame = av.AudioFrame.from_ndarray(pcm[None, start:start + step], format=sample_fmt, layout="mono")
            frame.rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def save_audio(samples: np.ndarray | Audio, path: str | os.PathLike, rate: int | None = None) -> Path:
    """Write mono 16-bit wav or flac atomically; an `Audio` is written at its source's rate unless `rate` is given."""
    p = check_audio_output(path)
    if isinstance(samples, Audio):
        target = samples.source_rate if rate is None else check_rate(rate)
        x = resample(samples.samples, samples.rate, target)
    elif rate is None:
        raise InputError("a sample rate is needed to save raw samples")
    else:
        target, x = check_rate(rate), np.asarray(samples, dtype=np.float32)
    if x.ndim != 1 or not len(x):
        raise InputError(f"audio to save must be one non-empty channel, not shape {tuple(x.shape)}")
    fmt, codec, sample_fmt = SAVE_CODECS[p.suffix.lower()]
    with atomic_path(p) as tmp:
        _encode(tmp, x, target, fmt, codec, sample_fmt)
    return p
