"""`brushwork photo`: the look of one photo on another, still a photo (photorealistic stylization)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import brushwork

from . import args, options
from ..photoreal.photo import METHODS, SMOOTHERS
from ..progress import Progress
from .render import ProgressBar


def describe(p: Progress) -> str:
    """The text beside the bar: the matting solve's residual, the iteration's loss ('optimize');
    nothing for the phases."""
    if p.phase == "matting":
        return f"residual {p.loss:.2g}"
    return "" if p.phase == "photo" else f"loss {p.loss:.4g}"


def run_photo(a: argparse.Namespace) -> int:
    from ..image import check_output_path, load_image_alpha, save_image
    check_output_path(a.output)
    alpha = load_image_alpha(a.content)[1]
    bar = ProgressBar(a.quiet, describe)
    try:
        image = brushwork.photo(a.content, a.style, method=a.method, decoders=a.decoders,
                                content_seg=a.content_seg,
                                style_seg=a.style_seg, auto_regions=a.auto_regions, regions=a.regions,
                                strength=a.strength, smooth=a.smooth, work_size=a.work_size, device=a.device,
                                callback=bar)
    finally:
        bar.close()
    save_image(image, a.output, alpha=alpha)
    if not a.quiet:
        print(f"wrote {a.output} ({image.shape[-1]}x{image.shape[-2]})", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add photo to the subcommands `sub`."""
    api, d = brushwork.photo, options.api_default
    p = sub.add_parser("photo", help="the colours, light and mood of one photo on another, which stays a photo",
                       description="Photorealistic stylization: each region of the photo takes the look (colour "
                       "statistics, or with wct and optimize deep-feature statistics) of its matching region of "
                       "the reference, smoothed along the photo's own edges and applied to the photo at full "
                       "resolution, so no edge or texture is lost.",
                       epilog="examples:\n  brushwork photo day.jpg dusk.jpg -o out.jpg\n"
                       "  brushwork photo day.jpg dusk.jpg --content-seg day_seg.png --style-seg dusk_seg.png "
                       "-o out.jpg\n  brushwork photo day.jpg dusk.jpg --method wct --smooth matting -o out.jpg\n"
                       "  brushwork photo day.jpg dusk.jpg --method optimize -o out.jpg\n"
                       "  brushwork photo day.jpg dusk.jpg --strength 0.7 -o out.jpg",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("content", help="the photo to restyle")
    p.add_argument("style", help="the reference photo whose look it takes")
    g = p.add_argument_group("regions")
    g.add_argument("--content-seg", default=d(api, "content_seg"), metavar="PNG",
                   help="label map of the photo: one flat colour a region, the photo's size (with --style-seg)")
    g.add_argument("--style-seg", default=d(api, "style_seg"), metavar="PNG",
                   help="label map of the reference; a region takes the colours of the same-coloured one")
    g.add_argument("--no-auto-regions", dest="auto_regions", action="store_false", default=d(api, "auto_regions"),
                   help="without label maps, treat each photo as one region (no automatic pairing)")
    g.add_argument("--regions", type=args.positive_int, default=d(api, "regions"),
                   help=f"how many regions the automatic pairing finds (default {d(api, 'regions')})")
    k = p.add_argument_group("look")
    k.add_argument("--method", choices=METHODS, default=d(api, "method"),
                   help="stats: training-free colour statistics, seconds on a CPU (auto picks it); wct: PhotoWCT "
                   "(our trained decoders); optimize: Deep Photo Style Transfer, minutes")
    k.add_argument("--decoders", type=Path, default=d(api, "decoders"), metavar="BW",
                   help="PhotoWCT decoders for --method wct (default: the shipped ones; make your own with "
                   "`brushwork train photowct`)")
    k.add_argument("--smooth", choices=SMOOTHERS, default=d(api, "smooth"),
                   help="guided: edge-aware, fast, any size (default); matting: the exact matting-Laplacian "
                   "solution, slower, up to 2 MP at the work size; none")
    k.add_argument("--strength", type=args.non_negative, default=d(api, "strength"),
                   help=f"0 = the photo unchanged, 1 = the full look (default {d(api, 'strength'):g})")
    k.add_argument("--work-size", type=args.positive_int, default=d(api, "work_size"), metavar="PX",
                   help=f"long side the colours are computed at; the output keeps the photo's full size "
                   f"(default {d(api, 'work_size')})")
    r = p.add_argument_group("running")
    options.device(r, api)
    options.quiet(r)
    p.add_argument("-o", "--output", required=True, type=Path, help="output image (.png, .jpg, .webp, .tif)")
    p.set_defaults(func=run_photo)
