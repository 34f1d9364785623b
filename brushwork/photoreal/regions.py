"""Regions of the content photo and the style photo that should share colours.

Given as segmentation label maps (colour PNGs as in the Deep Photo benchmark: one flat colour a
label; the few anti-aliased pixels along a border join the nearest label), or found
automatically: k-means on both photos' deep features (VGG-19 relu4_1) at once, so that the sky
of a day photo pairs with the sky of a dusk photo and its rock with the other's rock.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..features import vgg19
from ..image import ImageSource, load_image

# A colour is a label when it covers at least this share of the map (anti-aliased border
# pixels each cover far less, and are assigned to the nearest label).
LABEL_MIN_SHARE = 0.002
# A region pair transfers on its own only when each side has enough pixels (at the work size)
# for stable statistics and their shares of their photos differ by at most this factor;
# otherwise the content region takes the whole style photo's colours (as in Li et al. 2018).
MIN_REGION_PIXELS = 256
MAX_SHARE_RATIO = 20.0
# The features the automatic regions cluster (BENCHMARKS.md, "Photorealistic stylization":
# relu4_1 split sky from rock where relu3_1, luminance rank and position did not).
AUTO_TAP = "relu4_1"
PCA_DIRECTIONS = 8


@dataclass(frozen=True)
class Regions:
    """Integer label maps (H, W) of both photos; content label k pairs with style label k.

    `names` describes each label for messages ('#ff0000' or 'cluster 2').
    """

    content: torch.Tensor
    style: torch.Tensor
    names: tuple[str, ...]


def _label_colours(seg: torch.Tensor, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(H, W, 3) uint8 map -> (labels (H, W) into colours, colours (K, 3))."""
    flat = seg.reshape(-1, 3).long()
    code = flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2]
    uniq, inverse, counts = torch.unique(code, return_inverse=True, return_counts=True)
    keep = counts >= max(1, LABEL_MIN_SHARE * len(code))
    if not keep.any():
        raise InputError(f"{what}: no colour covers {LABEL_MIN_SHARE:.1%} of the map; "
                         "a segmentation map is a few flat colours, one a region")
    def rgb(c: torch.Tensor) -> torch.Tensor:
        return torch.stack([c // 65536, c // 256 % 256, c % 256], -1).float()
    labels = uniq[keep]
    nearest = torch.cdist(rgb(uniq), rgb(labels)).argmin(1)
    return nearest[inverse].reshape(seg.shape[:2]), rgb(labels).long()


def load_segmentation(src: ImageSource, shape: tuple[int, int], what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A colour label map of a photo of `shape` (H, W): (labels (H, W), colours (K, 3) uint8 values)."""
    seg = load_image(src)
    if tuple(seg.shape[-2:]) != tuple(shape):
        raise InputError(f"{what} is {seg.shape[-1]}x{seg.shape[-2]} but its photo is {shape[1]}x{shape[0]}; "
                         "a segmentation map must have its photo's size")
    return _label_colours((seg[0].permute(1, 2, 0) * 255).round().to(torch.uint8), what)


def _hex(c: torch.Tensor) -> str:
    return "#" + "".join(f"{int(v):02x}" for v in c)


def pair_segmentations(content: tuple[torch.Tensor, torch.Tensor], style: tuple[torch.Tensor, torch.Tensor],
                       what: str) -> Regions:
    """Pair the content's labels with the style's of the same colour.

    Every content label must appear in the style's map (it would have nowhere to take its
    colours from); style labels the content lacks are simply unused.
    """
    (lc, cc), (ls, cs) = content, style
    style_index = {tuple(c.tolist()): k for k, c in enumerate(cs)}
    s_map = torch.full((len(cs),), -1, dtype=torch.long)
    for k, c in enumerate(cc):
        j = style_index.get(tuple(c.tolist()))
        if j is None:
            share = float((lc == k).float().mean())
            raise InputError(f"{what}: the content's label {_hex(c)} ({share:.0%} of the photo) does not appear "
                             "in the style's segmentation; give both maps the same colours")
        s_map[j] = k
    return Regions(lc, s_map[ls], tuple(_hex(c) for c in cc))


def _positions(feat: torch.Tensor) -> torch.Tensor:
    """(H*W, C) rows of a (C, H, W) feature map."""
    return feat.reshape(feat.shape[0], -1).T


def _kmeans(x: torch.Tensor, k: int, gen: torch.Generator, iterations: int = 25) -> torch.Tensor:
    """k-means++ seeded centres of rows of x, refined by Lloyd's iterations."""
    centres = x[torch.randint(len(x), (1,), generator=gen)]
    for _ in range(1, k):
        d = torch.cdist(x, centres).min(1).values ** 2
        centres = torch.cat([centres, x[torch.multinomial(d + 1e-12, 1, generator=gen)]])  # all alike: any
    for _ in range(iterations):
        assign = torch.cdist(x, centres).argmin(1)
        for j in range(k):
            members = x[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


def auto_regions(content: torch.Tensor, style: torch.Tensor, k: int = 3, samples: int = 4096,
                 seed: int = 0) -> Regions | None:
    """Cluster both photos' VGG-19 relu4_1 features together into `k` paired regions (sky with
    sky, rock with rock: deep features tell them apart where luminance and position do not).

    `content`, `style`: (1, 3, H, W) at the work size. The features are standardised over both
    photos and reduced to their `PCA_DIRECTIONS` principal directions before k-means; the labels are brought
    back to each photo's size. None when the photos are too small for `k` clusters.
    """
    net = vgg19((AUTO_TAP,), device="cpu")
    with torch.no_grad():
        fc, fs = net(content.float())[AUTO_TAP][0], net(style.float())[AUTO_TAP][0]
    xc, xs = _positions(fc), _positions(fs)
    if min(len(xc), len(xs)) < 4 * k:
        return None
    both = torch.cat([xc, xs])
    mean, std = both.mean(0), both.std(0) + 1e-6
    xc, xs = (xc - mean) / std, (xs - mean) / std
    z = torch.cat([xc, xs]).double()
    _, vecs = torch.linalg.eigh(z.T @ z)                           # exact and deterministic
    v = vecs[:, -PCA_DIRECTIONS:].to(xc.dtype)
    zc, zs = xc @ v, xs @ v
    gen = torch.Generator().manual_seed(seed)
    pick = lambda z: z[torch.randperm(len(z), generator=gen)[:samples]]  # noqa: E731
    centres = _kmeans(torch.cat([pick(zc), pick(zs)]), k, gen)
    lc = torch.cdist(zc, centres).argmin(1).reshape(fc.shape[-2:])
    ls = torch.cdist(zs, centres).argmin(1).reshape(fs.shape[-2:])
    return Regions(resize_labels(lc, tuple(content.shape[-2:])), resize_labels(ls, tuple(style.shape[-2:])),
                   tuple(f"cluster {j}" for j in range(k)))


def usable(regions: Regions) -> list[bool]:
    """Per label: whether its pair is large and even enough to transfer on its own."""
    nc, ns = regions.content.numel(), regions.style.numel()
    out = []
    for k in range(len(regions.names)):
        a, b = int((regions.content == k).sum()), int((regions.style == k).sum())
        ratio = (a / nc) / (b / ns) if a and b else float("inf")
        out.append(min(a, b) >= MIN_REGION_PIXELS and 1 / MAX_SHARE_RATIO <= ratio <= MAX_SHARE_RATIO)
    return out


def resize_labels(labels: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of an (H, W) label map."""
    if tuple(labels.shape) == tuple(shape):
        return labels
    return F.interpolate(labels[None, None].float(), size=shape, mode="nearest")[0, 0].long()
