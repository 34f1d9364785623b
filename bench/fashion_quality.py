"""Fashion: how well the automatic garment mask matches hand-drawn ones, and time per method.

    BRUSHWORK_DATA=/work/shared/data python bench/fashion_quality.py [--size 512] [--steps 150]
        [--sheet docs/images/fashion_sheet.jpg] [--paint 4]

1. Mask IoU: for every photo in bench/fashion_masks.json (hand-drawn polygons over ImageNet
   samples of garments), the mask `brushwork.garment_mask` finds (GrabCut + guided filter),
   thresholded at 0.5, against the drawn one; beside it the trivial baseline GrabCut starts from
   (everything but the border band).
2. Time: `fast` and `iterate` side by side on the first `--paint` photos (the hand mask given, so
   only the painting is timed), each with a painting from BRUSHWORK_DATA/paintings.
3. A sheet: photo | mask found | fast | iterate, one row a photo.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import brushwork  # noqa: E402
from brushwork.garments import GRABCUT_MARGIN  # noqa: E402
from brushwork.image import load_image, resize, save_image  # noqa: E402

PATTERNS = ["fast-neural-st__mosaic.jpg", "AdaIN-style__flower_of_life.jpg", "Neural-Style-T__wave_kanagawa.jpg",
            "fast-neural-st__candy.jpg", "AdaIN-style__mondrian.jpg"]


def drawn_mask(spec: dict) -> np.ndarray:
    import cv2
    w, h = spec["size"]
    m = np.zeros((h, w), np.uint8)
    for poly in spec["polygons"]:
        cv2.fillPoly(m, [np.array(poly, np.int32)], 1)
    for poly in spec.get("holes", []):
        cv2.fillPoly(m, [np.array(poly, np.int32)], 0)
    return m.astype(bool)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def rect_baseline(shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    m = np.zeros((h, w), bool)
    mx, my = max(1, round(GRABCUT_MARGIN * w)), max(1, round(GRABCUT_MARGIN * h))
    m[my:h - my, mx:w - mx] = True
    return m


def _found(photo: torch.Tensor) -> torch.Tensor | None:
    try:
        return brushwork.garment_mask(photo)
    except brushwork.InputError:
        return None


def overlay(photo: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    tint = torch.tensor([0.1, 0.5, 0.1]).view(1, 3, 1, 1)
    return photo * (0.35 + 0.65 * mask) + tint * (1 - mask) * 0.4


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("BRUSHWORK_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--paint", type=int, default=4, help="how many photos to paint with both methods")
    ap.add_argument("--sheet", type=Path, default=ROOT / "docs" / "images" / "fashion_sheet.jpg")
    ap.add_argument("--no-iou", action="store_true", help="skip the mask IoU table (paint and time only)")
    a = ap.parse_args()
    photos = Path(a.data) / "photos" / "imagenet_samples"
    paintings = Path(a.data) / "paintings" / "style_repos"
    spec = json.loads((ROOT / "bench" / "fashion_masks.json").read_text())["photos"]
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'photo':28s} {'IoU found':>9s} {'IoU rect':>9s} {'find s':>7s}")
    found_masks, ious, rects = {}, [], []
    for name, s in ({} if a.no_iou else spec).items():
        photo = load_image(photos / name)
        hand = drawn_mask(s)
        t = time.perf_counter()
        try:
            found = brushwork.garment_mask(photo)
            score = iou(found[0, 0].numpy() >= 0.5, hand)
        except brushwork.InputError as e:
            found, score = None, 0.0
            print(f"  {name}: refused: {e}")
        dt = time.perf_counter() - t
        found_masks[name] = found
        base = iou(rect_baseline(hand.shape), hand)
        ious.append(score)
        rects.append(base)
        print(f"{name[:28]:28s} {score:9.3f} {base:9.3f} {dt:7.2f}")
    if ious:
        print(f"{'mean':28s} {np.mean(ious):9.3f} {np.mean(rects):9.3f}")

    rows = []
    print(f"\npainting at --size {a.size}, iterate --steps {a.steps} (hand masks given)")
    print(f"{'photo':28s} {'fast s':>7s} {'iterate s':>9s} {'ratio':>6s}")
    for i, name in enumerate(list(spec)[:a.paint]):
        photo = load_image(photos / name)
        hand = torch.from_numpy(drawn_mask(spec[name]).astype(np.float32))[None, None]
        pattern = paintings / PATTERNS[i % len(PATTERNS)]
        times, outs = {}, {}
        for method in ("fast", "iterate"):
            t = time.perf_counter()
            outs[method] = brushwork.fashion(photo, pattern, masks=hand, method=method, size=a.size, steps=a.steps)
            times[method] = time.perf_counter() - t
        print(f"{name[:28]:28s} {times['fast']:7.1f} {times['iterate']:9.1f} {times['iterate'] / times['fast']:6.1f}",
              flush=True)
        found = found_masks[name] if name in found_masks else _found(photo)
        shown = overlay(photo, found if found is not None else torch.zeros_like(hand))
        pat = resize(load_image(pattern), photo.shape[-2:])
        row = torch.cat([photo, pat, shown, outs["fast"], outs["iterate"]], 3)
        rows.append(resize(row, (256, round(256 * row.shape[-1] / row.shape[-2]))))
    if rows:
        width = max(r.shape[-1] for r in rows)
        rows = [torch.nn.functional.pad(r, (0, width - r.shape[-1]), value=1.0) for r in rows]
        a.sheet.parent.mkdir(parents=True, exist_ok=True)
        save_image(torch.cat(rows, 2), a.sheet)
        print(f"sheet: {a.sheet} (photo | pattern | mask found | fast | iterate)")


if __name__ == "__main__":
    main()
