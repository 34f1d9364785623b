"""The one image-iteration engine: optimise a canvas against a sum of losses.

A recipe describes, per size, which losses to use (a `Build`); the engine runs a coarse-to-fine
schedule over those sizes with L-BFGS or Adam, reports progress through a callback and stops a
scale early when the objective stops improving. The canvas says how the variable is scaled,
resized, clamped and rendered (`ImageCanvas`: an image in [0, 1]).
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InputError
from ..features import Features
from ..progress import Callback, Progress
from .builds import Build, Loss
from .canvas import Canvas, ImageCanvas
from .lbfgs import LBFGS, Objective
from .settings import RunSettings


def loss_terms(losses: dict[str, Loss], signal: torch.Tensor,
               feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: loss(signal, feats) for name, loss in losses.items()}


@dataclass(frozen=True)
class Schedule:
    """Sizes from coarse to fine (any rank: (H, W) for images, (F, T) or (T,) for other signals)
    and the steps to run at each."""

    sizes: list[tuple[int, ...]]
    steps: list[int]

    @classmethod
    def coarse_to_fine(cls, final: tuple[int, int], steps: int, min_side: int = 128,
                       factor: float = 2.0, coarse_steps: int | None = None) -> "Schedule":
        """Long side min_side·factorᵏ up to `final`; `steps` at the final size, `coarse_steps` before."""
        if steps < 1:
            raise InputError(f"steps must be at least 1, not {steps}")
        long = max(final)
        sizes = [tuple(final)]
        side = long / factor
        while side >= min_side * 0.99 and factor > 1:
            s = side / long
            sizes.insert(0, tuple(max(1, round(d * s)) for d in final))
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
    """Adam with the same `step(fn)` interface as our L-BFGS; keeps the canvas valid."""

    def __init__(self, param: torch.Tensor, lr: float, canvas: Canvas):
        self.param, self.canvas = param, canvas
        self.opt = torch.optim.Adam([param], lr=lr)
        self.evals = 0

    def step(self, fn: Objective) -> float:
        self.evals += 1
        loss, grad = fn()
        self.param.grad = grad
        self.opt.step()
        with torch.no_grad():
            s = self.canvas.scale
            self.param.copy_(self.canvas.clamp(self.param / s) * s)
        return float(loss)


def _make_optimizer(settings: RunSettings, param: torch.Tensor, canvas: Canvas) -> LBFGS | _Adam:
    if settings.optimizer == "lbfgs":
        return LBFGS(param, first_step=settings.lr or 1.0)
    return _Adam(param, settings.lr or 5.0, canvas)


def optimize(build: Build, init: torch.Tensor, schedule: Schedule, features: Features,
             settings: RunSettings | None = None, *, canvas: Canvas | None = None,
             callback: Callback | None = None, **options: Any) -> torch.Tensor:
    """Run the schedule and return the final signal (the canvas's rendering, clamped) on the CPU.

    `init` is the starting variable in signal units at any size (resized to the first scale).
    `options` override fields of `settings` (optimizer, lr, tol; see `RunSettings`). The
    optimiser sees the variable in `canvas.scale` units; the losses see it clamped and rendered,
    as it will be saved. The default canvas is an RGB image in [0, 1].
    """
    settings = dataclasses.replace(settings or RunSettings(), **options)
    canvas = canvas or ImageCanvas()
    scale, device = canvas.scale, features.device

    def signal_of(p: torch.Tensor) -> torch.Tensor:
        # the losses judge the signal that will be saved: clamped to the valid range
        return canvas.render(canvas.clamp(p / scale))

    param = init.detach().to(device, torch.float32)
    step, start = 0, time.perf_counter()
    for stage, (size, n_steps) in enumerate(zip(schedule.sizes, schedule.steps)):
        param = canvas.layout(canvas.resize(param, size) * scale, device).requires_grad_(True)
        losses = {k: v.to(device) if isinstance(v, torch.nn.Module) else v
                  for k, v in build(size, features).items()}
        last: dict[str, float] = {}

        def evaluate() -> tuple[torch.Tensor, torch.Tensor]:
            sig = signal_of(param)
            terms = loss_terms(losses, sig, features(sig))
            total = torch.stack(list(terms.values())).sum()
            (grad,) = torch.autograd.grad(total, param)
            last.clear()
            last.update({k: float(v.detach()) for k, v in terms.items()})
            last["total"] = float(total.detach())
            return total.detach(), grad

        opt = _make_optimizer(settings, param, canvas)
        stopper = Stopper(settings.tol)
        for i in range(n_steps):
            loss = opt.step(evaluate)
            step += 1
            if not math.isfinite(loss):
                raise InputError("the optimisation diverged (loss is not finite); lower the learning rate or the weights")
            done = stopper(loss) or i == n_steps - 1
            if callback is not None:
                current = signal_of(param.detach())
                if callback(Progress(step, schedule.total, loss, dict(last), stage, len(schedule.sizes),
                                     size, time.perf_counter() - start, current)):
                    return current.cpu()
            if done:
                step += n_steps - 1 - i  # steps skipped on convergence count as done
                break
        param = canvas.clamp(param.detach() / scale)
    return canvas.render(param).cpu()


def objective(losses: dict[str, Loss], signal: torch.Tensor, features: Features) -> dict[str, float]:
    """Evaluate named losses (and their total) on a signal without gradients."""
    with torch.no_grad():
        sig = signal.to(features.device, torch.float32)
        terms = loss_terms(losses, sig, features(sig))
    out = {k: float(v) for k, v in terms.items()}
    out["total"] = sum(out.values())
    return out
