"""L-BFGS on one tensor, with a backtracking line search (Nocedal & Wright, Alg. 7.4 + 3.1).

One `step()` is one iteration: the full step is tried first (almost always accepted, so an
iteration usually costs one loss evaluation, as with a plain L-BFGS), and halved while the
Armijo condition fails. This keeps image iteration robust on objectives whose scale and
curvature vary a lot between recipes (Gram losses ~1e7, normalised feature inversion ~1).
"""
from __future__ import annotations

from typing import Callable

import torch

# fn() evaluates the objective at the parameter's current value: (loss, gradient).
Objective = Callable[[], tuple[torch.Tensor, torch.Tensor]]


class LBFGS:
    def __init__(self, param: torch.Tensor, history: int = 50, first_step: float = 1.0,
                 c1: float = 1e-4, max_backtracks: int = 12):
        """`first_step`: largest change of any element on the first (gradient) step."""
        self.param = param
        self.history = history
        self.first_step = first_step
        self.c1 = c1
        self.max_backtracks = max_backtracks
        self.s: list[torch.Tensor] = []
        self.y: list[torch.Tensor] = []
        self.rho: list[float] = []
        self.loss: float | None = None
        self.grad: torch.Tensor | None = None
        self.evals = 0

    def _eval(self, fn: Objective) -> tuple[float, torch.Tensor]:
        self.evals += 1
        loss, grad = fn()
        return float(loss), grad.detach()

    def _direction(self, g: torch.Tensor) -> torch.Tensor:
        if not self.s:
            return -g * (self.first_step / g.abs().max().clamp_min(1e-30))
        q = g.clone()
        alphas = []
        for s, y, rho in zip(reversed(self.s), reversed(self.y), reversed(self.rho)):
            a = rho * float((s * q).sum())
            alphas.append(a)
            q.add_(y, alpha=-a)
        s, y = self.s[-1], self.y[-1]
        q.mul_(float((s * y).sum()) / float((y * y).sum()))
        for (s, y, rho), a in zip(zip(self.s, self.y, self.rho), reversed(alphas)):
            b = rho * float((y * q).sum())
            q.add_(s, alpha=a - b)
        return -q

    @torch.no_grad()
    def step(self, fn: Objective) -> float:
        """One iteration; returns the loss at the new point."""
        if self.grad is None:
            with torch.enable_grad():
                self.loss, self.grad = self._eval(fn)
        g0, f0 = self.grad, self.loss
        d = self._direction(g0)
        slope = float((g0 * d).sum())
        if slope >= 0:  # not a descent direction: forget the curvature pairs
            self.s, self.y, self.rho = [], [], []
            d = self._direction(g0)
            slope = float((g0 * d).sum())
        x0 = self.param.detach().clone()
        t = 1.0
        for _ in range(self.max_backtracks):
            self.param.copy_(x0 + t * d)
            with torch.enable_grad():
                f, g = self._eval(fn)
            if f <= f0 + self.c1 * t * slope:
                break
            t *= 0.5
        else:  # no decrease found: stay put and restart from the gradient
            self.param.copy_(x0)
            self.s, self.y, self.rho = [], [], []
            return f0
        s = self.param.detach() - x0
        y = g - g0
        ys = float((y * s).sum())
        if ys > 1e-10 * float((y * y).sum()):
            self.s.append(s)
            self.y.append(y)
            self.rho.append(1.0 / ys)
            if len(self.s) > self.history:
                self.s.pop(0), self.y.pop(0), self.rho.pop(0)
        self.loss, self.grad = f, g
        return f
