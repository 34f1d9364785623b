"""`brushwork fashion`: a pattern painted onto a garment in a photo, its folds and shading kept."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import brushwork

from ..errors import InputError
from ..fashion import METHODS, garment_mask
from . import args, options
from .iterate import produce


def run_fashion(a: argparse.Namespace) -> int:
    masks = a.mask or None
    found = None
    if a.save_mask is not None:
        from ..image import check_output_path
        from ..paths import check_not_input
        if masks:
            raise InputError("--save-mask saves the mask found automatically; with --mask there is none to save")
        check_output_path(a.save_mask)
        check_not_input(a.save_mask, [a.photo, *a.patterns, a.output])
        if len(a.patterns) == 1:     # with more, fashion() refuses the missing masks
            found = garment_mask(a.photo)
            masks = [found]
    code = produce(a, lambda cb: brushwork.fashion(
        a.photo, a.patterns, masks=masks, method=a.method, size=a.size, steps=a.steps,
        style_weight=a.style_weight, content_weight=a.content_weight, mrf_weight=a.mrf_weight,
        pattern_scale=a.pattern_scale, shading_strength=a.shading, feather=a.feather, seed=a.seed,
        device=a.device, callback=cb), [a.photo, *a.patterns, *(a.mask or [])], alpha_from=a.photo)
    if found is not None:   # written once the design is: a refused run leaves no file behind
        from ..image import save_image
        save_image(found.expand(-1, 3, -1, -1), a.save_mask)
        if not a.quiet:
            print(f"wrote the garment mask to {a.save_mask} (white = painted; correct it and pass it with --mask)",
                  file=sys.stderr)
    return code


def register(sub: Any) -> None:
    """Add fashion to the subcommands `sub`."""
    api, d = brushwork.fashion, options.api_default
    p = sub.add_parser("fashion", help="a pattern painted onto a garment, keeping its shape, folds and shading",
                       description="Paint a pattern (a painting, a print, a photo of fabric) onto the garment "
                       "in a photo. The garment is given as a mask or found automatically (GrabCut, for product "
                       "shots on a plain background); its folds are carried onto the pattern and every pixel "
                       "outside the mask stays exactly as it was.",
                       epilog="examples:\n  brushwork fashion dress.jpg pattern.jpg -o design.png\n"
                       "  brushwork fashion dress.jpg pattern.jpg --save-mask mask.png -o design.png\n"
                       "  brushwork fashion dress.jpg pattern.jpg --mask dress_mask.png --method fast -o design.png\n"
                       "  brushwork fashion look.jpg a.jpg b.jpg --mask top.png --mask skirt.png -o design.png",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photo", help="the photo of the garment(s)")
    p.add_argument("patterns", nargs="+", metavar="pattern", help="the pattern to paint; one per --mask")
    g = p.add_argument_group("garments")
    g.add_argument("--mask", action="append", metavar="PNG",
                   help="white on the garment, black elsewhere; the photo's size or aspect ratio; once per pattern "
                   "(default: the garment is found automatically, for one pattern)")
    g.add_argument("--save-mask", type=Path, metavar="PNG",
                   help="also write the mask found automatically, to correct it by hand")
    k = p.add_argument_group("painting")
    k.add_argument("--method", choices=METHODS, default=d(api, "method"),
                   help="iterate: image iteration, masked Gram + MRF (minutes on a CPU; default); "
                   "fast: the any-style network (seconds)")
    k.add_argument("--size", type=args.size, default=d(api, "size"),
                   help=f"long side the pattern is painted at (default {d(api, 'size')}); the output keeps the "
                   "photo's size")
    k.add_argument("--steps", type=args.positive_int, default=d(api, "steps"),
                   help=f"iterate: optimisation steps (default {d(api, 'steps')})")
    k.add_argument("--style-weight", type=args.non_negative, default=d(api, "style_weight"),
                   help=f"iterate: how strongly the pattern's statistics are matched (default "
                   f"{d(api, 'style_weight'):g})")
    k.add_argument("--content-weight", type=args.non_negative, default=d(api, "content_weight"),
                   help=f"iterate: how much of the garment's seams and outline stays (default "
                   f"{d(api, 'content_weight'):g})")
    k.add_argument("--mrf-weight", type=args.non_negative, default=d(api, "mrf_weight"),
                   help=f"iterate: the pattern's motifs (patch matching; 0 = off, faster; default "
                   f"{d(api, 'mrf_weight'):g})")
    k.add_argument("--pattern-scale", type=args.non_negative, default=d(api, "pattern_scale"),
                   help=f"iterate: the pattern's size relative to the painting's long side (default "
                   f"{d(api, 'pattern_scale'):g})")
    k.add_argument("--shading", type=args.non_negative, default=d(api, "shading_strength"),
                   help="0-1: how much of the garment's folds and shading goes onto the pattern (default "
                   f"{d(api, 'shading_strength'):g})")
    k.add_argument("--feather", type=int, default=d(api, "feather"), metavar="PX",
                   help="px over which the painting fades in inside the mask's edge; 0 = a hard edge "
                   "(default: 1/200 of the photo's long side)")
    r = p.add_argument_group("running")
    r.add_argument("--seed", type=int, default=d(api, "seed"), help=f"random seed (default {d(api, 'seed')})")
    options.device(r, api)
    options.quiet(r)
    options.overwrite(p)
    p.add_argument("-o", "--output", required=True, type=Path, help="output image (.png, .jpg, .webp, .tif)")
    p.set_defaults(func=run_fashion, save_every=None)
