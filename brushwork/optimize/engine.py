"""The one image-iteration engine: optimise pixels against a sum of losses.

A recipe describes, per image size, which losses to use (`Build`); the engine runs a
coarse-to-fine schedule over those sizes with L-BFGS or Adam, reports progress through a
callback and stops a scale early when the objective stops improving.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from ..device import resolve_device, resolve_dtype
from ..errors import InputError
from ..features import vgg19
from ..image import resize
from ..progress import Callback, Progress

OPTIMIZERS = ("lbfgs", "adam")
# The optimiser works on pixels in 0-255 units: L-BFGS without a line search takes its first
# step with the raw gradient, and at this scale that step is well-sized for VGG losses.
PIXEL_SCALE = 255.0


class Extractor:
    """VGG-19 features at a fixed device/dtype; targets come back as fp32 without grad."""

    def __init__(self, taps: Sequence[str], pooling: str = "max", device: str | torch.device = "auto",
                 dtype: str | torch.dtype = "auto"):
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.taps = tuple(taps)
        self.net = vgg19(self.taps, pooling, self.device, self.dtype) if self.taps else None

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.net is None:
            return {}
        return self.net(image.to(self.device, self.dtype))

    @torch.no_grad()
    def targets(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v.float() for k, v in self(image).items()}


def loss_terms(losses: dict[str, nn.Module], image: torch.Tensor,
               feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: loss(image, feats) for name, loss in losses.items()}


# Build(size, extractor) -> named losses for an image of that (H, W).
Build = Callable[[tuple[int, int], Extractor], dict[str, nn.Module]]


@dataclass
class Schedule:
    """Sizes (H, W) from coarse to fine and the steps to run at each."""

    sizes: list[tuple[int, int]]
    steps: list[int]

    @classmethod
    def coarse_to_fine(cls, final: tuple[int, int], steps: int, min_side: int = 128,
                       factor: float = 2.0, coarse_steps: int | None = None) -> "Schedule":
        """Long side min_side·factorᵏ up to `final`; `steps` at the final size, `coarse_steps` before."""
        if steps < 1:
            raise InputError(f"steps must be at least 1, not {steps}")
        h, w = final
        long = max(h, w)
        sizes = [final]
        side = long / factor
        while side >= min_side * 0.99 and factor > 1:
            s = side / long
            sizes.insert(0, (max(1, round(h * s)), max(1, round(w * s))))
            side /= factor
        coarse = steps if coarse_steps is None else coarse_steps
        return cls(sizes, [coarse] * (len(sizes) - 1) + [steps])

    @property
    def total(self) -> int:
        return sum(self.steps)


class Stopper:
    """Stop when the loss improved by less than `tol` (relative) over the last `window` steps."""

    def __init__(self, tol: float, window: int = 20):
        self.tol, self.window, self.history = tol, window, []

    def __call__(self, loss: float) -> bool:
        self.history.append(loss)
        if self.tol <= 0 or len(self.history) <= self.window:
            return False
        old = self.history[-self.window - 1]
        return (old - loss) < self.tol * abs(old)


def _make_optimizer(name: str, params: list[torch.Tensor], lr: float | None) -> torch.optim.Optimizer:
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr or 1.0, max_iter=1, history_size=50,
                                 tolerance_grad=0.0, tolerance_change=0.0)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr or 5.0)
    raise InputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def optimize(build: Build, init: torch.Tensor, schedule: Schedule, extractor: Extractor, *,
             optimizer: str = "lbfgs", lr: float | None = None, tol: float = 1e-4,
             render: Callable[[torch.Tensor], torch.Tensor] | None = None,
             callback: Callback | None = None) -> torch.Tensor:
    """Run the schedule and return the final image (1, 3, H, W) in [0, 1] on the CPU.

    `init` is the starting parameter at any size (resized to the first scale). `render` maps
    the parameter to the RGB image the losses see (default: identity); e.g. a 1-channel
    luminance parameter expanded to grey RGB.
    """
    if optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    user_render = render or (lambda p: p)
    render = lambda p: user_render(p / PIXEL_SCALE)  # noqa: E731
    device = extractor.device
    param = init.detach().to(device, torch.float32) * PIXEL_SCALE
    step, start = 0, time.perf_counter()
    for stage, (size, n_steps) in enumerate(zip(schedule.sizes, schedule.steps)):
        param = (resize(param / PIXEL_SCALE, size) * PIXEL_SCALE).detach().requires_grad_(True)
        losses = build(size, extractor)
        opt = _make_optimizer(optimizer, [param], lr)
        stopper = Stopper(tol)
        last: dict[str, float] = {}

        def closure() -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            img = render(param)
            terms = loss_terms(losses, img, extractor(img))
            total = torch.stack(list(terms.values())).sum()
            total.backward()
            last.clear()
            last.update({k: float(v.detach()) for k, v in terms.items()})
            last["total"] = float(total.detach())
            return total

        for i in range(n_steps):
            opt.step(closure)
            if optimizer == "adam":
                with torch.no_grad():
                    param.clamp_(0, PIXEL_SCALE)
            step += 1
            loss = last["total"]
            if not math.isfinite(loss):
                raise InputError("the optimisation diverged (loss is not finite); lower the learning rate or the weights")
            done = stopper(loss) or i == n_steps - 1
            if callback is not None:
                p = Progress(step, schedule.total, loss, dict(last), stage, len(schedule.sizes), size,
                             time.perf_counter() - start, render(param.detach()).clamp(0, 1))
                if callback(p):
                    return render(param.detach()).clamp(0, 1).cpu()
            if done:
                step += n_steps - 1 - i  # skipped steps count as done for the progress total
                break
        param = param.detach().clamp(0, PIXEL_SCALE)
    return render(param).clamp(0, 1).cpu()


def objective(losses: dict[str, nn.Module], image: torch.Tensor, extractor: Extractor) -> dict[str, float]:
    """Evaluate named losses (and their total) on an image without gradients."""
    with torch.no_grad():
        img = image.to(extractor.device, torch.float32)
        terms = loss_terms(losses, img, extractor(img))
    out = {k: float(v) for k, v in terms.items()}
    out["total"] = sum(out.values())
    return out


def noise_like(shape: tuple[int, ...], seed: int | None, scale: float = 0.1) -> torch.Tensor:
    """Mid-grey plus small Gaussian noise, reproducible with a seed."""
    g = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % 2**63)
    return (0.5 + scale * torch.randn(shape, generator=g)).clamp(0, 1)

