"""Garments in a photo: their masks (given, or found without any model), their shading, and the
composite that paints inside a garment and leaves every other pixel exactly as it was.

A garment is modelled as albedo × shading. `shading` is the photo's luminance over its smoothed
mean inside the garment: the folds, creases and the fabric's own texture, about 1 on average.
`flatten` divides it out (the garment's albedo, what a painter repaints); `drape` multiplies it
back onto the painted pattern, so the folds stay visible on the new fabric.

Automatic masks (`find_garment`) are for product shots: OpenCV's GrabCut, seeded with the image
border as background and everything inside it as probable foreground, keeps the largest region
and is refined edge-aware by a guided filter with the photo as guide.

Masks are (1, 1, H, W) in [0, 1] at the photo's size; "outside" is where the mask is 0.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError
from .guided import box_mean, guided_filter
from .image import ImageSource, fit, load_mask, luminance, resize

MIN_COVER = 0.001      # a mask whose white part is under 0.1 % of the photo is empty
MAX_COVER = 0.995      # one over 99.5 % leaves nothing of the photo: it is not a garment in it
ASPECT_TOLERANCE = 0.01
GRABCUT_SIDE = 512     # GrabCut runs at this long side (its cost grows with the pixels)
GRABCUT_MARGIN = 0.02  # the border band (of each side) taken as background
GRABCUT_ITERATIONS = 5
FILLS_RECT = 0.97      # GrabCut keeping this much of the seed rectangle separated nothing
SHADING_RANGE = (0.2, 1.6)   # ratios are clamped: a black garment's noise is not amplified without end


def check_cover(mask: torch.Tensor, what: str = "the mask") -> torch.Tensor:
    """Refuse a mask that is empty or covers (nearly) the whole photo; returns it."""
    white = float((mask >= 0.5).float().mean())
    if white < MIN_COVER:
        raise InputError(f"{what} is empty (nothing white in it): there is no garment to paint")
    if white > MAX_COVER:
        raise InputError(f"{what} covers the whole photo, so nothing of the photo would stay; a garment mask "
                         "is white on the garment and black around it (to paint everything use 'brushwork stylize')")
    return mask


def load_garment_mask(src: ImageSource, shape: tuple[int, int], what: str = "the mask") -> torch.Tensor:
    """A garment mask for a photo of `shape` (H, W): the same size, or resized from one of the
    same aspect ratio; another shape, an empty mask or a full one is refused."""
    mask = load_mask(src)
    h, w = shape
    mh, mw = mask.shape[-2:]
    if (mh, mw) != (h, w):
        if abs(mw / mh - w / h) > ASPECT_TOLERANCE * (w / h):
            raise InputError(f"{what} is {mw}x{mh} but the photo is {w}x{h}: a mask needs the photo's size "
                             "or at least its aspect ratio")
        mask = F.interpolate(mask, size=(h, w), mode="bilinear", align_corners=False,
                             antialias=mh > h).clamp(0, 1)
    return check_cover(mask, what)


def _largest_region(fg: np.ndarray) -> np.ndarray:
    import cv2
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg.astype(np.uint8), connectivity=8)
    if n <= 1:
        return fg
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == biggest


def find_garment(photo: torch.Tensor, margin: float = GRABCUT_MARGIN,
                 iterations: int = GRABCUT_ITERATIONS) -> torch.Tensor:
    """The garment of a product shot as a soft (1, 1, H, W) mask at the photo's size.

    GrabCut at GRABCUT_SIDE px: the band `margin` of each side wide is background, the rest
    probable foreground; the largest connected region is kept, then its edge is snapped to the
    photo's by a guided filter. A result that is empty or fills the whole seed rectangle (the
    border looked like the garment) is refused with a pointer to `--mask`.
    """
    import cv2
    h, w = photo.shape[-2:]
    if min(h, w) < 32:
        raise InputError(f"a {w}x{h} photo is too small to find a garment in (at least 32 px a side); give a mask")
    small = resize(photo, fit((h, w), GRABCUT_SIDE)) if max(h, w) > GRABCUT_SIDE else photo
    rgb = (small[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    sh, sw = rgb.shape[:2]
    mx, my = max(1, round(margin * sw)), max(1, round(margin * sh))
    rect = (mx, my, sw - 2 * mx, sh - 2 * my)
    labels = np.zeros((sh, sw), np.uint8)
    cv2.setRNGSeed(0)
    cv2.grabCut(np.ascontiguousarray(rgb[:, :, ::-1]), labels, rect, np.zeros((1, 65)), np.zeros((1, 65)),
                iterations, cv2.GC_INIT_WITH_RECT)
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    fg = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    found = fg.sum() / (sh * sw)
    if found < MIN_COVER:
        raise InputError("found no garment: GrabCut separated nothing from the photo's border (it needs a "
                         "plainer background around the garment); give a mask with --mask")
    if fg.sum() >= FILLS_RECT * rect[2] * rect[3]:
        raise InputError("found no garment: the whole photo looks like one region to GrabCut (the border is "
                         "not background); give a mask with --mask")
    fg = _largest_region(fg)
    hard = torch.from_numpy(fg.astype(np.float32))[None, None]
    radius = max(2, round(max(sh, sw) / 128))
    soft = guided_filter(small, hard, radius, 1e-3).clamp(0, 1)
    soft = torch.where(soft < 0.02, torch.zeros_like(soft), soft)   # no faint halo far outside
    if (sh, sw) != (h, w):
        soft = F.interpolate(soft, size=(h, w), mode="bilinear", align_corners=False).clamp(0, 1)
    return check_cover(soft, "the mask found")


def _smooth(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Three box means: close to a Gaussian of sigma ~ radius."""
    for _ in range(3):
        x = box_mean(x, max(1, radius))
    return x


