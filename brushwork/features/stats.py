"""Statistics of feature maps of any rank (N, C, *positions): Gram matrices, channel mean/std,
AdaIN, and whitening/colouring (WCT). Losses, metrics, training and networks all use these.

Positions are every axis after the channels: (N, C, H, W) for images, (N, C, T) for a 1-D
signal. Reductions run in at least fp32.
"""
from __future__ import annotations

import math

import torch


class _Gram(torch.autograd.Function):
    """G = Bᵀ B / n for B (N, M, C) positions × channels, with a one-matmul backward.

    The matmuls run in B's dtype (bf16 halves their cost; the product accumulates in fp32) and
    G comes back in at least fp32. Autograd would spend two matmuls on the backward, one per
    operand; d/dB of Bᵀ B / n is B (G' + G'ᵀ) / n.
    """

    @staticmethod
    def forward(ctx, b: torch.Tensor, n: float) -> torch.Tensor:
        ctx.save_for_backward(b)
        ctx.n = n
        return (b.transpose(1, 2) @ b).to(torch.promote_types(b.dtype, torch.float32)) / n

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        (b,) = ctx.saved_tensors
        return b @ ((g + g.transpose(1, 2)) / ctx.n).to(b.dtype), None


def positions_by_channels(feat: torch.Tensor) -> torch.Tensor:
    """(N, C, *S) -> (N, prod(S), C), a view when possible: channels-last input (NHWC strides, or
    an (N, T, C) tensor transposed) needs no copy, and neither does contiguous input."""
    n, c = feat.shape[:2]
    last = feat.movedim(1, -1)
    if last.is_contiguous():
        return last.reshape(n, -1, c)
    return feat.reshape(n, c, -1).transpose(1, 2)


def gram(feat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Gram matrix F Fᵀ / (C·M) in fp32, with M the number of (mask-weighted) positions.

    This is the second-moment statistic whose squared difference is the MMD with a quadratic
    kernel (Li et al. 2017). With a mask (N, 1, *S) in [0, 1] only the guided region counts.
    bf16 features are multiplied in bf16; other low precisions (fp16 overflows on VGG's
    activations) are promoted to fp32 first.
    """
    n, c = feat.shape[:2]
    m_pos = math.prod(feat.shape[2:])
    if feat.dtype not in (torch.float32, torch.float64, torch.bfloat16):
        feat = feat.float()
    b = positions_by_channels(feat)
    if mask is None:
        return _Gram.apply(b, float(c * m_pos))
    m = mask.to(feat.dtype).reshape(n, m_pos, 1)
    weight = mask.float().reshape(n, 1, m_pos).pow(2).sum(-1, keepdim=True).clamp_min(1e-8)
    return _Gram.apply(b * m, 1.0) / (c * weight)


def mean_std(feat: torch.Tensor, mask: torch.Tensor | None = None,
             eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation (N, C, 1, ...), over a (N, 1, *S) mask's region if given."""
    dims = tuple(range(2, feat.dim()))
    if mask is None:
        var, mean = torch.var_mean(feat, dim=dims, keepdim=True, correction=0)
        return mean, (var + eps).sqrt()
    total = mask.sum(dim=dims, keepdim=True).clamp_min(1e-8)
    mean = (feat * mask).sum(dim=dims, keepdim=True) / total
    var = ((feat - mean) ** 2 * mask).sum(dim=dims, keepdim=True) / total
    return mean, (var + eps).sqrt()


def adain(content: torch.Tensor, c_mean: torch.Tensor, c_std: torch.Tensor,
          s_mean: torch.Tensor, s_std: torch.Tensor) -> torch.Tensor:
    """Adaptive instance normalisation: content features with the style's channel statistics."""
    return (content - c_mean) / c_std * s_std + s_mean


def mean_covariance(feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Channel mean (N, C, 1) and covariance (N, C, C) over all positions, in fp64."""
    f = feat.double().flatten(2)
    mean = f.mean(-1, keepdim=True)
    d = f - mean
    return mean, d @ d.transpose(1, 2) / max(1, f.shape[-1] - 1)


def _cov_power(cov: torch.Tensor, power: float, eps: float) -> torch.Tensor:
    """cov^power by eigen-decomposition, eigenvalues floored at `eps` (a rank-deficient
    covariance is whitened only along the directions it has)."""
    vals, vecs = torch.linalg.eigh(cov)
    return vecs @ torch.diag_embed(vals.clamp_min(eps).pow(power)) @ vecs.transpose(1, 2)


def whiten(feat: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Features with zero mean and identity covariance per image (same shape and dtype)."""
    mean, cov = mean_covariance(feat)
    f = feat.double().flatten(2) - mean
    return (_cov_power(cov, -0.5, eps) @ f).reshape(feat.shape).to(feat.dtype)


def colour(white: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Whitened features given the channel `mean` (N, C, 1) and covariance `cov` (N, C, C)."""
    f = _cov_power(cov.double(), 0.5, eps) @ white.double().flatten(2) + mean.double()
    return f.reshape(white.shape).to(white.dtype)


def wct(content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0, eps: float = 1e-5) -> torch.Tensor:
    """Whitening and colouring transform (Li et al. 2017): `content` features with the mean and
    covariance of `style` (any number of positions), blended α·wct + (1 − α)·content."""
    mean, cov = mean_covariance(style)
    out = colour(whiten(content, eps), mean, cov, eps)
    return alpha * out + (1.0 - alpha) * content
