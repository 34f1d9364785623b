"""Losses with one calling convention: `loss(image, feats) -> scalar tensor`.

`image` is the RGB image being produced (N, 3, H, W) in [0, 1]; `feats` maps tap names to
its activations. Each loss lists the taps it reads in `.taps`, holds its targets as buffers
(computed once from the target images) and its weight. Feature maps may arrive in bf16/fp16;
every reduction is done in fp32. The statistics (Gram, mean/std, ...) live in
`features.stats`; `gram` is importable from here too.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .features.stats import gram
from .image import luminance
from .qrcode import SAMPLE_SIGMA, sample_modules


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bring a (N, 1, H, W) guidance mask to another size: area-averaged when shrinking, each
    pixel repeated (nearest) when enlarging."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.adaptive_avg_pool2d(mask.float(), size)


class ContentLoss(nn.Module):
    """Mean squared difference of activations at one tap."""

    def __init__(self, tap: str, target: torch.Tensor, weight: float = 1.0):
        super().__init__()
        self.taps = (tap,)
        self.tap = tap
        self.weight = weight
        self.register_buffer("target", target.detach().float())

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.weight * F.mse_loss(feats[self.tap].float(), self.target)


class GramLoss(nn.Module):
    """Mean squared difference of Gram matrices at one tap (Gatys et al. 2015/2016).

    `mask` restricts the produced image's statistics to a region (guided Gram, Gatys et al.
    2017): the target Gram comes from the style image and is matched only inside the mask.
    """

    def __init__(self, tap: str, target_gram: torch.Tensor, weight: float = 1.0,
                 mask: torch.Tensor | None = None):
        super().__init__()
        self.taps = (tap,)
        self.tap = tap
        self.weight = weight
        self.register_buffer("target", target_gram.detach().float())
        self.register_buffer("mask", None if mask is None else mask.detach().float())

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        f = feats[self.tap]
        m = None if self.mask is None else resize_mask(self.mask, f.shape[-2:])
        return self.weight * F.mse_loss(gram(f, m), self.target.expand(f.shape[0], -1, -1))


class TVLoss(nn.Module):
    """Total variation: mean of squared (β=2) or absolute (β=1) neighbour differences × 255²."""

    taps: tuple[str, ...] = ()

    def __init__(self, weight: float = 1.0, beta: float = 2.0):
        super().__init__()
        self.weight = weight
        self.beta = beta

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        x = image * 255.0
        dx = (x[..., :, 1:] - x[..., :, :-1]).abs().pow(self.beta).mean()
        dy = (x[..., 1:, :] - x[..., :-1, :]).abs().pow(self.beta).mean()
        return self.weight * (dx + dy)


class RangeLoss(nn.Module):
    """α-norm penalty pulling pixels into [0, 1] (Mahendran & Vedaldi's bounded-range prior)."""

    taps: tuple[str, ...] = ()

    def __init__(self, weight: float = 1.0, alpha: float = 6.0):
        super().__init__()
        self.weight = weight
        self.alpha = alpha

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        centred = (image - 0.5) * 2.0  # [0, 1] -> [-1, 1]
        return self.weight * centred.abs().pow(self.alpha).mean()


def _patches(feat: torch.Tensor, size: int, stride: int = 1) -> torch.Tensor:
    """(1, C, H, W) -> (L, C·size²) patches, row-major over positions."""
    p = F.unfold(feat.float(), size, stride=stride)  # (1, C*s*s, L)
    return p[0].transpose(0, 1)


class MRFLoss(nn.Module):
    """Patch-based style loss (Li & Wand 2016).

    Every `patch_size`² patch of the produced image's activations is matched to the style patch
    with the highest normalised cross-correlation; the loss is the mean squared distance to the
    matches. The style bank holds the patches at every `stride`-th position, stored once
    (normalised, with their norms). Matching is a convolution with the normalised patches as
    filters, in fp32 (bf16 scores tie and flip under tiny changes, which stalls L-BFGS's line
    search), in chunks whose score maps stay under `chunk_bytes`. `mask` (N, 1, H, W) confines
    the loss to a region: each patch counts by the mask's value at its centre.
    """

    def __init__(self, tap: str, style_feat: torch.Tensor, weight: float = 1.0,
                 patch_size: int = 3, stride: int = 1, chunk_bytes: int = 64 * 2**20,
                 mask: torch.Tensor | None = None):
        super().__init__()
        self.register_buffer("mask", None if mask is None else mask.detach().float())
        self.taps = (tap,)
        self.tap = tap
        self.weight = weight
        self.patch_size = patch_size
        self.chunk_bytes = chunk_bytes
        patches = _patches(style_feat.detach(), patch_size, stride)
        norms = patches.norm(dim=1).clamp_min(1e-8)
        c = style_feat.shape[1]
        self.register_buffer("norms", norms)
        self.register_buffer("filters", (patches / norms[:, None]).reshape(-1, c, patch_size, patch_size))

    def bank(self, idx: torch.Tensor) -> torch.Tensor:
        """Style patches `idx` as (len(idx), C·patch_size²) rows."""
        return self.filters[idx].flatten(1) * self.norms[idx, None]

    @torch.no_grad()
    def match(self, feat: torch.Tensor) -> torch.Tensor:
        """Index of the best style patch for every patch position of `feat` (1, C, H, W), row-major."""
        f = feat.float()
        h, w = (s - self.patch_size + 1 for s in f.shape[-2:])
        k = self.filters.shape[0]
        chunk = max(1, min(k, self.chunk_bytes // (4 * h * w)))
        best_val = torch.full((h, w), -torch.inf, device=f.device)
        best_idx = torch.zeros((h, w), dtype=torch.long, device=f.device)
        for start in range(0, k, chunk):
            val, idx = F.conv2d(f, self.filters[start:start + chunk])[0].max(0)
            better = val > best_val
            best_val = torch.where(better, val, best_val)
            best_idx = torch.where(better, idx + start, best_idx)
        return best_idx.flatten()

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        f = feats[self.tap]
        target = self.bank(self.match(f.detach()))
        if self.mask is None:
            return self.weight * F.mse_loss(_patches(f, self.patch_size), target)
        r = self.patch_size // 2
        m = resize_mask(self.mask, f.shape[-2:])[0, 0, r:f.shape[-2] - r, r:f.shape[-1] - r].flatten()
        per_patch = (_patches(f, self.patch_size) - target).pow(2).mean(1)
        return self.weight * (per_patch * m).sum() / m.sum().clamp_min(1e-8)


class TemporalLoss(nn.Module):
    """Agreement with the previous frame (Ruder et al. 2016): the mask-weighted mean squared
    difference to the previous output warped onto this frame, in 0-255 pixel units.

    `target` (1, 3, H, W) is the warped previous output and `mask` (1, 1, H, W) in [0, 1] the
    weights c (1 where the warp is reliable, 0 at disocclusions and motion boundaries). Both
    are resized to the image, so the loss works at every scale of a coarse-to-fine schedule.
    """

    taps: tuple[str, ...] = ()

    def __init__(self, target: torch.Tensor, mask: torch.Tensor | None = None, weight: float = 1.0):
        super().__init__()
        self.weight = weight
        self.register_buffer("target", target.detach().float())
        self.register_buffer("mask", None if mask is None else mask.detach().float())

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        size = tuple(image.shape[-2:])
        target = self.target if tuple(self.target.shape[-2:]) == size else F.interpolate(
            self.target, size=size, mode="bilinear", align_corners=False, antialias=True)
        d = (image.float() - target).mul(255.0).pow(2)
        if self.mask is not None:
            d = d * resize_mask(self.mask, size)
        return self.weight * d.mean()


class ModuleCodeLoss(nn.Module):
    """The code loss of a stylized QR code (the module error of Su et al.'s ArtCoder, 2021).

    Each module is judged where a reader samples it: the Gaussian-weighted mean luminance at its
    centre (`qrcode.sample_modules`; `sigma=None`: the mean over the whole module, as a reader
    that averages modules sees it). Only the modules read wrong take part (the competition
    mechanism: the style is free wherever the code already reads right): a dark module whose
    sample is above `dark_below`, a light one whose sample is below `light_above`. Each is pulled
    to `dark_target` / `light_target`, past its threshold, so a small change does not undo it.
    `dark` (side, side) says which modules are dark, quiet zone included; `judged` which modules
    the loss looks at (fixed patterns are drawn exactly by the canvas and left out). The loss is
    `weight` × the sum of squared errors of the wrong modules / the number of judged modules.
    """

    taps: tuple[str, ...] = ()

    def __init__(self, dark: torch.Tensor, judged: torch.Tensor, weight: float = 1.0,
                 sigma: float | None = SAMPLE_SIGMA, dark_below: float = 80 / 255, light_above: float = 180 / 255,
                 dark_target: float = 50 / 255, light_target: float = 200 / 255):
        super().__init__()
        self.weight, self.sigma = weight, sigma
        self.dark_below, self.light_above = dark_below, light_above
        self.register_buffer("dark", dark.bool())
        self.register_buffer("judged", judged.bool())
        self.register_buffer("target", torch.where(dark.bool(), dark_target, light_target).float())

    def samples(self, image: torch.Tensor) -> torch.Tensor:
        """(N, side, side): the luminance a reader sees at each module's centre."""
        return sample_modules(luminance(image), self.dark.shape[-1], self.sigma)

    def wrong(self, samples: torch.Tensor) -> torch.Tensor:
        """The judged modules read wrong (N, side, side), bool."""
        bad = torch.where(self.dark, samples >= self.dark_below, samples <= self.light_above)
        return bad & self.judged

    def forward(self, image: torch.Tensor, feats: dict[str, torch.Tensor]) -> torch.Tensor:
        s = self.samples(image)
        active = self.wrong(s.detach()).float()
        return self.weight * ((s - self.target) ** 2 * active).sum() / self.judged.sum().clamp_min(1)
