"""The optimisation engine: L-BFGS, schedules, convergence, callbacks."""
import torch

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
