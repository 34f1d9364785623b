"""Stroke scale of the one-pass networks: stroke frequency at two output sizes, with and without
the default `stroke_scale="auto"`.

A photo (default: $BRUSHWORK_DATA/samples/content/tubingen.jpg) is resized to 1024 and 3000 px
(long side) and painted by a preset (default 7) and by the any-style network (default style:
starry_night.jpg) at stroke_scale 1 (the network's own stroke size in pixels: the old
behaviour) and "auto". For each output:

  stroke frequency   brushwork.metrics.stroke_frequency: the centroid of the gradient-energy
                     spectrum of the luminance, in cycles per image width. Strokes relative to
                     the picture give the same number at both sizes; strokes of a fixed pixel
                     size give ~3x more cycles at 3000 px.
  seconds            wall time of `apply` (2 cores, under whatever load the machine has)

Crops (256 px at 100 %, the same part of the picture at both sizes scaled to the same width)
are written beside the table, to look at.

    BRUSHWORK_DATA=/work/shared/data .venv/bin/python bench/stroke_scale.py
Results: bench/results/<timestamp>-stroke/{results.json,table.md,*.png}.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photo", type=Path, default=None)
    ap.add_argument("--preset", type=int, default=7)
    ap.add_argument("--style", type=Path, default=None)
    ap.add_argument("--sizes", default="1024,3000")
    ap.add_argument("--no-style", action="store_true", help="the preset only (not the any-style network)")
    a = ap.parse_args(argv)
    import brushwork
    from brushwork.image import fit, load_image, resize, save_image
    from brushwork.metrics import stroke_frequency

    photo = load_image(a.photo or data_dir() / "samples" / "content" / "tubingen.jpg")
    style = a.style or data_dir() / "samples" / "style" / "starry_night.jpg"
    out_dir = REPO / "bench" / "results" / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-stroke")
    out_dir.mkdir(parents=True)
    rows = []
    sources = [(f"preset {a.preset}", {"preset": a.preset})] + ([] if a.no_style else [(f"style {style.name}",
                                                                                        {"style": style})])
    for source, kw in sources:
        for side in (int(s) for s in a.sizes.split(",")):
            image = resize(photo, fit(photo.shape[-2:], side))
            for scale in (1.0, "auto"):
                t = time.perf_counter()
                out = brushwork.apply(image, stroke_scale=scale, device="cpu", **kw)
                seconds = time.perf_counter() - t
                h, w = out.shape[-2:]
                crop = out[..., h // 3: h // 3 + 256, w // 3: w // 3 + 256]
                name = f"{source.split()[0]}_{side}_{scale}"
                save_image(crop, out_dir / f"{name}_crop100.png")
                save_image(resize(out, fit((h, w), 768)), out_dir / f"{name}_whole.png")
                r = dict(source=source, side=side, stroke_scale=scale, seconds=seconds,
                         stroke_frequency=stroke_frequency(out), photo_frequency=stroke_frequency(image))
                rows.append(r)
                print(json.dumps(r), flush=True)
    lines = ["| source | long side | stroke_scale | stroke frequency (cycles / width) | photo's | × at 1024 | s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        base = next(b for b in rows if b["source"] == r["source"] and b["stroke_scale"] == r["stroke_scale"])
        lines.append(f"| {r['source']} | {r['side']} | {r['stroke_scale']} | {r['stroke_frequency']:.1f} | "
                     f"{r['photo_frequency']:.1f} | {r['stroke_frequency'] / base['stroke_frequency']:.2f} | "
                     f"{r['seconds']:.1f} |")
    table = "\n".join(lines) + "\n"
    (out_dir / "results.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "table.md").write_text(table)
    print(table)
    print(out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
