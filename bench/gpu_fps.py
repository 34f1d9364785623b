"""Frames per second of the fast (Johnson) network at 1920×1080, the way brushwork paints.

Each frame goes through `TorchStylizer.painter`, the path `apply` and `video --model` take with
our networks: on CUDA that is float16 autocast, channels-last, cuDNN autotuning. The same network
called directly in float32 is the reference (speed and the float16 error). Three numbers each:

- network: the frame already on the GPU, the painting left there (the network's own speed);
- with copies: a CPU frame in, a CPU painting out (what a video pipeline pays per frame);
- batch: `--batch` frames per call, on the GPU.

    python bench/gpu_fps.py                      # an untrained network: the speed does not depend on weights
    python bench/gpu_fps.py --model presets.bw   # a trained one
    python bench/gpu_fps.py --device cpu --size 320x180 --frames 5   # a smoke run anywhere

Prints a Markdown table and writes `--json` if given.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import date

import torch

from brushwork.feedforward.base import TorchStylizer
from brushwork.feedforward.modelfile import load_model
from brushwork.feedforward.networks import TransformerNet


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rate(fn, frames: int, device: torch.device, per_call: int = 1) -> float:
    fn()                       # warm-up: cuDNN autotuning, allocator
    fn()
    _sync(device)
    t = time.perf_counter()
    for _ in range(frames):
        fn()
    _sync(device)
    return frames * per_call / (time.perf_counter() - t)


def measure(paint, device: torch.device, hw: tuple[int, int], frames: int, batch: int) -> dict:
    """fps of a painter: a frame on the device, a CPU frame with copies, and batches."""
    gen = torch.Generator().manual_seed(0)
    cpu_frame = torch.rand(1, 3, *hw, generator=gen)
    gpu_frame = cpu_frame.to(device)
    out: dict = {"network_fps": _rate(lambda: paint(gpu_frame), frames, device),
                 "with_copies_fps": _rate(lambda: paint(cpu_frame).cpu(), frames, device)}
    stack = gpu_frame.expand(batch, -1, -1, -1).contiguous()
    out[f"batch{batch}_fps"] = _rate(lambda: paint(stack), max(1, frames // batch), device, batch)
    out["image"] = paint(gpu_frame).float().cpu()
    if device.type == "cuda":
        out["peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        torch.cuda.reset_peak_memory_stats()
    return out


def plain_float32(network: torch.nn.Module, weights: list[float] | None, device: torch.device):
    """The reference: the network called directly, float32, NCHW, default cuDNN choices."""
    network = network.to(device).float().eval()

    @torch.inference_mode()
    def paint(x: torch.Tensor) -> torch.Tensor:
        return network(x.to(device), weights).clamp(0, 1)
    return paint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a trained .bw file (default: an untrained 32-64-128 network)")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT")
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    device = torch.device(a.device)
    w, h = (int(v) for v in a.size.lower().split("x"))
    if a.model:
        stylizer = load_model(a.model, device)                # a FastModel or MultiStyleModel (its first style)
        network, weights = stylizer.network, getattr(stylizer, "weights", None)
    else:
        torch.manual_seed(0)
        network, weights = TransformerNet(), None
        stylizer = TorchStylizer(network, device)
    # the reference first: brushwork's painter switches the network to channels-last on CUDA
    reference = {"path": "float32, called directly",
                 **measure(plain_float32(network, weights, device), device, (h, w), a.frames, a.batch)}
    half = device.type == "cuda"
    ours = {"path": "brushwork painter" + (" (float16, channels-last)" if half else " (float32)"),
            **measure(stylizer.painter(torch.zeros(1, 3, h, w)), device, (h, w), a.frames, a.batch)}
    err = (ours["image"] - reference["image"]).abs()
    ours["mean_abs_error_vs_float32"], ours["max_abs_error_vs_float32"] = float(err.mean()), float(err.max())
    rows = [reference, ours]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"{a.size}, {name}, torch {torch.__version__}, {date.today()}")
    print(f"| path | network fps | with copies fps | batch {a.batch} fps | peak GB | mean |Δ| vs fp32 |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['path']} | {r['network_fps']:.1f} | {r['with_copies_fps']:.1f} | "
              f"{r[f'batch{a.batch}_fps']:.1f} | {r.get('peak_gb', '–')} | "
              f"{r.get('mean_abs_error_vs_float32', 0):.2g} |")
    print("goal: at least 100 fps at 1920x1080 on an H100 (network fps of the brushwork painter)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"size": a.size, "device": name, "torch": torch.__version__, "date": str(date.today()),
                       "model": a.model, "rows": [{k: v for k, v in r.items() if k != "image"} for r in rows]},
                      f, indent=2)


if __name__ == "__main__":
    main()
