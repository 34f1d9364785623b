"""Edge-aware filtering with a photo as guide: the guided filter and local-affine upsampling.

Both fit, in every window, the least-squares affine map from the guide's colours to a source
image (`out ~ A * guide + b`), so the result keeps the guide's edges:

- `guided_filter` (He et al. 2013): average the fits; O(N) with box filters, any size.
- `upsample_affine` (He & Sun 2015, "fast guided filter"): fit the affine models on a small
  result, interpolate them and apply them to the full-resolution guide, so a result computed
  at low resolution comes back with the guide's own full-resolution edges, not a blurred copy.
- `upsample_detail`: the small result upsampled as it is, plus the guide's full-resolution
  detail through the fitted gains: for results with a texture of their own (paintings).

Shared by the photorealistic pipeline (`photoreal.smooth`) and the one-pass networks' stroke
scale (`feedforward.apply`, which uses `upsample_detail`). Images are (1, C, H, W) float tensors in [0, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _window_sum(x: torch.Tensor, r: int, dim: int) -> torch.Tensor:
    """Sum over i-r .. i+r along `dim`, the window clipped at both ends (cumulative sums)."""
    n = x.shape[dim]
    c = torch.cat([torch.zeros_like(x.narrow(dim, 0, 1)), x.cumsum(dim)], dim)  # c[k] = sum x[:k]
    hi = torch.cat([c.narrow(dim, min(r + 1, n), max(0, n - r)),
                    c.narrow(dim, n, 1).expand_as(c.narrow(dim, 0, min(r, n)))], dim)
    lo = torch.cat([c.narrow(dim, 0, 1).expand_as(c.narrow(dim, 0, min(r, n))),
                    c.narrow(dim, 0, max(0, n - r))], dim)
    return hi - lo


def box_sum(x: torch.Tensor, r: int) -> torch.Tensor:
    """Sum over the (2r+1)^2 window around each pixel (the window clipped at the borders)."""
    return _window_sum(_window_sum(x, r, x.ndim - 2), r, x.ndim - 1)


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over the (2r+1)^2 window around each pixel (clipped at the borders)."""
    n = box_sum(torch.ones(x.shape[-2:], dtype=x.dtype, device=x.device), r)
    return box_sum(x, r) / n


def inverse3(m: torch.Tensor) -> torch.Tensor:
    """Inverse of a field of 3x3 matrices laid out as (3, 3, ...) (cofactors: no batched LAPACK)."""
    c00 = m[1, 1] * m[2, 2] - m[1, 2] * m[2, 1]
    c01 = m[1, 2] * m[2, 0] - m[1, 0] * m[2, 2]
    c02 = m[1, 0] * m[2, 1] - m[1, 1] * m[2, 0]
    det = m[0, 0] * c00 + m[0, 1] * c01 + m[0, 2] * c02
    adj = torch.stack([
        torch.stack([c00, m[0, 2] * m[2, 1] - m[0, 1] * m[2, 2], m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]]),
        torch.stack([c01, m[0, 0] * m[2, 2] - m[0, 2] * m[2, 0], m[0, 2] * m[1, 0] - m[0, 0] * m[1, 2]]),
        torch.stack([c02, m[0, 1] * m[2, 0] - m[0, 0] * m[2, 1], m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0]])])
    return adj / det


