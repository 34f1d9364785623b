"""Texture synthesis (Gatys et al. 2015): match Gram matrices only, from noise, at any size."""
from __future__ import annotations

import torch

from ..errors import InputError
from ..image import ImageSource, fit, load_image, parse_size, resize
from ..losses import GramLoss, TVLoss, gram
from ..progress import Callback
from ..weights import non_negative
from .common import LayerSpec, initial_image, layer_weights
from .engine import Schedule, optimize
from .settings import RunSettings

DEFAULT_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
BASE_STYLE = 100.0


def texture(source: ImageSource, *,
            size: int | tuple[int, int] | str | None = 512,
            steps: int = 300,
            layers: LayerSpec = DEFAULT_LAYERS,
            scale: float = 1.0,
            tv_weight: float = 0.0,
            init: str | ImageSource = "noise",
            multiscale: bool = True,
            min_side: int = 128,
            optimizer: str = "lbfgs",
            lr: float | None = None,
            tol: float = 1e-4,
            pooling: str = "max",
            seed: int | None = None,
            device: str | torch.device = "auto",
            dtype: str | torch.dtype = "auto",
            callback: Callback | None = None) -> torch.Tensor:
    """Synthesise a new texture like `source`; returns (1, 3, H, W) in [0, 1].

    `size` is the output's long side (keeping the source's aspect) or (H, W) / 'WxH' for any
    shape, e.g. a wide texture from a square sample. `scale` sets how large the source's
    features appear (the source is resized to `scale` × the output's long side).
    """
    settings = RunSettings(optimizer, lr, tol, seed, pooling, device, dtype)
    size = parse_size(size)
    src = load_image(source)
    if min(src.shape[-2:]) < 16:
        raise InputError(f"a texture source of {src.shape[-1]}x{src.shape[-2]} px is too small (at least 16 px a side)")
    if not scale > 0:
        raise InputError(f"scale must be positive, not {scale}")
    non_negative(tv_weight, "tv weight")
    out_size = tuple(src.shape[-2:]) if size is None else fit(src.shape[-2:], size)
    weights = layer_weights(layers, "style")

    def build(hw: tuple[int, int], ex) -> dict:
        feats = ex.targets(resize(src, fit(src.shape[-2:], max(16, round(max(hw) * scale)))))
        losses: dict = {f"style:{t}": GramLoss(t, gram(feats[t]), BASE_STYLE * w) for t, w in weights.items()}
        if tv_weight > 0:
            losses["tv"] = TVLoss(1e-3 * tv_weight)
        return losses

    schedule = (Schedule.coarse_to_fine(out_size, steps, min_side) if multiscale
                else Schedule([out_size], [steps]))
    start = initial_image(init, schedule.sizes[0], None, src, settings.seed)
    return optimize(build, start, schedule, settings.features(list(weights)), settings, callback=callback)
