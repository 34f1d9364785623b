"""Edge-aware smoothing with the content photo as guide, and local-affine colour upsampling.

A photorealistic result is, locally, an affine function of the content's colours (Levin et al.
2008; Luan et al. 2017): that keeps every edge and texture of the photo. Three tools use it:

- `guided_filter` and `upsample_affine` (the shared `brushwork.guided`): edge-aware smoothing,
  and carrying a low-resolution result to the full-resolution photo through local affine models.
- `matting_smooth`: the closed-form solution of the matting-affinity problem (Levin's matting
  Laplacian, 3x3 windows), `(L + lam I) x = lam y`, solved by conjugate gradients, warm-started.
  `MattingLaplacian` applies L without building it (He et al. 2010's box-filter form of the
  same matrix), so memory is a few dozen numbers a pixel rather than a sparse matrix's 25 rows.

Images are (1, 3, H, W) float tensors in [0, 1]; the guide is always the content photo.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..errors import InputError
from ..guided import box_sum, guided_filter, inverse3, upsample_affine

__all__ = ["MattingLaplacian", "guided_filter", "matting_pixels_check", "matting_smooth", "upsample_affine"]

# The exact smoother keeps ~60 float64 values a pixel (~0.5 kB): 2 MP is about 1 GB.
MATTING_MAX_PIXELS = 2_000_000
MATTING_BYTES_PER_PIXEL = 480


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
