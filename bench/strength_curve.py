"""How evenly `strength` moves a one-pass painting from the photo to the full style.

For a preset and a style image (the any-style network) on a few photos at 384 px, `apply` runs
at strength 0, 0.1, ..., 1. Two fractions of the way from the photo (0) to the full-strength
painting (1) are measured for each strength s:

  style      (G(photo) - G(out_s)) / (G(photo) - G(out_1)), G = brushwork.metrics.gram_distance
             to the style image (a preset: to its full-strength painting)
  content    C(out_s) / C(out_1), C = brushwork.metrics.content_distance to the photo

An even knob has both near s; their mean is the measure of how far along the result looks. The table gives the fractions at 0.2, 0.5 and 0.8
and the strength at which the mean crosses one half (the perceptual half-way point), averaged
over the photos.

    BRUSHWORK_DATA=/work/shared/data .venv/bin/python bench/strength_curve.py
Results: bench/results/<timestamp>-strength/{results.json,table.md}.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, data_dir  # noqa: E402

PHOTOS = ("chicago.jpg", "tubingen.jpg", "golden_gate.jpg")
STYLE = "the_scream.jpg"
STRENGTHS = tuple(i / 10 for i in range(11))


def half_way(xs: list[float], ys: list[float]) -> float:
    """The x where the piecewise-linear curve (xs, ys) first reaches 0.5."""
    for (x0, y0), (x1, y1) in zip(zip(xs, ys), zip(xs[1:], ys[1:])):
        if y0 <= 0.5 <= y1 and y1 > y0:
            return x0 + (0.5 - y0) / (y1 - y0) * (x1 - x0)
    return float("nan")


def curve(photo, reference, **source) -> dict:
    import brushwork
    from brushwork.metrics import content_distance, gram_distance
    outs = [brushwork.apply(photo, strength=s, device="cpu", **source) for s in STRENGTHS]
    ref = outs[-1] if reference is None else reference
    g = [gram_distance(o, ref, device="cpu") for o in outs]
    c = [content_distance(o, photo, device="cpu") for o in outs]
    style = [(g[0] - gi) / (g[0] - g[-1]) for gi in g]
    content = [ci / c[-1] for ci in c]
    both = [(a + b) / 2 for a, b in zip(style, content)]
    return {"style": style, "content": content, "mean": both, "half_way": half_way(list(STRENGTHS), both)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", type=int, default=7)
    ap.add_argument("--side", type=int, default=384)
    ap.add_argument("--photos", default=",".join(PHOTOS), help="sample content photos, comma-separated")
    a = ap.parse_args(argv)
    from brushwork.image import fit, load_image, resize

    style_path = data_dir() / "samples" / "style" / STYLE
    style = load_image(style_path)
    out_dir = REPO / "bench" / "results" / (datetime.now().strftime("%Y%m%d-%H%M%S") + "-strength")
    out_dir.mkdir(parents=True)
    rows = []
    for name in a.photos.split(","):
        photo = load_image(data_dir() / "samples" / "content" / name)
        photo = resize(photo, fit(photo.shape[-2:], a.side))
        for label, source, ref in ((f"preset {a.preset}", {"preset": a.preset}, None),
                                   (f"style {STYLE}", {"style": style}, style)):
            r = curve(photo, ref, **source)
            r.update(photo=name, source=label)
            rows.append(r)
            print(json.dumps(r), flush=True)
    picks = (2, 5, 8)  # strengths 0.2, 0.5, 0.8
    lines = ["| source | style fraction at 0.2 / 0.5 / 0.8 | content fraction | mean | half-way strength (mean) |",
             "|---|---|---|---|---|"]
    for label in dict.fromkeys(r["source"] for r in rows):
        mine = [r for r in rows if r["source"] == label]

        def mean(key: str, i: int) -> float:
            return sum(r[key][i] for r in mine) / len(mine)
        hw = sum(r["half_way"] for r in mine) / len(mine)
        style_at = " / ".join(f"{mean('style', i):.2f}" for i in picks)
        content_at = " / ".join(f"{mean('content', i):.2f}" for i in picks)
        both_at = " / ".join(f"{mean('mean', i):.2f}" for i in picks)
        lines.append(f"| {label} | {style_at} | {content_at} | {both_at} | {hw:.2f} |")
    table = "\n".join(lines) + "\n"
    (out_dir / "results.json").write_text(json.dumps(rows, indent=1))
    (out_dir / "table.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
