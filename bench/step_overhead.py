"""Cost of one brushwork optimisation step over a bare VGG-19 forward+backward of the same size.

A step is what `optimize` does per L-BFGS iteration with pastiche's loss terms: the engine's
closure (features, 6 loss terms, gradient), the L-BFGS direction (history 50) and update, the
occasional extra evaluation of a backtrack, and the per-step callback bookkeeping (the clamped
image it hands over). Evaluations are counted per step, so the overhead of steps without a
backtrack (the step machinery itself) is reported apart from the median over all steps. The bare pass is `VGG19Features(('relu5_1',))` at the same size and dtype:
forward to relu5_1 and the gradient to the input, nothing else.

The bare pass's input has the layout the engine's image has (channels_last when it starts from
an image loaded by brushwork.image, see below), so both run the same convolutions.
The two are interleaved (one bare pass inside each step's callback, outside the step's timing)
so that load from other processes hits both alike; medians are reported.

    python bench/step_overhead.py --size 256 192 --dtype float32 --steps 30 --json out.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import CountingExtractor, load, pastiche_losses, pastiche_net  # noqa: E402
from brushwork.features import VGG19Features  # noqa: E402
from brushwork.optimize.engine import Schedule, optimize  # noqa: E402


def bare_pass(net: torch.nn.Module, x: torch.Tensor) -> None:
    out = net(x)["relu5_1"]
    torch.autograd.grad(out, x, torch.ones_like(out))


def measure(content_path: str, style_path: str, dtype: torch.dtype, steps: int, warmup: int = 3,
            channels_last: bool = False) -> dict:
    content, style = load(content_path), load(style_path)
    hw = tuple(content.shape[-2:])
    net = pastiche_net(dtype, channels_last=channels_last)
    ex = CountingExtractor(net, dtype)  # counts evaluations: a backtrack is a second one in a step
    bare_net = VGG19Features(("relu5_1",)).to(dtype=dtype)
    if channels_last:
        bare_net = bare_net.to(memory_format=torch.channels_last)
    # The engine's image keeps the layout of the init: brushwork.image.load_image returns an HWC
    # array permuted to (1, 3, H, W), i.e. channels_last strides, and that layout runs through the
    # whole network (conv outputs follow their input). The bare pass gets the same layout.
    nhwc = content.is_contiguous(memory_format=torch.channels_last) and not content.is_contiguous()
    x = torch.rand(1, 3, *hw, dtype=dtype)
    if nhwc or channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)

    def build(size, ex_):
        return pastiche_losses(content, style, size, ex_, tuple(style.shape[-2:]))

    step_t: list[float] = []
    step_evals: list[int] = []
    bare_t: list[float] = []
    mark = [0.0, 0]  # perf_counter at the end of the last callback, evaluations so far

    def callback(p) -> bool:
        now = time.perf_counter()
        evals = sum(ex.evals.values())
        if p.step > warmup:  # the first steps include the first evaluation and allocator warm-up
            step_t.append(now - mark[0])
            step_evals.append(evals - mark[1])
        t = time.perf_counter()
        bare_pass(bare_net, x)
        if p.step > warmup:
            bare_t.append(time.perf_counter() - t)
        mark[0], mark[1] = time.perf_counter(), evals
        return False

    mark[0] = time.perf_counter()
    optimize(build, content, Schedule([hw], [steps + warmup]), ex, tol=0, callback=callback)
    step_med, bare_med = statistics.median(step_t), statistics.median(bare_t)
    # Steps with exactly one evaluation: the cost of the step machinery itself, without backtracks.
    one = [(s, b) for s, b, e in zip(step_t, bare_t, step_evals) if e == 1] or list(zip(step_t, bare_t))
    one_med = statistics.median(s for s, _ in one)
    return {
        "size": list(hw), "dtype": str(dtype).replace("torch.", ""), "channels_last": channels_last,
        "image_layout": "channels_last" if nhwc else "contiguous",
        "steps_timed": len(step_t),
        "evals_per_step": sum(step_evals) / len(step_evals),  # over the timed steps
        "steps_with_backtrack": sum(1 for e in step_evals if e > 1),
        "step_median_s": step_med, "bare_median_s": bare_med,
        "step_min_s": min(step_t), "bare_min_s": min(bare_t),
        "overhead_pct": 100.0 * (step_med / bare_med - 1.0),
        "overhead_pct_min": 100.0 * (min(step_t) / min(bare_t) - 1.0),
        "overhead_pct_paired_median": 100.0 * statistics.median(s / b - 1.0 for s, b in zip(step_t, bare_t)),
        "one_eval_step_median_s": one_med,
        "overhead_pct_one_eval_steps": 100.0 * statistics.median(s / b - 1.0 for s, b in one),
        "step_s": step_t, "step_evals": step_evals, "bare_s": bare_t,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", required=True)
    ap.add_argument("--style", required=True)
    ap.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--json", required=True)
    a = ap.parse_args(argv)
    r = measure(a.content, a.style, getattr(torch, a.dtype), a.steps, channels_last=a.channels_last)
    Path(a.json).write_text(json.dumps(r))
    print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
