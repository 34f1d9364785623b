"""Our trained networks vs the ONNX networks we ship, on the styles ours were trained on.

For each style of a multistyle `.bw` (default: our shipped named presets; its paintings are
found in `$BRUSHWORK_DATA/samples/style` by the file names on its card) and each sample photo,
at long side `--size`:

  multistyle   apply(photo, preset=name)                         our preset network
  student      apply(photo, style=painting, model=student.bw)    a student of the Magenta network (with --student;
                                                                 an .onnx export runs in the Magenta network's place)
  adain        apply(photo, style=painting, model=adain.bw)      an AdaIN decoder (with --adain)
  onnx         apply(photo, style=painting)                      the Magenta arbitrary network
  onnx26       apply(photo, preset=N)                            the one of the 26 ONNX presets whose
                                                                 painting is nearest (Gram distance on
                                                                 the first photo at 256 px)
  iterate      stylize(photo, painting)                          image iteration (Gatys), first photo only

Times are per photo, after a warm-up, with each style already prepared (encoded) once.

(The 26 ONNX presets' paintings are not shipped, so `onnx26` is the best of them for each
painting; the arbitrary network, given the very painting, is the strongest ONNX alternative.) Metrics from
`brushwork.metrics.evaluate`: Gram distance and sliced Wasserstein to the painting (style),
content distance and SSIM to the photo (content). A method is better when it is closer to the
painting at no worse content fidelity; the table gives the means and each method's wins.

    .venv/bin/python bench/trained_vs_onnx.py                     # the shipped networks
    .venv/bin/python bench/trained_vs_onnx.py --presets six.bw --adain adain.bw --photos 6
Results: bench/results/<timestamp>-trained/{results.json,table.md,sheet.png}.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from _common import REPO, data_dir  # noqa: E402
from brushwork.feedforward import NUM_PRESETS, apply, load_stylizer  # noqa: E402
from brushwork.feedforward.modelfile import load_model  # noqa: E402
from brushwork.feedforward.presets import NAMED_MODEL, ArbitraryStylizer  # noqa: E402
from brushwork.optimize import stylize  # noqa: E402
from brushwork.image import fit, load_image, resize, save_image  # noqa: E402
from brushwork.metrics import evaluate  # noqa: E402

PHOTOS = ("tubingen.jpg", "chicago.jpg", "golden_gate.jpg", "sailboat.jpg", "newyork.jpg", "hoovertowernight.jpg")
METRICS = ("gram_distance", "sliced_wasserstein", "content_distance", "ssim")
LOWER_IS_BETTER = {"gram_distance": True, "sliced_wasserstein": True, "content_distance": True, "ssim": False}


def style_file(trained_on: str) -> Path:
    """The sample painting a style was trained on (by file name: the card holds the training path)."""
    p = data_dir() / "samples" / "style" / Path(trained_on).name
    if not p.is_file():
        raise SystemExit(f"no painting {p.name!r} in {p.parent}")
    return p


def nearest_onnx_preset(painting: Path, photo: torch.Tensor, device: str) -> int:
    """The ONNX preset whose painting of `photo` (at 256 px) is nearest `painting` in Gram distance."""
    small = resize(photo, fit(photo.shape[-2:], 256))
    dist = [evaluate(apply(small, preset=i, device=device), style=painting, device=device)["gram_distance"]
            for i in range(NUM_PRESETS)]
    return min(range(NUM_PRESETS), key=dist.__getitem__)


def student_stylizer(path: str, painting: Path, device: str):
    """A student .bw, or an ONNX graph in the Magenta transform network's place."""
    if path.endswith(".onnx"):
        return ArbitraryStylizer(painting, device, transform=path)
    return load_stylizer(style=painting, model=path, device=device)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--presets", default=NAMED_MODEL, help="our multistyle .bw (default: the shipped presets)")
    ap.add_argument("--adain", help="an AdaIN .bw to compare too")
    ap.add_argument("--student", help="a student .bw ('brushwork train student') or its ONNX export (e.g. the "
                    "int8 graph of 'brushwork export --int8') to compare too")
    ap.add_argument("--no-iterate", action="store_true", help="skip image iteration (minutes per painting)")
    ap.add_argument("--photos", type=int, default=3)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    out = REPO / "bench" / "results" / f"{datetime.now():%Y%m%d-%H%M%S}-trained"
    out.mkdir(parents=True)
    presets = load_model(a.presets, a.device)
    adain = load_model(a.adain, a.device) if a.adain else None
    photos = []
    for name in PHOTOS[:a.photos]:
        img = load_image(data_dir() / "samples" / "content" / name)
        photos.append((Path(name).stem, resize(img, fit(img.shape[-2:], a.size))))
    rows, sheet = [], []
    for k, (style_name, trained_on) in enumerate(zip(presets.styles, presets.card["training"]["style_images"])):
        painting = style_file(trained_on)
        # each stylizer is made once per style (style images encoded), then timed per photo
        near = nearest_onnx_preset(painting, photos[0][1], a.device)
        print(f"{style_name}: nearest ONNX preset {near}", flush=True)
        stylizers = {"multistyle": presets.with_weights(k), "onnx": load_stylizer(style=painting, device=a.device),
                     "onnx26": load_stylizer(preset=near, device=a.device)}
        if a.student:
            stylizers["student"] = student_stylizer(a.student, painting, a.device)
        if adain is not None:
            stylizers["adain"] = load_stylizer(style=painting, model=adain, device=a.device)
        if not a.no_iterate:
            stylizers["iterate"] = None
        for photo_name, photo in photos:
            row_images = [photo]
            for method, stylizer in stylizers.items():
                if stylizer is None and photo_name != photos[0][0]:
                    continue
                t = time.perf_counter()
                if stylizer is None:
                    image = stylize(photo, painting, size=None, device=a.device)
                else:
                    apply(photo, model=stylizer)                     # warm-up
                    t = time.perf_counter()
                    image = apply(photo, model=stylizer)
                secs = time.perf_counter() - t
                png = out / f"{style_name}_{photo_name}_{method}.png"
                save_image(image, png)
                m = evaluate(image, content=photo, style=painting, device=a.device)
                rows.append({"style": style_name, "photo": photo_name, "method": method, "seconds": secs, **m})
                row_images.append(image)
                print(f"{style_name:24s} {photo_name:18s} {method:10s} {secs:5.2f} s  "
                      + "  ".join(f"{k} {m[k]:.3f}" for k in METRICS), flush=True)
            if photo_name == photos[0][0]:
                sheet.append(torch.cat([resize(i, photo.shape[-2:]) for i in row_images], dim=-1))
    save_image(torch.cat(sheet, dim=-2), out / "sheet.png")
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lines = [f"{len(presets.styles)} styles × {len(photos)} photos at long side {a.size}, device {a.device}, "
             f"{datetime.now():%Y-%m-%d}", "",
             "| method | s / photo | " + " | ".join(METRICS) + " | wins vs onnx (closer style, no worse content) |",
             "|---|---|" + "---|" * len(METRICS) + "---|"]
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        wins = sum(r["gram_distance"] < o["gram_distance"] and r["content_distance"] <= o["content_distance"]
                   for r in mine for o in rows
                   if o["method"] == "onnx" and o["style"] == r["style"] and o["photo"] == r["photo"])
        lines.append(f"| {method} | {statistics.median(r['seconds'] for r in mine):.2f} | "
                     + " | ".join(f"{statistics.mean(r[k] for r in mine):.3f}" for k in METRICS)
                     + (" | – |" if method == "onnx" else f" | {wins}/{len(mine)} |"))
    table = "\n".join(lines)
    print(table)
    (out / "table.md").write_text(table + "\n")
    (out / "results.json").write_text(json.dumps({"rows": rows, "args": vars(a)}, indent=2, default=str))
    print(f"results in {out}")


if __name__ == "__main__":
    main()
