"""Stylized QR codes: decode pass rate over the perturbation battery, and time.

For versions 2, 5 and 10 at levels M and H (payloads that need exactly that version), three
pictures of the same code at the same size:

- plain: the black-and-white code (the ceiling);
- stylized: `brushwork.qr` with the painting (defaults, verify-and-repair included; timed);
- blend: the painting alpha-blended with the plain code, alpha chosen (bisection) so the blend
  is as far from the painting as the stylized code is (mean absolute RGB difference): the same
  visual strength, spent without knowing where a reader looks.

The pass rate is `metrics.qr_robustness`: the share of (perturbation, decoder) readings that give
the payload, over 13 perturbations (clean, scale 0.75/0.5/0.25, blur 1/2 px, JPEG q90/70/50, two
tilts, brightness -/+30 %) and two decoders (zxing-cpp, OpenCV).

    .venv/bin/python bench/qr_robustness.py [--style starry_night.jpg] [--versions 2,5,10] [--levels M,H]

Writes bench/results/qr-<time>/ (results.json, table.md, every picture as PNG).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import brushwork  # noqa: E402
from brushwork.image import load_image, resize, save_image  # noqa: E402
from brushwork.metrics import qr_robustness  # noqa: E402
from brushwork.qrcode import make_code  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Byte-mode capacities: version v at level L fits a payload of length CAP[(v, L)] but not more.
LENGTHS = {(2, "M"): 24, (2, "H"): 12, (5, "M"): 80, (5, "H"): 44, (10, "M"): 200, (10, "H"): 110}


def payload(version: int, level: str) -> str:
    """An https link exactly long enough to need `version` at `level`."""
    n = LENGTHS[(version, level)]
    text = ("https://example.org/" + "m" * n)[:n]
    assert make_code(text, None, level).version == version, (version, level, make_code(text, None, level).version)
    return text


def square(img: torch.Tensor) -> torch.Tensor:
    """The centred square crop (what brushwork.qr paints when no content is given)."""
    h, w = img.shape[-2:]
    s = min(h, w)
    return img[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]


def blend_like(painting: torch.Tensor, plain: torch.Tensor, target: float) -> torch.Tensor:
    """(1 - a) painting + a plain with mean |blend - painting| = target."""
    lo, hi = 0.0, 1.0
    for _ in range(30):
        a = (lo + hi) / 2
        d = float(((painting * (1 - a) + plain * a) - painting).abs().mean())
        lo, hi = (a, hi) if d < target else (lo, a)
    return painting * (1 - a) + plain * a


def sheet(out: Path, rows: list[dict], style: Path, side: int = 256) -> None:
    """One row per code: the painting, the plain code, the blend, the stylized code."""
    pics = []
    for r in rows:
        name = f"v{r['version']}-{r['level']}"
        row = [resize(square(load_image(style)), (side, side))] + [
            resize(load_image(out / f"{name}-{kind}.png"), (side, side)) for kind in ("plain", "blend", "stylized")]
        pics.append(torch.cat(row, dim=3))
    save_image(torch.cat(pics, dim=2), out / "sheet.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--style", default="starry_night.jpg", help="a painting in $BRUSHWORK_DATA/samples/style")
    ap.add_argument("--versions", default="2,5,10")
    ap.add_argument("--levels", default="M,H")
    ap.add_argument("--steps", type=int, default=None, help="optimisation steps (default: brushwork.qr's)")
    ap.add_argument("--module-px", type=int, default=None, help="px a module (default: brushwork.qr's size)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = Path(os.environ.get("BRUSHWORK_DATA", REPO.parent / "shared" / "data"))
    style = data / "samples" / "style" / args.style
    out = REPO / "bench" / "results" / time.strftime("qr-%Y%m%d-%H%M%S")
    out.mkdir(parents=True)
    rows = []
    for v in (int(s) for s in args.versions.split(",")):
        for level in args.levels.split(","):
            text = payload(v, level)
            kw = {} if args.steps is None else {"steps": args.steps}
            if args.module_px:
                kw["size"] = args.module_px * make_code(text, v, level).side
            t0 = time.perf_counter()
            made = brushwork.qr(text, style, ec=level, version=v, seed=0, **kw)
            seconds = time.perf_counter() - t0
            side = made.image.shape[-1]
            plain = made.code.plain(side)
            painting = resize(square(load_image(style)), (side, side))
            strength = float((made.image - painting).abs().mean())
            blend = blend_like(painting, plain, strength)
            name = f"v{v}-{level}"
            made.save(out / f"{name}-stylized.png")
            save_image(plain, out / f"{name}-plain.png")
            save_image(blend, out / f"{name}-blend.png")
            row = dict(version=v, level=level, side=side, seconds=round(seconds, 1), repairs=made.repairs,
                       strength=round(strength, 4),
                       plain=qr_robustness(plain, text).pass_rate,
                       stylized=made.robustness.pass_rate,
                       blend=qr_robustness(blend, text).pass_rate,
                       failed=sorted(f"{c}/{d}" for c, by in made.robustness.cases.items() for d, ok in by.items()
                                     if not ok))
            rows.append(row)
            print(json.dumps(row), flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    lines = ["| version-level | side px | plain | stylized | blend (same strength) | repairs | time s |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['version']}-{r['level']} | {r['side']} | {r['plain']:.0%} | **{r['stylized']:.0%}** | "
              f"{r['blend']:.0%} | {r['repairs']} | {r['seconds']:.0f} |" for r in rows]
    (out / "table.md").write_text("\n".join(lines) + "\n")
    sheet(out, rows, style)
    print("\n".join(lines))
    print(f"results in {out}")


if __name__ == "__main__":
    main()
