"""Inverting a CNN representation (Mahendran & Vedaldi 2015).

Find an image whose activations at one tap match those of a source image, starting from
noise, regularised by total variation (the V^β prior) and an α-norm that keeps pixels in
range. Shallow taps give near-copies; deep taps keep the layout and lose the detail.
"""
from __future__ import annotations

import torch

from ..image import ImageSource, fit, load_image, parse_size, resize
from ..losses import ContentLoss, RangeLoss, TVLoss
from ..progress import Callback
from ..weights import non_negative
from .common import initial_image, layer_weights
from .engine import Schedule, optimize
from .settings import RunSettings


def reconstruct(source: ImageSource, *,
                layer: str = "relu4_2",
                size: int | tuple[int, int] | None = 256,
                steps: int = 300,
                tv_weight: float = 1.0,
                tv_beta: float = 2.0,
                range_weight: float = 1.0,
                alpha: float = 6.0,
                init: str | ImageSource = "noise",
                multiscale: bool = False,
                min_side: int = 128,
                optimizer: str = "lbfgs",
                lr: float | None = None,
                tol: float = 1e-5,
                pooling: str = "max",
                seed: int | None = None,
                device: str | torch.device = "auto",
                dtype: str | torch.dtype = "auto",
                callback: Callback | None = None) -> torch.Tensor:
    """Reconstruct `source` from its activations at `layer`; returns (1, 3, H, W) in [0, 1].

    The feature term is normalised by the target's energy, so the regulariser weights mean
    the same at every layer: `tv_weight` trades detail for smoothness.
    """
    settings = RunSettings(optimizer, lr, tol, seed, pooling, device, dtype)
    layer_weights([layer], "reconstruction")
    non_negative(tv_weight, "tv weight")
    non_negative(range_weight, "range weight")
    size = parse_size(size)
    src = load_image(source)
    out_size = tuple(src.shape[-2:]) if size is None else fit(src.shape[-2:], size)

    def build(hw: tuple[int, int], ex) -> dict:
        target = ex.targets(resize(src, hw))[layer]
        scale = 1.0 / target.pow(2).mean().clamp_min(1e-8).item()  # ||Φ(x)-Φ0||² / ||Φ0||²
        losses: dict = {f"content:{layer}": ContentLoss(layer, target, scale)}
        if tv_weight > 0:
            losses["tv"] = TVLoss(1e-4 * tv_weight, tv_beta)
        if range_weight > 0:
            losses["range"] = RangeLoss(range_weight, alpha)
        return losses

    schedule = (Schedule.coarse_to_fine(out_size, steps, min_side) if multiscale
                else Schedule([out_size], [steps]))
    start = initial_image(init, schedule.sizes[0], src, None, settings.seed)
    return optimize(build, start, schedule, settings.features([layer]), settings, callback=callback)
