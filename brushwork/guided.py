"""Edge-aware filtering with a colour guide, shared by every producer that smooths along a
photo's edges (photoreal's smoothing, the garment masks of fashion).

- `box_sum` / `box_mean`: window sums and means in O(N) (cumulative sums), windows clipped at
  the borders.
- `affine_fit`: per window, the least-squares affine map from the guide's colour to a source's.
- `guided_filter` (He et al. 2013): fit `out ~ A * guide + b` in every window, average the fits.

Images are (1, C, H, W) float tensors; the guide has 3 channels.
"""
from __future__ import annotations

import torch


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


def affine_fit(guide: torch.Tensor, src: torch.Tensor, r: int, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
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


def apply_affine(a: torch.Tensor, b: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    return (a * guide.float()[:, None]).sum(2) + b


def guided_filter(guide: torch.Tensor, src: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """He et al.'s guided filter with a colour guide: edge-aware smoothing of `src` (any channels)."""
    a, b = affine_fit(guide, src, radius, eps)
    n, c = a.shape[:2]
    a = box_mean(a.reshape(n, c * 3, *a.shape[-2:]), radius).reshape(a.shape)
    return apply_affine(a, box_mean(b, radius), guide).to(src.dtype)
