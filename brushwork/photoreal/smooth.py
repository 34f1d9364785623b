"""Edge-aware smoothing with the content photo as guide, and local-affine colour upsampling.

A photorealistic result is, locally, an affine function of the content's colours (Levin et al.
2008; Luan et al. 2017): that keeps every edge and texture of the photo. Three tools use it:

- `guided_filter` (He et al. 2013): fit `out ~ A * content + b` in every window, average the
  fits; O(N) with box filters, any size.
- `upsample_affine` (He & Sun 2015, "fast guided filter"): fit the affine models on a small
  result, interpolate them and apply them to the full-resolution photo, so a result computed at
  low resolution comes back with the photo's own full-resolution detail, not a blurred copy.
- `matting_smooth`: the closed-form solution of the matting-affinity problem (Levin's matting
  Laplacian, 3x3 windows), `(L + lam I) x = lam y`, solved by conjugate gradients, warm-started.
  `MattingLaplacian` applies L without building it (He et al. 2010's box-filter form of the
  same matrix), so memory is a few dozen numbers a pixel rather than a sparse matrix's 25 rows.

Images are (1, 3, H, W) float tensors in [0, 1]; the guide is always the content photo.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import InputError

# The exact smoother keeps ~60 float64 values a pixel (~0.5 kB): 2 MP is about 1 GB.
MATTING_MAX_PIXELS = 2_000_000
MATTING_BYTES_PER_PIXEL = 480


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


def upsample_affine(guide_low: torch.Tensor, result_low: torch.Tensor, guide_full: torch.Tensor,
                    radius: int = 1, eps: float = 1e-4, band: int = 512) -> torch.Tensor:
    """Carry a low-resolution result to the full-resolution guide through local affine models.

    The models (window `radius`, ridge `eps`) are fitted and averaged at low resolution,
    interpolated bilinearly and applied to `guide_full` in bands of `band` rows, so memory stays
    at a band's worth besides the output.
    """
    a, b = _affine_fit(guide_low, result_low, radius, eps)
    n, c = a.shape[:2]
    coef = torch.cat([box_mean(a.reshape(n, c * 3, *a.shape[-2:]), radius), box_mean(b, radius)], 1).float()
    if tuple(guide_low.shape[-2:]) == tuple(guide_full.shape[-2:]):
        return _apply(coef[:, :c * 3].reshape(a.shape), coef[:, c * 3:], guide_full).clamp(0, 1)
    h, w = guide_full.shape[-2:]
    out = torch.empty(1, c, h, w, dtype=torch.float32, device=guide_full.device)
    gx = ((torch.arange(w, device=coef.device) + 0.5) / w * 2 - 1).float()
    for y0 in range(0, h, band):
        y1 = min(h, y0 + band)
        gy = ((torch.arange(y0, y1, device=coef.device) + 0.5) / h * 2 - 1).float()
        grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None]
        k = F.grid_sample(coef, grid, mode="bilinear", padding_mode="border", align_corners=False)
        out[..., y0:y1, :] = _apply(k[:, :c * 3].reshape(1, c, 3, y1 - y0, w), k[:, c * 3:],
                                    guide_full[..., y0:y1, :].float())
    return out.clamp_(0, 1)


class MattingLaplacian:
    """Levin et al.'s matting Laplacian of `guide` (3x3 windows, regulariser `eps`), applied as an
    operator: `L @ p` for (C, H, W) tensors, computed with 3x3 box sums (no matrix is built).
    Levin's eps = 1e-7 is below what the float64 cofactor inverses resolve in windows of two
    flat colours (L no longer maps the guide itself to ~0), hence 1e-6.

    L = sum over windows k fully inside the image of  delta_ij - (1 + (I_i - mu_k)^T
    (Sigma_k + eps/9 I)^-1 (I_j - mu_k)) / 9  for i, j in window k.
    """

    def __init__(self, guide: torch.Tensor, eps: float = 1e-6):
        g = guide[0].double()
        self.guide = g
        h, w = g.shape[-2:]
        if h < 3 or w < 3:
            raise InputError(f"the matting smoother needs an image of at least 3x3 px, not {w}x{h}")
        valid = torch.zeros(1, h, w, dtype=g.dtype, device=g.device)
        valid[:, 1:-1, 1:-1] = 1
        self.valid = valid
        self.count = box_sum(valid, 1)
        self.mu = box_sum(g, 1) / 9
        cov = box_sum(g[:, None] * g[None], 1) / 9 - self.mu[:, None] * self.mu[None]
        eye = torch.eye(3, dtype=g.dtype, device=g.device)[:, :, None, None]
        cov = cov + (eps / 9) * eye + (1 - valid) * eye  # border centres: any invertible matrix, masked below
        self.inv = inverse3(cov)  # (3, 3, H, W)

    def __matmul__(self, p: torch.Tensor) -> torch.Tensor:
        g, mu = self.guide, self.mu
        pbar = box_sum(p, 1) / 9                                                # (C, H, W)
        cov_gp = box_sum(g[:, None] * p[None], 1) / 9 - mu[:, None] * pbar[None]  # (3, C, H, W)
        a = (self.inv[:, :, None] * cov_gp[None]).sum(1) * self.valid             # (3, C, H, W)
        b = (pbar - (a * mu[:, None]).sum(0)) * self.valid
        return self.count * p - (box_sum(a, 1) * g[:, None]).sum(0) - box_sum(b, 1)

    def energy(self, img: torch.Tensor) -> float:
        """sum over channels of x^T L x for `img` (1, C, H, W): low for a photo-like result."""
        x = img[0].double()
        return float((x * (self @ x)).sum())


def matting_pixels_check(shape: tuple[int, int]) -> None:
    """Refuse a size whose exact smoothing would not fit (see MATTING_MAX_PIXELS)."""
    h, w = shape
    if h * w > MATTING_MAX_PIXELS:
        raise InputError(f"the matting smoother is limited to {MATTING_MAX_PIXELS / 1e6:g} MP (about "
                         f"{MATTING_MAX_PIXELS * MATTING_BYTES_PER_PIXEL / 2**30:.0f} GB) and would work at "
                         f"{w}x{h}; use a smaller work size or the guided smoother, which works at any size")


def matting_smooth(guide: torch.Tensor, src: torch.Tensor, lam: float = 1e-3, eps: float = 1e-6,
                   iters: int = 100, tol: float = 1e-3, start: torch.Tensor | None = None,
                   progress: Callable[[int, int, float], bool | None] | None = None) -> torch.Tensor:
    """argmin_x  x^T L x + lam |x - src|^2  (per channel), by conjugate gradients.

    `lam` sets how closely the result keeps `src`'s colours (smaller: smoother along the photo's
    own structure); `start` warm-starts the solve (a guided-filter result converges in far fewer
    steps than `src` itself). Stops after `iters` steps or when the residual falls below `tol`
    times the right-hand side's norm; `progress(step, iters, relative_residual)` may return True
    to stop early.
    """
    matting_pixels_check(tuple(src.shape[-2:]))
    lap = MattingLaplacian(guide, eps)
    y = src[0].double()
    x = (y if start is None else start[0].double()).clone()
    rhs = lam * y
    r = rhs - (lap @ x + lam * x)
    p = r.clone()
    rr = (r * r).sum()
    stop = tol * float(rhs.norm())
    for i in range(iters):
        if float(rr.sqrt()) <= stop:
            break
        ap = lap @ p + lam * p
        alpha = rr / (p * ap).sum()
        x += alpha * p
        r -= alpha * ap
        rr_new = (r * r).sum()
        p = r + (rr_new / rr) * p
        rr = rr_new
        if progress is not None and progress(i + 1, iters, float(rr.sqrt()) / max(float(rhs.norm()), 1e-30)):
            break
    return x[None].to(src.dtype).clamp(0, 1)
