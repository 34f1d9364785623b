"""The optimisation engine: L-BFGS, schedules, convergence, canvases, composed builds, settings."""
import dataclasses

import pytest
import torch
import torch.nn.functional as F

from brushwork.errors import InputError
from brushwork.features import Features
from brushwork.features.stats import gram
from brushwork.losses import GramLoss, RangeLoss, TVLoss
from brushwork.optimize import ImageCanvas, RunSettings, combine, objective, optimize
from brushwork.optimize.canvas import luminance_canvas
from brushwork.optimize.engine import Schedule, Stopper
from brushwork.optimize.lbfgs import LBFGS


def test_lbfgs_minimises_rosenbrock():
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64)

    def fn():
        with torch.enable_grad():
            v = x.clone().requires_grad_(True)
            f = (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2
            (g,) = torch.autograd.grad(f, v)
        return f.detach(), g

    opt = LBFGS(x, first_step=0.1)
    for _ in range(200):
        opt.step(fn)
    torch.testing.assert_close(x, torch.tensor([1.0, 1.0], dtype=torch.float64), atol=1e-4, rtol=0)


def test_lbfgs_is_indifferent_to_the_loss_scale():
    """The first step is sized in parameter units, so tiny and huge objectives both converge."""
    for scale in (1e-6, 1e6):
        x = torch.zeros(10)
        target = torch.linspace(0, 9, 10)

        def fn():
            return scale * ((x - target) ** 2).sum(), scale * 2 * (x - target)

        opt = LBFGS(x)
        for _ in range(30):
            opt.step(fn)
        torch.testing.assert_close(x, target, atol=1e-3, rtol=0)


def test_coarse_to_fine_schedule():
    s = Schedule.coarse_to_fine((384, 512), steps=100, min_side=128, coarse_steps=50)
    assert s.sizes == [(96, 128), (192, 256), (384, 512)]
    assert s.steps == [50, 50, 100] and s.total == 200
    assert Schedule.coarse_to_fine((64, 64), steps=10).sizes == [(64, 64)]


def test_stopper_waits_for_a_plateau():
    stop = Stopper(tol=1e-3, window=5)
    assert not any(stop(100.0 - i) for i in range(20))  # still improving by ~1 % a step
    assert any(stop(80.0) for _ in range(10))            # flat: stops


class _Line:
    """A 1-D canvas: a (1, 1, T) signal in [-1, 1], resized linearly."""

    scale = 1.0

    def resize(self, x, size):
        return x if tuple(x.shape[-1:]) == tuple(size) else F.interpolate(x, size=size, mode="linear")

    def clamp(self, x):
        return x.clamp(-1, 1)

    def render(self, x):
        return x

    def layout(self, x, device):
        return x


class _Filters:
    """Features of a 1-D signal: fixed random filters, the kind an audio recipe uses."""

    taps = ("filters",)
    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self):
        self.weight = torch.randn(8, 1, 5, generator=torch.Generator().manual_seed(0))

    def __call__(self, x):
        return {"filters": F.conv1d(x, self.weight, padding=2).relu()}


def test_the_engine_optimises_any_canvas_with_its_own_features():
    feats = _Filters()
    target = torch.sin(torch.linspace(0, 20, 64))[None, None]
    target_gram = gram(feats(target)["filters"])

    def build(size, features):
        assert isinstance(features, Features) and len(size) == 1
        return {"style": GramLoss("filters", target_gram, 1e3)}

    start = 0.1 * torch.randn(1, 1, 16, generator=torch.Generator().manual_seed(1))
    before = objective(build((64,), feats), F.interpolate(start, size=64), feats)["total"]
    out = optimize(build, start, Schedule([(32,), (64,)], [20, 20]), feats, canvas=_Line(), tol=0)
    assert out.shape == (1, 1, 64) and out.abs().max() <= 1
    assert objective(build((64,), feats), out, feats)["total"] < 0.1 * before


def test_combined_builds_union_their_losses_and_refuse_a_name_twice():
    tv = lambda size, ex: {"tv": TVLoss()}  # noqa: E731
    rng = lambda size, ex: {"range": RangeLoss()}  # noqa: E731
    assert set(combine(tv, rng)((8, 8), None)) == {"tv", "range"}
    with pytest.raises(ValueError, match="'tv'"):
        combine(tv, rng, tv)((8, 8), None)


def test_run_settings_are_frozen_and_checked():
    s = RunSettings(optimizer="adam", lr=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.lr = 3.0
    with pytest.raises(InputError, match="unknown optimizer 'sgd'"):
        RunSettings(optimizer="sgd")
    assert s.features(["relu1_1"]).taps == ("relu1_1",)


def test_image_canvas_keeps_pixels_valid_and_renders_luminance_as_grey(content):
    canvas = luminance_canvas()
    y = canvas.layout(canvas.resize(content[:, :1], (20, 30)), torch.device("cpu"))
    assert y.is_contiguous(memory_format=torch.channels_last)
    rgb = canvas.render(canvas.clamp(y * 3 - 1))
    assert rgb.shape == (1, 3, 20, 30) and rgb.min() >= 0 and rgb.max() <= 1
    assert torch.equal(rgb[:, 0], rgb[:, 2])
    assert ImageCanvas.scale == 255.0
