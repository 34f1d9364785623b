"""Fast video pipeline: frames per second, and how much the flow-guided consistency buys.

On a real clip scaled to 1280x720 (default: $BRUSHWORK_DATA/video/sam2_bedroom, the first 30
frames), `brushwork.stylize_video` runs four times into H.264 mp4s: a preset and a style image,
each per-frame (consistency 0) and consistent (the default 0.7). For each run:

  fps              frames / wall time of the whole job (decode, paint, flow, blend, encode)
  temporal error   brushwork.metrics: output t vs output t-1 warped along the INPUT's flow,
                   masked by Ruder et al.'s consistency check (mean squared RGB, 0-1 units)
  Gram distance    to the style image (style runs only), averaged over 8 frames: the
                   consistency must not buy steadiness by painting less style

    .venv/bin/python bench/video_consistency.py                 # ~3 min on 2 cores
    .venv/bin/python bench/video_consistency.py --clip path/to/clip.mp4 --frames 60
Results: bench/results/<timestamp>-video/{results.json,table.md,*.mp4}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, data_dir  # noqa: E402

PRESET = 7
STYLE = "starry_night.jpg"


def run(clip: Path, out: Path, frames: int, size: str, consistency: float, **source) -> dict:
    import brushwork
    t = time.perf_counter()
    brushwork.stylize_video(clip, out, size=size, consistency=consistency, max_frames=frames, restart=True,
                            device="cpu", **source)
    wall = time.perf_counter() - t
    return {"wall_s": wall, "fps": frames / wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=None, help="a clip or frame folder (default sam2_bedroom)")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", default="1280x720")
    a = ap.parse_args(argv)
    from brushwork.metrics import evaluate_video

    clip = a.clip or data_dir() / "video" / "sam2_bedroom"
    style = data_dir() / "samples" / "style" / STYLE
    out_dir = REPO / "bench" / "results" / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-video")
    out_dir.mkdir(parents=True)
    rows = []
    for label, source in ((f"preset {PRESET}", {"preset": PRESET}), (f"style {STYLE}", {"style": style})):
        for consistency in (0.0, 0.7):
            out = out_dir / f"{label.split()[0]}_{consistency}.mp4"
            r = run(clip, out, a.frames, a.size, consistency, **source)
            m = evaluate_video(out, content=clip, style=style if "style" in source else None, device="cpu")
            r.update(source=label, consistency=consistency, temporal_error=m["temporal_error"],
                     gram_distance=m.get("gram_distance"), ssim=m.get("ssim"))
            rows.append(r)
            print(json.dumps(r), flush=True)
    lines = [f"Clip: {clip.name}, first {a.frames} frames at {a.size}.", "",
             "| source | consistency | fps | × per-frame time | temporal error | × per-frame error | Gram distance | SSIM |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = next(b for b in rows if b["source"] == r["source"] and b["consistency"] == 0.0)
        g = "–" if r["gram_distance"] is None else f"{r['gram_distance']:.3f}"
        lines.append(f"| {r['source']} | {r['consistency']} | {r['fps']:.2f} | {r['wall_s'] / base['wall_s']:.2f} | "
                     f"{r['temporal_error']:.5f} | {r['temporal_error'] / base['temporal_error']:.2f} | {g} | "
                     f"{r['ssim']:.3f} |")
    table = "\n".join(lines) + "\n"
    (out_dir / "results.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