def shading_radius(mask: torch.Tensor) -> int:
    """The smoothing radius of `shading`: a tenth of the garment's side (sqrt of its area), so
    folds (narrower) stay in the ratio and the lighting across the garment (wider) does not."""
    return max(2, round(0.1 * float((mask >= 0.5).float().sum()) ** 0.5))


def shading(photo: torch.Tensor, mask: torch.Tensor, radius: int | None = None) -> torch.Tensor:
    """The garment's shading, (1, 1, H, W): its luminance over the mean luminance of the garment
    around each pixel (smoothed inside the mask only, so the background does not darken the edge),
    clamped to SHADING_RANGE; 1 outside the mask."""
    r = shading_radius(mask) if radius is None else radius
    m = (mask >= 0.5).float()
    y = luminance(photo).clamp_min(0)
    mean = _smooth(y * m, r) / _smooth(m, r).clamp_min(1e-6)
    ratio = (y / mean.clamp_min(1e-3)).clamp(*SHADING_RANGE)
    return torch.where(m > 0, ratio, torch.ones_like(ratio))


def flatten(photo: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """The photo with the garment's shading divided out (its albedo, as far as luminance tells)."""
    return (photo / ratio).clamp(0, 1)


def drape(pattern: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """A painted pattern with the garment's shading multiplied back in."""
    return (pattern * resize_field(ratio, pattern.shape[-2:])).clamp(0, 1)


def resize_field(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A mask or a shading field at another size (bilinear; not clamped to [0, 1])."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False, antialias=x.shape[-2] > size[0])


def feathered(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Blending weights that fade in over `radius` px inside the mask's edge and are exactly 0
    wherever the mask is 0. The ramp starts at about half strength on the edge's first pixel
    inside: starting from 0 there would leave a rim of the old fabric's colour around the garment."""
    if radius < 1:
        return mask
    inner = (2 * _smooth(mask, radius) - 0.5).clamp(0, 1)
    return torch.minimum(mask, inner) * (mask > 0)


def composite(photo: torch.Tensor, painted: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """`painted` where the weights are 1, the photo where they are 0 (bit for bit), blended between."""
    blend = photo + weights * (painted - photo)
    return torch.where(weights > 0, blend.clamp(0, 1), photo)
