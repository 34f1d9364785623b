"""Colour statistics transfer in CIE Lab: the linear Monge-Kantorovich map (Pitié & Kokaram 2007).

`mkl` gives an affine map x -> T (x - mu_c) + mu_s that gives the content's pixels the style's
mean and (chroma) covariance with the least displacement:
T = C^-1/2 (C^1/2 S C^1/2)^1/2 C^-1/2 for content covariance C and style covariance S.
It returns a `Transfer`, a function of Lab pixels (3, N), so a region's map can be applied to
every pixel and blended with its neighbours' maps through soft masks. (Pitié's iterative
distribution transfer matches whole distributions, but at ten 1-D passes a region it was
~10x slower here and left blotches in skies that smoothing does not remove: BENCHMARKS.md.)
"""
from __future__ import annotations

from typing import Callable

import torch

Transfer = Callable[[torch.Tensor], torch.Tensor]

_XYZ = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                     [0.019334, 0.119193, 0.950227]])
_WHITE = torch.tensor([0.950456, 1.0, 1.088754])
_DELTA = 6 / 29
# Lab has units of about 1 (L 0..100): this floor on a covariance's eigenvalues keeps a flat
# region (a clear sky, a grey style) from being divided by zero.
_FLOOR = 1e-2


def rgb_to_lab(img: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> CIE Lab (D65), L in 0..100."""
    c = img.clamp(0, 1)
    lin = torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,njhw->nihw", _XYZ.to(img), lin) / _WHITE.to(img)[:, None, None]
    f = torch.where(xyz > _DELTA ** 3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * _DELTA ** 2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab (D65) -> sRGB, clipped to [0, 1]."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], 1)
    xyz = torch.where(f > _DELTA, f ** 3, 3 * _DELTA ** 2 * (f - 4 / 29)) * _WHITE.to(lab)[:, None, None]
    lin = torch.einsum("ij,njhw->nihw", torch.linalg.inv(_XYZ).to(lab), xyz).clamp(0, 1)
    return torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin.clamp_min(1e-12) ** (1 / 2.4) - 0.055).clamp(0, 1)


def _moments(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (3, 1) and covariance (3, 3) of pixels x (3, N)."""
    mu = x.mean(1, keepdim=True)
    d = x - mu
    return mu, d @ d.T / x.shape[1]


def _sqrtm(m: torch.Tensor, inverse: bool = False) -> torch.Tensor:
    vals, vecs = torch.linalg.eigh(m)
    vals = vals.clamp_min(_FLOOR)
    return vecs @ torch.diag(vals.rsqrt() if inverse else vals.sqrt()) @ vecs.T


def mkl(content: torch.Tensor, style: torch.Tensor) -> Transfer:
    """The colour map from content pixels (3, N) to style pixels (3, M), both Lab.

    Lightness is mapped on its own (mean and deviation: an increasing affine map), chroma (a, b)
    by the linear Monge-Kantorovich map. The full 3-D map may turn lightness into chroma and
    back (a yellow flower's shading became its red copy's brightness, reversing edges: gradient
    correlation with the photo fell from 0.58 to -0.08, BENCHMARKS.md); apart, every edge keeps
    its direction.
    """
    x, y = content.double(), style.double()
    mc, cc = _moments(x)
    ms, cs = _moments(y)
    t = torch.zeros(3, 3, dtype=torch.float64)
    t[0, 0] = (cs[0, 0].clamp_min(_FLOOR) / cc[0, 0].clamp_min(_FLOOR)).sqrt()
    ca, sa = cc[1:, 1:], cs[1:, 1:]
    c_half, c_inv = _sqrtm(ca), _sqrtm(ca, inverse=True)
    t[1:, 1:] = c_inv @ _sqrtm(c_half @ sa @ c_half) @ c_inv
    return lambda p: (t @ (p.double() - mc) + ms).to(p.dtype)
