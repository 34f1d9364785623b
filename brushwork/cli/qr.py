"""`brushwork qr`: a QR code painted in the style of a painting that still scans (verified)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import brushwork

from ..progress import Progress
from . import args, options
from .iterate import stop_on_interrupt
from .render import ProgressBar


def describe(p: Progress) -> str:
    """Beside the bar: the code loss while painting, the pass rate while verifying."""
    if p.phase == "verify":
        return f"robustness {p.losses.get('robustness', 0):.0%}"
    return f"code {p.losses.get('code', 0):.3g}  loss {p.loss:.4g}  scale {p.stage + 1}/{p.stages}"


def run_qr(a: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..image import check_output_path
    from ..paths import check_not_input
    out = check_output_path(a.output)
    if out.suffix.lower() != ".png":
        raise InputError(f"{out}: a stylized QR code is written as .png (lossless, with its payload in the metadata)")
    if not a.overwrite:
        check_not_input(out, [p for p in (a.style, a.content, a.code) if p], options.OVERWRITE_HINT)
    bar = ProgressBar(a.quiet, describe)
    with stop_on_interrupt() as stop_asked:
        def callback(p: Progress) -> bool:
            bar(p)
            return stop_asked()
        try:
            made = brushwork.qr(a.payload, a.style, code=a.code, content=a.content, version=a.version, ec=a.ec,
                                quiet_zone=a.quiet_zone, size=a.size, steps=a.steps, style_weight=a.style_weight,
                                content_weight=a.content_weight, code_weight=a.code_weight, repairs=a.repairs,
                                seed=a.seed, device=a.device, dtype=a.dtype, callback=callback)
        finally:
            bar.close()
    made.save(out)
    if not a.quiet:
        c, r = made.code, made.robustness
        print(f"wrote {out} ({made.image.shape[-1]}x{made.image.shape[-2]}): version {c.version}-{c.ec}, "
              f"read right in {r.pass_rate:.0%} of {sum(len(v) for v in r.cases.values())} perturbed readings "
              f"(zxing-cpp and OpenCV), {made.repairs} repair round{'s' if made.repairs != 1 else ''}",
              file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add qr to the subcommands `sub`."""
    api, d = brushwork.qr, options.api_default
    p = sub.add_parser("qr", help="a QR code painted in the style of a painting, verified to scan",
                       description="Paints a QR code in the style of a painting (ArtCoder's idea: style and content "
                       "losses plus a code loss on the modules a reader would misread), keeps the finder, timing and "
                       "alignment patterns exact, then reads it with two decoders under blur, downscaling, JPEG, "
                       "tilt and brightness changes, repairing misread modules until it is as robust as the plain "
                       "code. A code that does not decode is never written. The PNG's metadata holds the payload "
                       "and the robustness.",
                       epilog="examples:\n  brushwork qr \"https://example.org/menu\" --style starry_night.jpg -o qr.png\n"
                       "  brushwork qr \"https://example.org\" --style wave.jpg --content logo.png --ec H --size 1024 "
                       "-o qr.png\n  brushwork qr --code existing_qr.png --style wave.jpg -o qr.png",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("payload", nargs="?", default=None, help="the text or link to encode (or --code)")
    p.add_argument("--style", required=True, help="the painting whose style the code takes")
    p.add_argument("--code", default=d(api, "code"), metavar="PNG",
                   help="restyle an existing QR code picture (decoded, then regenerated) instead of a payload")
    p.add_argument("--content", default=d(api, "content"), metavar="IMAGE",
                   help="the picture the code should look like, e.g. a logo (default: the painting itself)")
    c = p.add_argument_group("code")
    c.add_argument("--version", type=args.positive_int, default=d(api, "version"),
                   help="QR version 1-40 (default: the smallest that holds the payload)")
    c.add_argument("--ec", type=str.upper, choices=("L", "M", "Q", "H"), default=d(api, "ec"),
                   help="error-correction level (default M; with --code the code's own)")
    c.add_argument("--quiet-zone", type=args.positive_int, default=d(api, "quiet_zone"), metavar="MODULES",
                   help=f"light border in modules (default {d(api, 'quiet_zone')})")
    k = p.add_argument_group("look")
    k.add_argument("--size", type=args.positive_int, default=d(api, "size"), metavar="PX",
                   help="side of the output in px (default: at least 512 and 8 px a module)")
    k.add_argument("--steps", type=args.positive_int, default=d(api, "steps"),
                   help=f"optimisation steps at each scale (default {d(api, 'steps')})")
    k.add_argument("--style-weight", type=args.non_negative, default=d(api, "style_weight"),
                   help=f"more or less of the painting's texture (default {d(api, 'style_weight'):g})")
    k.add_argument("--content-weight", type=args.non_negative, default=d(api, "content_weight"),
                   help=f"how closely it keeps the content picture's layout (default {d(api, 'content_weight'):g})")
    k.add_argument("--code-weight", type=args.non_negative, default=d(api, "code_weight"),
                   help=f"how hard misread modules are pushed (default {d(api, 'code_weight'):g})")
    k.add_argument("--repairs", type=int, default=d(api, "repairs"),
                   help=f"verify-and-repair rounds at most (default {d(api, 'repairs')})")
    k.add_argument("--seed", type=int, default=d(api, "seed"), help="random seed, for reproducible results")
    r = p.add_argument_group("running")
    options.device(r, api)
    options.dtype(r, api, "precision of the VGG network (default auto: bf16 where fast, else fp32)")
    options.quiet(r)
    options.overwrite(r)
    p.add_argument("-o", "--output", required=True, type=Path, help="output image (.png)")
    p.set_defaults(func=run_qr)
