"""Checking uploads by decoding them (never by their name or declared type); output sizes.

A photo or painting must be one of the allowed formats, at most `max_pixels` (read from the
header before any pixel is decoded, so a 50000x50000 PNG costs nothing), at least 16 px a side,
and decode completely (a truncated file is refused). A clip must be a video FFmpeg can decode,
no longer than `max_video_seconds`; a sound must decode as audio (`brushwork.audio.load_audio`),
be audible, and last at most `max_sound_seconds`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .config import ServiceConfig

SUFFIX = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp"}
MIN_SIDE = 16


@dataclass(frozen=True)
class Checked:
    """What checking an upload found out: its size as displayed (EXIF orientation applied), its
    frames (1 for a still picture) and the suffix it is stored under."""
    width: int
    height: int
    frames: int
    suffix: str


def check_image(path: Path, cfg: ServiceConfig, what: str = "photo") -> Checked:
    from PIL import Image, UnidentifiedImageError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = img.format or "?"
                if fmt not in cfg.image_formats:
                    raise InputError(f"the {what} is a {fmt} file; use one of "
                                     f"{', '.join(f.lower() for f in cfg.image_formats)}")
                w, h = img.size
                if w * h > cfg.max_pixels:
                    raise InputError(f"the {what} is {w}x{h} px ({w * h / 1e6:.0f} MP); the limit is "
                                     f"{cfg.max_pixels / 1e6:.0f} MP")
                if min(w, h) < MIN_SIDE:
                    raise InputError(f"the {what} is {w}x{h} px; it needs at least {MIN_SIDE} px a side")
                img.load()                                    # a truncated or corrupt file fails here
                if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # shown turned by 90 degrees
                    w, h = h, w
    except InputError:
        raise
    except Image.DecompressionBombError as e:   # Pillow's own, far larger limit: refused on opening
        import re
        m = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(m.group(1)) / 1e6:.0f} MP, " if m else ""
        raise InputError(f"the {what} was refused as a decompression bomb ({size}the limit is "
                         f"{cfg.max_pixels / 1e6:.0f} MP)") from None
    except UnidentifiedImageError:
        raise InputError(f"the {what} is not an image (or not a format that can be read)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InputError(f"the {what} is corrupt or truncated ({str(e)[:100]})") from None
    except MemoryError:
        raise InputError(f"the {what} is too large to decode") from None
    return Checked(w, h, 1, SUFFIX.get(fmt, "img"))


def check_video(path: Path, cfg: ServiceConfig, what: str = "clip") -> Checked:
    from ..video import probe
    try:
        info = probe(path)
    except InputError as e:
        reason = str(e).split(": ", 1)[-1] if str(e).startswith(str(path)) else str(e)
        raise InputError(f"the {what} cannot be used: {reason}") from None
    if info.is_folder:
        raise InputError(f"the {what} is not a video file")
    if info.frames < 2:
        raise InputError(f"the {what} cannot be used: it has a single frame (upload a still picture as a photo)")
    if info.duration > cfg.max_video_seconds:
        raise InputError(f"the {what} is {info.duration:.0f} s long; the limit is {cfg.max_video_seconds:.0f} s")
    return Checked(info.width, info.height, info.frames, "video")


def check_sound(path: Path, cfg: ServiceConfig, what: str = "sound") -> Checked:
    """A sound is checked by decoding it whole at the working rate; its size is that of its
    spectrogram (frames wide, frequency bins high), the picture the job optimises."""
    from ..audio import load_audio
    from ..audio.stft import STFT
    from ..audio.transfer import SILENCE_RMS
    try:
        sound = load_audio(path)
    except InputError as e:
        reason = str(e).split(": ", 1)[-1] if str(e).startswith(str(path)) else str(e)
        raise InputError(f"the {what} cannot be used: {reason}") from None
    if sound.seconds > cfg.max_sound_seconds:
        raise InputError(f"the {what} is {sound.seconds:.0f} s long; the limit is {cfg.max_sound_seconds:.0f} s")
    if float((sound.samples.astype("float64") ** 2).mean()) ** 0.5 < SILENCE_RMS:
        raise InputError(f"the {what} is silent")
    stft = STFT()
    return Checked(stft.frames(len(sound.samples)), stft.bins, 1, "sound")


def fit_side(w: int, h: int, side: int | None, cap_side: int, cap_pixels: int) -> tuple[int, int]:
    """Output (W, H): long side `side` (default: the input's), within both caps."""
    long = max(w, h)
    target = min(side or long, cap_side)
    scale = target / long
    if w * h * scale * scale > cap_pixels:
        scale = (cap_pixels / (w * h)) ** 0.5
    return max(1, round(w * scale)), max(1, round(h * scale))

