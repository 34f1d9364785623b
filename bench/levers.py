"""Cheaper arithmetic, measured alone: VGG-19 forward+backward to relu5_1 by dtype and memory format.

The engine's per-step cost is almost all one forward+backward of the feature network, so this
is where dtype (fp32 / bf16) and layout (NCHW / channels_last) show their effect without the
noise of an optimisation. Variants are interleaved round by round so that load from other
processes hits all of them alike; medians and minima are printed (and written as JSON).

The layout is the input's (the weights' layout matters little: oneDNN follows the input). Note that
the engine's image is already channels_last when it starts from brushwork.image.load_image (an HWC
array permuted, not copied), so "channels_last" here is what the engine runs today with a
content or image init, and "fp32"/"bf16" what it runs with a noise init.

    .venv/bin/python bench/levers.py --sizes 256 512 --rounds 5 [--threads 1] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from brushwork.features import VGG19Features

VARIANTS = {
    "fp32": (torch.float32, False),
    "fp32 channels_last": (torch.float32, True),
    "bf16": (torch.bfloat16, False),
    "bf16 channels_last": (torch.bfloat16, True),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="long side; the short side is 3/4")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    nets = {}
    for name, (dt, cl) in VARIANTS.items():
        net = VGG19Features(("relu5_1",)).to(dtype=dt)
        nets[name] = (net.to(memory_format=torch.channels_last) if cl else net, dt, cl)
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__, "results": []}
    print(f"threads {torch.get_num_threads()}, torch {torch.__version__}")
    print("| size | variant | fwd+bwd median s | min s | × fp32 |")
    print("|---|---|---|---|---|")
    for size in a.sizes:
        hw = (size * 3 // 4, size)
        times: dict[str, list[float]] = {k: [] for k in nets}
        for r in range(a.rounds + 1):  # round 0 warms up (oneDNN primitive creation)
            for name, (net, dt, cl) in nets.items():
                x = torch.rand(1, 3, *hw, dtype=dt)
                if cl:
                    x = x.contiguous(memory_format=torch.channels_last)
                x.requires_grad_(True)
                t = time.perf_counter()
                y = net(x)["relu5_1"]
                torch.autograd.grad(y, x, torch.ones_like(y))
                if r:
                    times[name].append(time.perf_counter() - t)
        base = statistics.median(times["fp32"])
        for name, ts in times.items():
            med = statistics.median(ts)
            out["results"].append({"size": list(hw), "variant": name, "median_s": med, "min_s": min(ts), "all_s": ts})
            print(f"| {hw[1]}x{hw[0]} | {name} | {med:.3f} | {min(ts):.3f} | {med / base:.2f} |", flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
