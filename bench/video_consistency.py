"""Fast video pipeline: frames per second, and how much the flow-guided consistency buys.

On a real clip scaled to 1280x720 (default: $BRUSHWORK_DATA/video/sam2_bedroom, the first 30
frames), `brushwork.stylize_video` runs into H.264 mp4s: presets 7 and 19 (a fine-texture one)
and a style image, each per-frame (consistency 0) and consistent (the default 0.7). With
`--baseline DIR` (a checkout of another commit, e.g. `git archive main | tar -x -C DIR`) every
job also runs with that code, in a subprocess, side by side under the same load; both are
measured with this checkout's metrics. For each run:

  fps              frames / wall time of the whole job (decode, paint, flow, blend, encode)
  temporal error   brushwork.metrics: output t vs output t-1 warped along the INPUT's flow,
                   masked by Ruder et al.'s consistency check (mean squared RGB, 0-1 units)
  static change    brushwork.metrics.static_change: mean absolute RGB change per frame (0-1)
                   where the input changes by less than STATIC_THRESHOLD (shimmer in still
                   areas, which the warping error, dominated by motion, hides); beside it the
                   input's own change there
  Gram distance    to the style image (style runs only), averaged over 8 frames: the
                   consistency must not buy steadiness by painting less style

    .venv/bin/python bench/video_consistency.py                 # ~5 min on 2 cores
    .venv/bin/python bench/video_consistency.py --baseline /tmp/main   # before/after, ~10 min
    .venv/bin/python bench/video_consistency.py --clip path/to/clip.mp4 --frames 60
Results: bench/results/<timestamp>-video/{results.json,table.md,*.mp4}.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, data_dir  # noqa: E402

PRESETS = (7, 19)
STYLE = "starry_night.jpg"


def run(clip: Path, out: Path, frames: int, size: str, consistency: float, code: Path | None = None,
        **source) -> dict:
    """One job, timed; with `code`, by that checkout's brushwork in a subprocess."""
    kw = dict(size=size, consistency=consistency, max_frames=frames, restart=True, device="cpu",
              **{k: str(v) if isinstance(v, Path) else v for k, v in source.items()})
    t = time.perf_counter()
    if code is None:
        import brushwork
        brushwork.stylize_video(clip, out, **kw)
    else:
        job = f"import brushwork, json, sys; brushwork.stylize_video({str(clip)!r}, {str(out)!r}, **json.loads(sys.argv[1]))"
        subprocess.run([sys.executable, "-c", job, json.dumps(kw)], check=True,
                       env={**os.environ, "PYTHONPATH": str(code)})
    wall = time.perf_counter() - t
    return {"wall_s": wall, "fps": frames / wall}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=None, help="a clip or frame folder (default sam2_bedroom)")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--baseline", type=Path, default=None, help="a checkout to compare with (its brushwork/ inside)")
    ap.add_argument("--presets", default=",".join(map(str, PRESETS)))
    ap.add_argument("--no-style", action="store_true", help="presets only (not the any-style network)")
    a = ap.parse_args(argv)
    from brushwork.metrics import evaluate_video, static_changes

    clip = a.clip or data_dir() / "video" / "sam2_bedroom"
    style = data_dir() / "samples" / "style" / STYLE
    out_dir = REPO / "bench" / "results" / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-video")
    out_dir.mkdir(parents=True)
    rows = []
    sources = [(f"preset {p}", {"preset": int(p)}) for p in a.presets.split(",")]
    sources += [] if a.no_style else [(f"style {STYLE}", {"style": style})]
    codes = [("this", None)] + ([("baseline", a.baseline)] if a.baseline else [])
    for label, source in sources:
        for consistency in (0.0, 0.7):
            for code_name, code in codes:
                out = out_dir / f"{label.split()[-1].split('.')[0]}_{consistency}_{code_name}.mp4"
                r = run(clip, out, a.frames, a.size, consistency, code, **source)
                m = evaluate_video(out, content=clip, style=style if "style" in source else None, device="cpu")
                still = [row for row in static_changes(out, clip) if row[0] == row[0]]
                r.update(source=label, consistency=consistency, code=code_name, temporal_error=m["temporal_error"],
                         static_change=sum(row[0] for row in still) / len(still),
                         input_change=sum(row[1] for row in still) / len(still),
                         still_fraction=sum(row[2] for row in still) / len(still),
                         gram_distance=m.get("gram_distance"), ssim=m.get("ssim"))
                rows.append(r)
                print(json.dumps(r), flush=True)
    lines = [f"Clip: {clip.name}, first {a.frames} frames at {a.size}.", "",
             "| source | consistency | code | fps | × per-frame time | temporal error | × per-frame error | "
             "static change (input's) | Gram distance | SSIM |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        base = next(b for b in rows if b["source"] == r["source"] and b["consistency"] == 0.0
                    and b["code"] == r["code"])
        g = "–" if r["gram_distance"] is None else f"{r['gram_distance']:.3f}"
        lines.append(f"| {r['source']} | {r['consistency']} | {r['code']} | {r['fps']:.2f} | "
                     f"{r['wall_s'] / base['wall_s']:.2f} | {r['temporal_error']:.5f} | "
                     f"{r['temporal_error'] / base['temporal_error']:.2f} | {r['static_change']:.4f} "
                     f"({r['input_change']:.4f}, {r['still_fraction']:.0%} of the frame) | {g} | {r['ssim']:.3f} |")
    table = "\n".join(lines) + "\n"
    (out_dir / "results.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
