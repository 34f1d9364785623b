"""What `--style-weight` does: style and content distance of `brushwork.stylize` across a sweep.

For each pair and weight it runs the default recipe (only `size`, `steps` and the weight set)
and reports `metrics.evaluate`'s `gram_distance` and `sliced_wasserstein` (to the style; lower =
more like the painting) and `content_distance` (to the photo; higher = further from it), plus
two artefact measures on the result:

- `border`: how far the outermost rows/columns step from their neighbours (relative to the
  steps inside), over the same for the photo (1 = edges like the photo's; a painted line is
  well above).
- `speckle`: per-pixel chroma noise, the mean |I,Q − their 3×3 median| (YIQ, 0-1 units) over
  the photo's flattest quarter of pixels (sky, walls), × 1000.

It imports only the public API, so the same script measures any checkout: run it with
`PYTHONPATH=<other worktree>` to measure that code. Images and a contact sheet (rows = pairs,
columns = weights) go to `--out`.

    nice -n 10 .venv/bin/python bench/style_weight.py --size 256 --steps 100 --out /tmp/sw_after
    PYTHONPATH=/tmp/iter-before nice -n 10 .venv/bin/python bench/style_weight.py ... --out /tmp/sw_before
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import brushwork
from brushwork.image import load_image, resize, rgb_to_yiq, save_image
from brushwork.metrics import evaluate

WEIGHTS = (0.3, 1.0, 3.0, 10.0, 30.0)
PAIRS = (("chicago.jpg", "the_scream.jpg"), ("tubingen.jpg", "starry_night.jpg"))


def edge_jump(img: torch.Tensor) -> float:
    """Mean |outermost row/column − its neighbour| over the four sides, relative to the median
    such step between neighbouring rows/columns inside."""
    rows = (img[..., 1:, :] - img[..., :-1, :]).abs().mean(dim=(0, 1, 3))
    cols = (img[..., :, 1:] - img[..., :, :-1]).abs().mean(dim=(0, 1, 2))
    edge = torch.stack([rows[0], rows[-1], cols[0], cols[-1]]).mean()
    return float(edge / torch.cat([rows[2:-2], cols[2:-2]]).median())


def border(out: torch.Tensor, photo: torch.Tensor) -> float:
    """`edge_jump` of the result over the photo's: 1 = edges like the photo's, a line is well above."""
    return edge_jump(out) / edge_jump(photo)


def speckle(out: torch.Tensor, photo: torch.Tensor) -> float:
    """Chroma noise ×1000 over the photo's flattest quarter (lowest local luminance std)."""
    y = rgb_to_yiq(photo)[:, :1]
    mu = F.avg_pool2d(y, 5, 1, 2, count_include_pad=False)
    sd = (F.avg_pool2d(y * y, 5, 1, 2, count_include_pad=False) - mu * mu).clamp_min(0).sqrt()
    flat = sd <= sd.flatten().quantile(0.25)
    iq = rgb_to_yiq(out)[:, 1:]
    patches = F.unfold(F.pad(iq, (1, 1, 1, 1), mode="replicate"), 3).reshape(1, 2, 9, *iq.shape[-2:])
    noise = (iq - patches.median(dim=2).values).abs().mean(1, keepdim=True)
    return 1000 * float(noise[flat].mean())


def contact_sheet(rows: list[list[torch.Tensor]], tile: int = 256, gap: int = 4) -> torch.Tensor:
    """Tiles (each fitted into tile×tile, top-left) on a white grid."""
    n_cols = max(len(r) for r in rows)
    sheet = torch.ones(1, 3, len(rows) * (tile + gap) - gap, n_cols * (tile + gap) - gap)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            h, w = img.shape[-2:]
            s = tile / max(h, w)
            t = resize(img, (max(1, round(h * s)), max(1, round(w * s))))
            y, x = i * (tile + gap), j * (tile + gap)
            sheet[..., y:y + t.shape[-2], x:x + t.shape[-1]] = t
    return sheet


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--weights", type=float, nargs="+", default=list(WEIGHTS))
    ap.add_argument("--pairs", nargs="+", default=[f"{c}:{s}" for c, s in PAIRS], metavar="CONTENT:STYLE")
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("BRUSHWORK_DATA", "../shared/data")))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    samples = a.data / "samples"
    print(f"brushwork from {Path(brushwork.__file__).parent}, size {a.size}, steps {a.steps}, "
          f"threads {torch.get_num_threads()}, load {os.getloadavg()[0]:.1f}")
    print("| pair | style weight | gram_distance | sliced_wasserstein | content_distance | border | speckle | s |")
    print("|---|---|---|---|---|---|---|---|")
    results, sheet_rows = [], []
    for pair in a.pairs:
        c_name, s_name = pair.split(":")
        content, style = samples / "content" / c_name, samples / "style" / s_name
        photo = None
        row = []
        for w in a.weights:
            t0 = time.perf_counter()
            out = brushwork.stylize(content, style, size=a.size, steps=a.steps, style_weight=w,
                                    device="cpu", seed=0)
            secs = time.perf_counter() - t0
            if photo is None:
                photo = resize(load_image(content), tuple(out.shape[-2:]))
                row.append(photo)
            m = evaluate(out, content=content, style=style, device="cpu")
            r = dict(pair=f"{Path(c_name).stem}×{Path(s_name).stem}", style_weight=w, seconds=secs,
                     border=border(out, photo), speckle=speckle(out, photo), **m)
            results.append(r)
            row.append(out)
            save_image(out, a.out / f"{Path(c_name).stem}_{Path(s_name).stem}_sw{w:g}.png")
            print(f"| {r['pair']} | {w:g} | {m['gram_distance']:.4f} | {m['sliced_wasserstein']:.4f} | "
                  f"{m['content_distance']:.4f} | {r['border']:.2f} | {r['speckle']:.2f} | {secs:.0f} |",
                  flush=True)
        sheet_rows.append(row)
    save_image(contact_sheet(sheet_rows), a.out / "sheet.png")
    (a.out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"images, sheet.png and results.json in {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
