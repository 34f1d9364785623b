"""`brushwork translate`: an image or a folder through a pix2pix, CycleGAN or CUT network."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import brushwork

from ..errors import InputError
from . import args, options
from .render import ProgressBar


def run_translate(a: argparse.Namespace) -> int:
    from ..image import check_output_path, load_image_alpha, save_image
    from ..paths import check_not_input
    from ..translate.run import DEMO_MODEL, load_translator, shipped_models
    look = dict(size=a.size, tile=a.tile, device=a.device)
    if a.demo:
        if a.input is not None or a.model is not None:
            raise InputError("--demo uses the built-in photo and model; give no image or --model with it")
        if DEMO_MODEL not in shipped_models():
            raise InputError(f"the demo model {DEMO_MODEL!r} is not installed with this brushwork")
        from ..demo import demo_content
        a.input, a.model = demo_content(), DEMO_MODEL
    elif a.input is None or a.model is None:
        raise InputError("give an image (or a folder) and --model (or --demo)")
    if not a.demo and Path(a.input).is_dir():
        return _folder(a, look)
    if a.output.is_dir():
        raise InputError(f"{a.output}: is a folder; give a file name, e.g. {a.output / Path(a.input).stem}.png")
    check_output_path(a.output)
    if not a.overwrite and not a.demo:
        check_not_input(a.output, [a.input, a.model], options.OVERWRITE_HINT)
    model = load_translator(a.model, a.direction, a.arch, a.device)
    alpha = None if a.demo else load_image_alpha(a.input)[1]
    bar = ProgressBar(a.quiet, lambda p: "")
    try:
        image = brushwork.translate(a.input, model, callback=bar, **look)
    finally:
        bar.close()
    save_image(image, a.output, alpha=alpha)
    if not a.quiet:
        print(f"wrote {a.output} ({image.shape[-1]}x{image.shape[-2]}, {model.name})", file=sys.stderr)
    return 0


def _folder(a: argparse.Namespace, look: dict[str, Any]) -> int:
    from ..translate.run import translate_folder
    bar = ProgressBar(a.quiet, lambda p: "")
    try:
        result = translate_folder(a.input, a.output, a.model, a.direction, a.arch, overwrite=a.overwrite,
                                  callback=bar, on_skip=lambda img, e: bar.write(
                                      f"brushwork translate: skipped {img.name}: {e}"), **look)
    finally:
        bar.close()
    total = len(result.written) + len(result.skipped)
    if result.skipped:
        raise InputError(f"{len(result.skipped)} of {total} images could not be translated (see above); "
                         f"the others are in {a.output}")
    if not a.quiet:
        print(f"wrote {total} images to {a.output}", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add `translate` to the subcommands `sub`."""
    from ..translate.reference import ARCHS
    d = options.api_default
    api = brushwork.translate
    tr = sub.add_parser("translate", help="translate an image (or a folder) with a pix2pix, CycleGAN or CUT "
                        "network: yours, a shipped one, or a reference .pth",
                        description="Image-to-image translation at full resolution: the image is padded to the "
                        "network's multiple; large images are translated in tiles sharing the whole image's "
                        "normalisation statistics.",
                        epilog="examples:\n  brushwork translate --demo -o painting.png\n"
                        "  brushwork translate sketch.png --model edges2photo.bw -o photo.png\n"
                        "  brushwork translate photo.jpg --model photo2art.bw --direction BtoA -o out.png\n"
                        "  brushwork translate photos/ --model photo2art.bw -o out/\n"
                        "  brushwork translate photo.jpg --model their_G_A.pth --arch resnet9 -o out.png",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    tr.add_argument("input", nargs="?", help="the image, or a folder of images (not searched recursively)")
    tr.add_argument("--demo", action="store_true",
                    help="the built-in photo through the shipped photo -> painting CycleGAN")
    tr.add_argument("--model", metavar="FILE|NAME",
                    help="a translation model (.bw from 'brushwork train pix2pix|cyclegan|cut'), a shipped "
                    "model's name, or a reference implementation's generator .pth")
    tr.add_argument("--arch", choices=tuple(ARCHS), default=d(api, "arch"),
                    help="the layout a reference .pth must have (it is read from the file and checked)")
    tr.add_argument("--direction", choices=("AtoB", "BtoA"), default=d(api, "direction"),
                    help="which way a two-way (CycleGAN) model translates (default AtoB)")
    tr.add_argument("--size", type=args.size, default=d(api, "size"),
                    help="resize the image first: long side in px, or WIDTHxHEIGHT (default: full resolution)")
    r = tr.add_argument_group("running")
    options.tile(r, api, "translate")
    options.device(r, api)
    options.quiet(r)
    options.overwrite(r)
    tr.add_argument("-o", "--output", required=True, type=Path,
                    help="output image, or an output folder for a folder of images")
    tr.set_defaults(func=run_translate)