def _affine_fit(guide: torch.Tensor, src: torch.Tensor, r: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per window, the least-squares affine map from the guide's colour to `src`'s (ridge `eps`).

    Returns A as (1, C src, 3 guide, H, W) and b as (1, C, H, W), in float32 (`eps` >= 1e-6
    keeps the 3x3 systems well inside float32's range).
    """
    g = guide[0].float()
    s = src[0].float()
    mg = box_mean(g, r)
    ms = box_mean(s, r)
    cov_gg = box_mean(g[:, None] * g[None], r) - mg[:, None] * mg[None]      # (3, 3, H, W)
    cov_sg = box_mean(s[:, None] * g[None], r) - ms[:, None] * mg[None]      # (C, 3, H, W)
    eye = torch.eye(3, dtype=g.dtype, device=g.device)[:, :, None, None]
    inv = inverse3(cov_gg + eps * eye)                                       # (3, 3, H, W)
    a = (cov_sg[:, :, None] * inv[None]).sum(1)                              # (C, 3, H, W)
    b = ms - (a * mg[None]).sum(1)
    return a[None], b[None]


def _apply(a: torch.Tensor, b: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    return (a * guide.float()[:, None]).sum(2) + b


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter with a colour guide: edge-aware smoothing of `src` (any channels)."""
    a, b = _affine_fit(guide, src, radius, eps)
    n, c = a.shape[:2]
    a = box_mean(a.reshape(n, c * 3, *a.shape[-2:]), radius).reshape(a.shape)
    return _apply(a, box_mean(b, radius), guide).to(src.dtype)


def _band_grid(h: int, w: int, y0: int, y1: int, device: torch.device) -> torch.Tensor:
    """grid_sample's grid for rows y0 .. y1 of an (h, w) image (pixel centres, align_corners=False)."""
    gx = ((torch.arange(w, device=device) + 0.5) / w * 2 - 1).float()
    gy = ((torch.arange(y0, y1, device=device) + 0.5) / h * 2 - 1).float()
    return torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None]


def _averaged_fit(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The affine fits averaged over each window, as He et al.'s filter does: A (1, C * 3, H, W)
    and b (1, C, H, W), float32."""
    a, b = _affine_fit(guide, src, radius, eps)
    n, c = a.shape[:2]
    return box_mean(a.reshape(n, c * 3, *a.shape[-2:]), radius).float(), box_mean(b, radius).float()


def upsample_affine(guide_low: torch.Tensor, result_low: torch.Tensor, guide_full: torch.Tensor,
                    radius: int = 1, eps: float = 1e-4, band: int = 512) -> torch.Tensor:
    """Carry a low-resolution result to the full-resolution guide through local affine models.

    The models (window `radius`, ridge `eps`) are fitted and averaged at low resolution,
    interpolated bilinearly and applied to `guide_full` in bands of `band` rows, so memory stays
    at a band's worth besides the output.
    """
    a, b = _averaged_fit(guide_low, result_low, radius, eps)
    c = b.shape[1]
    if tuple(guide_low.shape[-2:]) == tuple(guide_full.shape[-2:]):
        return _apply(a.reshape(1, c, 3, *a.shape[-2:]), b, guide_full).clamp(0, 1)
    coef = torch.cat([a, b], 1)
    h, w = guide_full.shape[-2:]
    out = torch.empty(1, c, h, w, dtype=torch.float32, device=guide_full.device)
    for y0 in range(0, h, band):
        y1 = min(h, y0 + band)
        k = F.grid_sample(coef, _band_grid(h, w, y0, y1, coef.device), mode="bilinear", padding_mode="border",
                          align_corners=False)
        out[..., y0:y1, :] = _apply(k[:, :c * 3].reshape(1, c, 3, y1 - y0, w), k[:, c * 3:],
                                    guide_full[..., y0:y1, :].float())
    return out.clamp_(0, 1)


def upsample_detail(guide_low: torch.Tensor, result_low: torch.Tensor, guide_full: torch.Tensor,
                    radius: int = 1, eps: float = 1e-3, band: int = 512) -> torch.Tensor:
    """Upsample a low-resolution result (bicubic) and give it back the guide's full-resolution
    detail: the part of `guide_full` that the downscale to `guide_low` lost, times the local
    affine gain of the result on the guide (window `radius`, ridge `eps`, fitted and averaged
    at low resolution, interpolated).

    Unlike `upsample_affine` the result's own pattern is kept as it is (a painting's strokes
    are not a function of the photo's colours, and the averaged fits would blur them); only
    where the result follows the guide do its edges come back at full sharpness. In bands of
    `band` rows.
    """
    gain = _averaged_fit(guide_low, result_low, radius, eps)[0]
    c = result_low.shape[1]
    h, w = guide_full.shape[-2:]
    low = torch.cat([result_low.float(), guide_low.float()], 1)
    out = torch.empty(1, c, h, w, dtype=torch.float32, device=guide_full.device)
    for y0 in range(0, h, band):
        y1 = min(h, y0 + band)
        grid = _band_grid(h, w, y0, y1, gain.device)
        k = F.grid_sample(gain, grid, mode="bilinear", padding_mode="border", align_corners=False)
        up = F.grid_sample(low, grid, mode="bicubic", padding_mode="border", align_corners=False)
        detail = guide_full[..., y0:y1, :].float() - up[:, c:]
        out[..., y0:y1, :] = up[:, :c] + (k.reshape(1, c, 3, y1 - y0, w) * detail[:, None]).sum(2)
    return out.clamp_(0, 1)
