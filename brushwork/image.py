"""Image I/O, sizes and colour: the part every recipe shares.

Images are float tensors (1, 3, H, W), RGB in [0, 1]. Loading honours EXIF orientation,
greyscale, alpha (kept separately, composited on white for the features) and 16-bit PNGs;
saving is atomic, so an existing output is never left half-written.
"""
from __future__ import annotations

import contextlib
import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError
from .files import atomic_path

MAX_PIXELS = 100_000_000  # refuse larger inputs before decoding (decompression bombs)
MAX_SIDE = 16_384         # largest output side we accept
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}

ImageSource = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


# Pillow decodes 16-bit colour PNGs to 8 bits (the high bytes); this rawmode gives the low bytes.
_PNG16_LOW = {"RGB;16B": "RGB;16L", "RGBA;16B": "RGBA;16L"}


@contextlib.contextmanager
def _decoding(p: Path) -> Iterator[None]:
    """Turn what Pillow raises on a bad file into one-line InputErrors naming `p`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # MAX_PIXELS is checked by callers
            yield
    except InputError:
        raise
    except Image.DecompressionBombError:
        raise InputError(f"{p}: refused as a decompression bomb (more than {MAX_PIXELS / 1e6:.0f} MP)") from None
    except UnidentifiedImageError:
        raise InputError(f"{p}: not an image file (or a format that cannot be read)") from None
    except PermissionError:
        raise InputError(f"{p}: cannot be read (permission denied)") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{p}: corrupt or truncated image ({e})") from None


def _check_pixels(p: Path, w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise InputError(f"{p}: {w}x{h} is too large ({w * h / 1e6:.0f} MP; the limit is {MAX_PIXELS / 1e6:.0f} MP)")


def probe_image(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) from an image file's header, or the InputError loading it would give."""
    p = Path(path)
    with _decoding(p), Image.open(p) as im:
        w, h = im.size
    _check_pixels(p, w, h)
    return w, h


def _open(path: str | os.PathLike) -> tuple[Image.Image, Image.Image | None]:
    """Decode an image file, refusing bombs, folders and non-images with an InputError.

    Returns the image and, for a 16-bit colour PNG, a second decoding that holds the low bytes.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, not an image")
    with _decoding(p):
        img = Image.open(p)
        _check_pixels(p, *img.size)
        low_mode = _PNG16_LOW.get(img.tile[0].args) if img.format == "PNG" and len(img.tile) == 1 else None
        img.load()
        low = None
        if low_mode is not None:
            low = Image.open(p)
            low.tile = [low.tile[0]._replace(args=low_mode)]
            low.load()
    return img, low


def _composite(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 4) float RGBA -> RGB composited on white, and the alpha."""
    alpha = rgba[..., 3]
    return rgba[..., :3] * alpha[..., None] + (1.0 - alpha[..., None]), alpha


