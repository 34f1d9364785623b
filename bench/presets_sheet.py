"""A sheet of every style of a multistyle network on three photos: one row per photo, the photo
then each style, labelled. By default our shipped named presets, written to
docs/images/presets_ours.jpg.

    .venv/bin/python bench/presets_sheet.py                      # the shipped presets
    .venv/bin/python bench/presets_sheet.py --model six.bw -o /tmp/six.jpg
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from _common import REPO, data_dir  # noqa: E402
from brushwork.feedforward import apply  # noqa: E402
from brushwork.feedforward.modelfile import load_model  # noqa: E402
from brushwork.feedforward.presets import NAMED_MODEL  # noqa: E402
from brushwork.image import fit, load_image, resize, to_pil  # noqa: E402

PHOTOS = ("chicago.jpg", "golden_gate.jpg", "astronaut.png")


def _crop_4_3(img: torch.Tensor) -> torch.Tensor:
    """The centre of a photo at 4:3 (landscape), so that every row has the same shape."""
    h, w = img.shape[-2:]
    ch, cw = min(h, w * 3 // 4), min(w, h * 4 // 3)
    top, left = (h - ch) // 2, (w - cw) // 2
    return img[..., top:top + ch, left:left + cw]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=NAMED_MODEL, help="a multistyle .bw (default: ours, shipped)")
    ap.add_argument("--size", type=int, default=384, help="the photos' long side when painted (default 384)")
    ap.add_argument("--tile", type=int, default=256, help="each picture's long side on the sheet (default 256)")
    ap.add_argument("-o", "--output", type=Path, default=REPO / "docs" / "images" / "presets_ours.jpg")
    a = ap.parse_args()
    torch.manual_seed(0)
    model = load_model(a.model, "cpu")
    rows = []
    for name in PHOTOS:
        photo = _crop_4_3(load_image(data_dir() / "samples" / "content" / name))
        photo = resize(photo, fit(photo.shape[-2:], a.size))
        rows.append([photo] + [apply(photo, model=model.with_weights(k), tile=0) for k in range(len(model.styles))])
    labels = ["photo", *model.styles]
    h, w = fit(rows[0][0].shape[-2:], a.tile)
    pad, label = 4, 18
    sheet = Image.new("RGB", (len(labels) * (w + pad) + pad, len(rows) * (h + pad) + label + pad), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=14)
    for c, text in enumerate(labels):
        draw.text((pad + c * (w + pad) + 2, 2), text, fill="black", font=font)
    for r, images in enumerate(rows):
        for c, img in enumerate(images):
            tile = to_pil(resize(img, fit(img.shape[-2:], a.tile)))
            sheet.paste(tile, (pad + c * (w + pad), label + pad + r * (h + pad)))
    a.output.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(a.output, quality=88)
    print(f"wrote {a.output} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
