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
from .lbfgs import LBFGS, Objective

OPTIMIZERS = ("lbfgs", "adam")
# The optimiser works on pixels in 0-255 units, the scale its step sizes are tuned for.
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


class _Adam:
    """Adam with the same `step(fn)` interface as our L-BFGS; keeps pixels in range."""

    def __init__(self, param: torch.Tensor, lr: float):
        self.param = param
        self.opt = torch.optim.Adam([param], lr=lr)
        self.evals = 0

    def step(self, fn: Objective) -> float:
        self.evals += 1
        loss, grad = fn()
        self.param.grad = grad
        self.opt.step()
        with torch.no_grad():
            self.param.clamp_(0, PIXEL_SCALE)
        return float(loss)


def _layout(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """channels_last on CPU and CUDA: oneDNN and cuDNN convolve it fastest, and the Gram reads
    it without a copy."""
    if device.type in ("cpu", "cuda") and x.dim() == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def _make_optimizer(name: str, param: torch.Tensor, lr: float | None) -> LBFGS | _Adam:
    if name == "lbfgs":
        return LBFGS(param, first_step=lr or 1.0)
    if name == "adam":
        return _Adam(param, lr or 5.0)
    raise InputError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def optimize(build: Build, init: torch.Tensor, schedule: Schedule, extractor: Extractor, *,
             optimizer: str = "lbfgs", lr: float | None = None, tol: float = 1e-4,
             render: Callable[[torch.Tensor], torch.Tensor] | None = None,
             callback: Callback | None = None) -> torch.Tensor:
    """Run the schedule and return the final image (1, 3, H, W) in [0, 1] on the CPU.

    `init` is the starting image or parameter at any size (resized to the first scale).
    `render` maps the parameter to the RGB image the losses see (default: identity), e.g. a
    1-channel luminance parameter expanded to grey RGB. The optimiser sees pixels in 0-255
    units and the losses see them clamped to [0, 1], as saved. `lr` is Adam's step size, or
    L-BFGS's first step (largest pixel change, 0-255 units).
    """
    if optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    user_render = render or (lambda p: p)

    def image_of(p: torch.Tensor) -> torch.Tensor:
        # the losses judge the image that will be saved: clamped to the valid range
        return user_render((p / PIXEL_SCALE).clamp(0, 1))

    param = init.detach().to(extractor.device, torch.float32)
    step, start = 0, time.perf_counter()
    for stage, (size, n_steps) in enumerate(zip(schedule.sizes, schedule.steps)):
        param = _layout(resize(param, size) * PIXEL_SCALE, extractor.device).requires_grad_(True)
        losses = build(size, extractor)
        last: dict[str, float] = {}

        def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
            img = image_of(param)
            terms = loss_terms(losses, img, extractor(img))
            total = torch.stack(list(terms.values())).sum()
            (grad,) = torch.autograd.grad(total, param)
            last.clear()
            last.update({k: float(v.detach()) for k, v in terms.items()})
            last["total"] = float(total.detach())
            return total.detach(), grad

        opt = _make_optimizer(optimizer, param, lr)
        stopper = Stopper(tol)
        for i in range(n_steps):
            loss = opt.step(evaluate)
            step += 1
            if not math.isfinite(loss):
                raise InputError("the optimisation diverged (loss is not finite); lower the learning rate or the weights")
            done = stopper(loss) or i == n_steps - 1
            if callback is not None:
                current = image_of(param.detach()).clamp(0, 1)
                if callback(Progress(step, schedule.total, loss, dict(last), stage, len(schedule.sizes),
                                     size, time.perf_counter() - start, current)):
                    return current.cpu()
            if done:
                step += n_steps - 1 - i  # steps skipped on convergence count as done
                break
        param = (param.detach() / PIXEL_SCALE).clamp(0, 1)
    return user_render(param).clamp(0, 1).cpu()


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