def _to_array(img: Image.Image, low: Image.Image | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image -> (H, W, 3) float32 RGB in [0, 1] and (H, W) alpha or None.

    `low` is the low-byte decoding of a 16-bit colour PNG (see `_open`).
    """
    img = ImageOps.exif_transpose(img)
    if low is not None:
        low = ImageOps.exif_transpose(low)
        a = (np.asarray(img, np.uint16) << 8 | np.asarray(low, np.uint16)).astype(np.float32) / 65535.0
        return _composite(a) if a.shape[2] == 4 else (a, None)
    if img.mode.startswith("I"):  # 16-bit greyscale: I;16, I;16B, ... (and 32-bit I holding 16-bit values)
        a = np.asarray(img, dtype=np.float32) / 65535.0
        return np.repeat(a[..., None], 3, axis=2).clip(0, 1), None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        return _composite(np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0, None


def array_to_tensor(a: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (H, W) array, uint8/uint16/float -> (1, 3, H, W) float tensor in [0, 1]."""
    a = np.asarray(a)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) / 65535.0
    else:
        a = a.astype(np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise InputError(f"an image array must be HxW, HxWx3 or HxWx4, not {a.shape}")
    return torch.from_numpy(np.ascontiguousarray(a[..., :3])).permute(2, 0, 1)[None].clamp(0, 1)


def load_image_alpha(src: ImageSource) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Load an image as (1, 3, H, W) RGB in [0, 1] and its (1, 1, H, W) alpha (or None)."""
    if isinstance(src, torch.Tensor):
        t = src.detach().float()
        if t.ndim == 3:
            t = t[None]
        if t.ndim != 4 or t.shape[1] != 3:
            raise InputError(f"an image tensor must be (1, 3, H, W), not {tuple(src.shape)}")
        return t.clamp(0, 1), None
    if isinstance(src, np.ndarray):
        return array_to_tensor(src), None
    img, low = (src, None) if isinstance(src, Image.Image) else _open(src)
    rgb, alpha = _to_array(img, low)
    if min(rgb.shape[:2]) < 1:
        raise InputError(f"{src}: image has no pixels")
    t = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None]
    a = None if alpha is None else torch.from_numpy(alpha)[None, None]
    return t, a


def load_image(src: ImageSource, size: int | tuple[int, int] | None = None) -> torch.Tensor:
    """Load an image as (1, 3, H, W) RGB in [0, 1], optionally resized (see `fit`)."""
    t, _ = load_image_alpha(src)
    return t if size is None else resize(t, fit(t.shape[-2:], size))


def load_mask(src: ImageSource) -> torch.Tensor:
    """A guidance mask as (1, 1, H, W) in [0, 1]: an image (its luminance) or a 1-channel tensor."""
    if isinstance(src, torch.Tensor) and (src.ndim == 2 or (src.ndim == 4 and src.shape[1] == 1)):
        return src.detach().float().reshape(1, 1, *src.shape[-2:]).clamp(0, 1)
    return luminance(load_image(src)).clamp(0, 1)


@dataclass(frozen=True)
class UpTo:
    """An output size: the input's own, shrunk to a long side of `side` px when it is larger
    (a smaller input is never enlarged)."""

    side: int

    def __str__(self) -> str:
        return f"the input's size, at most {self.side} px on the long side"


Size = int | tuple[int, int] | UpTo


def parse_size(text: str | Size | None) -> Size | None:
    """'512' -> 512 (long side); '640x480' -> (480, 640) as (H, W); an `UpTo` as it is.
    Validates the range."""
    if text is None:
        return None
    if isinstance(text, UpTo):
        value: int | tuple[int, int] = text.side
    elif isinstance(text, tuple):
        h, w = text
        value = (int(h), int(w))
    elif isinstance(text, int):
        value = text
    else:
        s = str(text).lower().strip()
        try:
            if "x" in s:
                w, h = s.split("x")
                value = (int(h), int(w))
            else:
                value = int(s)
        except ValueError:
            raise InputError(f"size {text!r} is not a number of pixels or WIDTHxHEIGHT") from None
    sides = value if isinstance(value, tuple) else (value,)
    for side in sides:
        if side < 16:
            raise InputError(f"size {text!r} is too small: a side must be at least 16 px")
        if side > MAX_SIDE:
            raise InputError(f"size {text!r} is too large: a side may be at most {MAX_SIDE} px")
    return text if isinstance(text, UpTo) else value


def fit(shape: tuple[int, int] | torch.Size, size: Size) -> tuple[int, int]:
    """Target (H, W): an int scales the long side to it keeping the aspect; a tuple is exact;
    an `UpTo` keeps `shape` unless its long side is larger."""
    if isinstance(size, tuple):
        return int(size[0]), int(size[1])
    h, w = int(shape[0]), int(shape[1])
    if isinstance(size, UpTo):
        size = min(size.side, max(h, w))
    scale = size / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (N, C, H, W) to (H', W'): antialiased when shrinking, bicubic otherwise."""
    if tuple(img.shape[-2:]) == tuple(size):
        return img
    shrinking = size[0] < img.shape[-2] or size[1] < img.shape[-1]
    out = F.interpolate(img, size=size, mode="bicubic", align_corners=False, antialias=shrinking)
    return out.clamp(0, 1)


# --- tiling ---------------------------------------------------------------------------------

def tile_spans(length: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """(start, end) of the tiles along one side: each `tile` long (or the whole side when it is
    shorter), evenly spread so that neighbours overlap by about `overlap` pixels or more.

    Starts are multiples of `align` (the last one too when `length` and `tile` are): a network
    that downsamples by 4 paints a texture whose phase follows the 4-pixel grid, so tiles cut off
    that grid would not match each other.
    """
    if length <= tile:
        return [(0, length)]
    if not 0 <= overlap <= tile // 2:
        raise ValueError(f"overlap {overlap} must be between 0 and half the tile ({tile})")
    n = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (n - 1)
    starts = [min(length - tile, round(i * step / align) * align) for i in range(n - 1)] + [length - tile]
    return [(a, a + tile) for a in starts]


def _feather(spans: list[tuple[int, int]]) -> list[torch.Tensor]:
    """Per tile, 1-D blending weights; where only two tiles overlap they sum to 1.

    Near an edge shared with a neighbour a tile is least trustworthy (the network saw padding
    there), so across each overlap its weight is 0 for the first quarter, ramps linearly to 1
    over the middle half and is 1 beyond; the neighbour's weight mirrors it. Image borders keep
    weight 1.
    """
    def ramp(n: int) -> torch.Tensor:
        margin = n // 4
        return ((torch.arange(n) + 0.5 - margin) / max(1, n - 2 * margin)).clamp(0, 1)

    out = []
    for k, (a, b) in enumerate(spans):
        w = torch.ones(b - a)
        if k > 0 and spans[k - 1][1] > a:
            n = spans[k - 1][1] - a
            w[:n] *= ramp(n)
        if k + 1 < len(spans) and spans[k + 1][0] < b:
            n = b - spans[k + 1][0]
            w[b - a - n:] *= 1 - ramp(n)
        out.append(w)
    return out


def tiled(img: torch.Tensor, paint, tile: int, overlap: int, progress=None, align: int = 1) -> torch.Tensor:
    """Apply `paint` ((1, C, h, w) -> same shape) to overlapping tiles of `img` and blend them.

    Tiles are `tile` px square (smaller only where the image is), spread evenly with at least
    `overlap` px shared between neighbours. Across each overlap the two results are mixed with a
    linear ramp (feathering) that ignores the quarter of the overlap nearest each tile's edge:
    no hard seam, and what a network paints near a tile's border (where it saw padding) is not
    used. Memory is one tile's worth of work plus the output. An image that fits in one tile is
    painted in one call. `progress(done, total)` is called after each tile. Tile starts are
    multiples of `align` (see `tile_spans`).
    """
    h, w = img.shape[-2:]
    rows, cols = tile_spans(h, tile, overlap, align), tile_spans(w, tile, overlap, align)
    total = len(rows) * len(cols)
    if total == 1:
        out = paint(img)
        if progress:
            progress(1, 1)
        return out
    wy, wx = _feather(rows), _feather(cols)
    out = weight = None
    done = 0
    for (y0, y1), fy in zip(rows, wy):
        for (x0, x1), fx in zip(cols, wx):
            piece = paint(img[..., y0:y1, x0:x1])
            if tuple(piece.shape[-2:]) != (y1 - y0, x1 - x0):
                raise ValueError(f"paint returned a {tuple(piece.shape[-2:])} tile for a {(y1 - y0, x1 - x0)} one")
            if out is None:
                out = torch.zeros(*piece.shape[:-2], h, w, dtype=torch.float32, device=img.device)
                weight = torch.zeros(h, w, dtype=torch.float32, device=img.device)
            f = (fy[:, None] * fx[None, :]).to(img.device)
            out[..., y0:y1, x0:x1] += piece.to(out.device, torch.float32) * f
            weight[y0:y1, x0:x1] += f
            done += 1
            if progress:
                progress(done, total)
    return out.div_(weight.clamp_min_(1e-12))


def to_pil(img: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
    """(1, 3, H, W) in [0, 1] -> 8-bit PIL image (RGBA when an alpha is given).

    `img` is taken as the picture composited on white (as loaded), so with an alpha the colour
    is un-composited: shown on white again, the file looks like `img`.
    """
    a = img.detach().float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()
    if alpha is None:
        return Image.fromarray((a * 255.0 + 0.5).astype(np.uint8), "RGB")
    al = resize(alpha.float(), tuple(img.shape[-2:]))[0, 0].clamp(0, 1).cpu().numpy()[..., None]
    straight = np.where(al > 0, (a - (1.0 - al)) / np.maximum(al, 1e-6), a).clip(0, 1)
    return Image.fromarray((np.dstack([straight, al]) * 255.0 + 0.5).astype(np.uint8), "RGBA")


def check_output_path(path: str | os.PathLike) -> Path:
    """Refuse an output path we could not write, before any long work starts."""
    p = Path(path)
    if p.suffix.lower() not in SAVE_FORMATS:
        raise InputError(f"{p}: unknown output format; use one of {', '.join(sorted(SAVE_FORMATS))}")
    return check_writable_file(p)


def check_writable_file(path: str | os.PathLike) -> Path:
    """Refuse a file path that is a folder, or whose folder is missing or read-only."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give a file name")
    if not p.parent.is_dir():
        raise InputError(f"{p.parent}: output folder does not exist")
    if not os.access(p.parent, os.W_OK):
        raise InputError(f"{p.parent}: output folder is not writable")
    return p


def save_image(img: torch.Tensor, path: str | os.PathLike, alpha: torch.Tensor | None = None,
               bits: int = 8, text: dict[str, str] | None = None) -> Path:
    """Save atomically (temp file + rename). `bits=16` writes a 16-bit PNG; `text` is stored as
    PNG text chunks (8-bit PNG only)."""
    p = check_output_path(path)
    fmt = SAVE_FORMATS[p.suffix.lower()]
    if bits not in (8, 16):
        raise InputError(f"bits must be 8 or 16, not {bits}")
    if bits == 16 and (fmt != "PNG" or alpha is not None):
        raise InputError("16-bit output needs a .png file without alpha")
    if text and (fmt != "PNG" or bits != 8):
        raise InputError(f"{p}: text metadata needs an 8-bit .png file")
    pil = None if bits == 16 else to_pil(img, None if fmt == "JPEG" else alpha)  # JPEG: keep the composite
    # The temp file sits beside the target, so the rename is atomic; open() applies the umask.
    with atomic_path(p) as tmp, open(tmp, "xb") as f:
        if pil is None:
            f.write(_png16(img.detach().float().clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()))
        else:
            extra: dict = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
            if text:
                from PIL.PngImagePlugin import PngInfo
                extra["pnginfo"] = info = PngInfo()
                for k, v in text.items():
                    info.add_itxt(k, v)
            pil.save(f, fmt, **extra)
    return p


def _png16(a: np.ndarray) -> bytes:
    """(H, W, 3) float RGB in [0, 1] -> a 16-bit RGB PNG file (Pillow writes 16-bit greyscale only)."""
    h, w = a.shape[:2]
    rows = (a * 65535.0 + 0.5).astype(">u2").reshape(h, w * 3).view(np.uint8)  # big-endian bytes
    filtered = rows.copy()
    filtered[:, 6:] -= rows[:, :-6]  # PNG filter 1 (Sub, 6 bytes a pixel): smaller files

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    scanlines = np.hstack([np.ones((h, 1), np.uint8), filtered]).tobytes()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(scanlines, 6)) + chunk(b"IEND", b""))


# --- colour ---------------------------------------------------------------------------------

_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(img: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _RGB2YIQ.to(img), img)


def yiq_to_rgb(img: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB2YIQ).to(img), img)


def luminance(img: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H, W) luma Y."""
    return rgb_to_yiq(img)[:, :1]


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Style luminance, shifted and scaled to the content's mean and deviation, as a grey RGB image."""
    ys, yc = luminance(style), luminance(content)
    y = (ys - ys.mean()) / ys.std().clamp_min(1e-6) * yc.std() + yc.mean()
    return y.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def combine_luminance(luma_rgb: torch.Tensor, chroma_from: torch.Tensor) -> torch.Tensor:
    """Y of `luma_rgb` with the I/Q chroma of `chroma_from` (resized to match)."""
    chroma = rgb_to_yiq(resize(chroma_from, tuple(luma_rgb.shape[-2:])))
    y = luminance(luma_rgb)
    return yiq_to_rgb(torch.cat([y, chroma[:, 1:]], 1)).clamp(0, 1)


def _sym_sqrt(cov: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-8)
    d = vals.rsqrt() if inverse else vals.sqrt()
    return vecs @ torch.diag(d) @ vecs.T


def match_histogram(source: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Linear colour transfer: give `source` the colour mean and covariance of `reference`.

    The symmetric matrix-square-root solution of Gatys et al. 2017 ("colour histogram matching").
    """
    s = source.double()[0].reshape(3, -1)
    r = reference.double()[0].reshape(3, -1)
    ms, mr = s.mean(1, keepdim=True), r.mean(1, keepdim=True)
    eye = torch.eye(3, dtype=torch.float64) * 1e-5
    cs = torch.cov(s) + eye
    cr = torch.cov(r) + eye
    a = _sym_sqrt(cr) @ _sym_sqrt(cs, inverse=True)
    out = a @ (s - ms) + mr
    return out.reshape_as(source[0])[None].to(source.dtype).clamp(0, 1)
