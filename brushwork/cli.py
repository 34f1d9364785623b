"""`brushwork` command line: one subcommand per capability, a thin layer over the Python API.

Errors in what the user gave (files, sizes, weights, layers) print one line and exit with 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from . import __version__
from .errors import BrushworkError, InputError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


# --- argument types ---------------------------------------------------------------------------

def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be zero or positive")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _size(text: str) -> int | tuple[int, int]:
    from .image import parse_size
    try:
        value = parse_size(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    assert value is not None
    return value


def _layers(text: str) -> dict[str, float]:
    """'relu1_1,relu2_1' or 'relu1_1=0.5,relu2_1=1' -> {tap: weight}."""
    out: dict[str, float] = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        name, _, weight = item.partition("=")
        out[name] = _non_negative(weight) if weight else 1.0
    if not out:
        raise argparse.ArgumentTypeError("no layer named")
    return out


def _weights(text: str) -> list[float]:
    return [_non_negative(s) for s in text.split(",") if s.strip()]


# --- shared options ---------------------------------------------------------------------------

def _common(p: argparse.ArgumentParser, steps: int, size: str | None) -> None:
    g = p.add_argument_group("optimisation")
    g.add_argument("--size", type=_size, default=size,
                   help=f"output size: long side in px, or WIDTHxHEIGHT (default {size or 'the input size'})")
    g.add_argument("--steps", type=_positive_int, default=steps,
                   help=f"optimisation steps at the final scale (default {steps}); coarse scales cost far less")
    g.add_argument("--no-multiscale", dest="multiscale", action="store_false",
                   help="optimise at the final size only (slower: coarse-to-fine is the main speed lever)")
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                   help="L-BFGS converges in fewer steps; Adam uses less memory (default lbfgs)")
    g.add_argument("--lr", type=_non_negative, default=None,
                   help="Adam step size, or L-BFGS first step, in 0-255 pixel units")
    g.add_argument("--tol", type=_non_negative, default=None,
                   help="stop a scale when the loss improves less than this fraction over 20 steps")
    g.add_argument("--pooling", choices=("max", "avg"), default="max", help="VGG pooling (default max)")
    g.add_argument("--seed", type=int, default=None, help="random seed, for reproducible results")
    g.add_argument("--save-every", type=_positive_int, default=None, metavar="N",
                   help="also save the image every N steps, as OUT.stepNNNNN.png beside OUT")
    r = p.add_argument_group("running")
    r.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="where to compute (default auto: cuda > mps > cpu)")
    r.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto",
                   help="precision of the VGG network (default auto: bf16 where fast, else fp32)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-o", "--output", required=True, type=Path, help="output image (.png, .jpg, .webp, .tif)")


def _run_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    kw = dict(size=a.size, steps=a.steps, multiscale=a.multiscale, optimizer=a.optimizer, lr=a.lr,
              pooling=a.pooling, seed=a.seed, device=a.device, dtype=a.dtype)
    if a.tol is not None:
        kw["tol"] = a.tol
    return kw


class _ProgressBar:
    """Draws Progress reports as a tqdm bar (loss, scale, ETA) and saves snapshots."""

    def __init__(self, quiet: bool, output: Path, save_every: int | None):
        self.quiet, self.output, self.save_every = quiet, output, save_every
        self.bar = None

    def __call__(self, p) -> None:
        if not self.quiet:
            if self.bar is None:
                from tqdm import tqdm
                self.bar = tqdm(total=p.total, unit="step", dynamic_ncols=True, file=sys.stderr)
            self.bar.total = p.total
            self.bar.set_postfix_str(f"loss {p.loss:.4g}  scale {p.stage + 1}/{p.stages} {p.size[1]}x{p.size[0]}",
                                     refresh=False)
            self.bar.update(p.step - self.bar.n)
        if self.save_every and p.step % self.save_every == 0 and p.image is not None:
            from .image import save_image
            save_image(p.image, self.output.with_name(f"{self.output.stem}.step{p.step:05d}.png"))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _produce(a: argparse.Namespace, work: Callable[[Callable], Any], alpha_from: Any = None) -> int:
    """Validate the output path, run `work(callback)`, save atomically, keep the input's alpha."""
    from .image import check_output_path, load_image_alpha, save_image
    check_output_path(a.output)
    alpha = load_image_alpha(alpha_from)[1] if isinstance(alpha_from, (str, Path)) else None
    bar = _ProgressBar(a.quiet, a.output, a.save_every)
    try:
        image = work(bar)
    finally:
        bar.close()
    save_image(image, a.output, alpha=alpha)
    if not a.quiet:
        print(f"wrote {a.output} ({image.shape[-1]}x{image.shape[-2]})", file=sys.stderr)
    return 0


# --- subcommands ------------------------------------------------------------------------------

def _cmd_stylize(a: argparse.Namespace) -> int:
    from .optimize import stylize
    if a.demo:
        from .demo import demo_content, demo_style
        if a.images:
            raise InputError("--demo uses the built-in images; give no content or style files with it")
        content, styles = demo_content(), [demo_style()]
    else:
        if len(a.images) < 2:
            raise InputError("give a content image and at least one style image (or --demo)")
        content, styles = a.images[0], a.images[1:]
    kw = _run_kwargs(a)
    if a.demo and a.size == DEFAULT_STYLIZE_SIZE:
        kw["size"], kw["steps"] = DEMO_SIZE, min(a.steps, DEMO_STEPS)
    return _produce(a, lambda cb: stylize(
        content, styles, style_weight=a.style_weight, content_weight=a.content_weight, tv_weight=a.tv_weight,
        style_blend=a.blend, style_scale=a.style_scale, content_layers=a.content_layers,
        style_layers=a.style_layers, preserve_color=a.preserve_color, masks=a.mask, init=a.init,
        callback=cb, **kw), alpha_from=None if a.demo else content)


def _cmd_texture(a: argparse.Namespace) -> int:
    from .optimize import texture
    return _produce(a, lambda cb: texture(a.source, layers=a.layers, scale=a.scale, tv_weight=a.tv_weight,
                                          init=a.init, callback=cb, **_run_kwargs(a)))


def _cmd_reconstruct(a: argparse.Namespace) -> int:
    from .optimize import reconstruct
    return _produce(a, lambda cb: reconstruct(a.source, layer=a.layer, tv_weight=a.tv_weight,
                                              range_weight=a.range_weight, init=a.init, callback=cb,
                                              **_run_kwargs(a)))


def _cmd_mrf(a: argparse.Namespace) -> int:
    from .optimize import mrf
    kw = _run_kwargs(a)
    levels = a.levels if kw.pop("multiscale") else 1  # mrf's pyramid is its multiscale schedule
    return _produce(a, lambda cb: mrf(a.content, a.style, style_weight=a.style_weight,
                                      content_weight=a.content_weight, tv_weight=a.tv_weight,
                                      levels=levels, init=a.init, callback=cb, **kw),
                    alpha_from=a.content)


def _cmd_evaluate(a: argparse.Namespace) -> int:
    from .metrics import evaluate, format_table
    if a.content is None and not a.style:
        raise InputError("give --content and/or --style to compare the image with")
    results = evaluate(a.image, content=a.content, style=a.style or None, device=a.device)
    print(json.dumps(results, indent=2) if a.json else format_table(results))
    return 0


DEFAULT_STYLIZE_SIZE = 512
DEMO_SIZE, DEMO_STEPS = 320, 80


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="brushwork", description="Neural style transfer: keep the shape of a photo, paint it "
                "in the style you want.", epilog="Run 'brushwork COMMAND --help' for each command's options.")
    p.add_argument("--version", action="version", version=f"brushwork {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("stylize", help="paint a photo in the style of one or more images (Gatys et al.)",
                       description="Neural style transfer by image iteration (Gatys et al. 2016, 2017).",
                       epilog="examples:\n  brushwork stylize photo.jpg starry_night.jpg -o out.png\n"
                       "  brushwork stylize --demo -o out.png\n"
                       "  brushwork stylize photo.jpg a.jpg b.jpg --blend 0.7,0.3 -o out.png\n"
                       "  brushwork stylize photo.jpg style.jpg --preserve-color luminance -o out.png\n"
                       "  brushwork stylize photo.jpg sky.jpg ground.jpg --mask top.png --mask bottom.png -o out.png",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("images", nargs="*", metavar="IMAGE", help="the content photo, then one or more style images")
    s.add_argument("--demo", action="store_true",
                   help=f"use the built-in photo and style ({DEMO_SIZE} px, about a minute on a laptop CPU)")
    s.add_argument("--style-weight", type=_non_negative, default=1.0,
                   help="how much style vs content: 1 = balanced (default), 5 = much more style, 0.2 = mostly content")
    s.add_argument("--content-weight", type=_non_negative, default=1.0, help="raw multiplier on the content loss")
    s.add_argument("--tv-weight", type=_non_negative, default=1.0,
                   help="smoothness (total variation) multiplier; 0 turns it off (default 1)")
    s.add_argument("--blend", type=_weights, default=None, metavar="W1,W2,...",
                   help="weights of several style images (normalised to sum to 1; default equal)")
    s.add_argument("--style-scale", type=float, default=1.0,
                   help="size of the style's brush strokes relative to the output (default 1)")
    s.add_argument("--content-layers", type=_layers, default=("relu4_2",), metavar="LAYERS",
                   help="content taps, optionally weighted: relu4_2 or relu3_1=0.5,relu4_2=1")
    s.add_argument("--style-layers", type=_layers, default=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                   metavar="LAYERS", help="style taps, optionally weighted (default relu1_1,...,relu5_1)")
    s.add_argument("--preserve-color", choices=("luminance", "histogram"), default=None,
                   help="keep the photo's colours: style only the luminance, or recolour the style first")
    s.add_argument("--mask", action="append", default=None, metavar="MASK",
                   help="one per style image: a content-sized image, white where that style goes")
    s.add_argument("--init", default="content", help="start from: content (default), noise, style, or an image file")
    _common(s, steps=150, size=str(DEFAULT_STYLIZE_SIZE))
    s.set_defaults(func=_cmd_stylize)

    t = sub.add_parser("texture", help="synthesise a texture like an image, at any size (Gatys et al. 2015)")
    t.add_argument("source", help="the texture sample")
    t.add_argument("--layers", type=_layers, default=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                   metavar="LAYERS", help="Gram taps, optionally weighted")
    t.add_argument("--scale", type=float, default=1.0, help="size of the sample's features in the output (default 1)")
    t.add_argument("--tv-weight", type=_non_negative, default=0.0, help="smoothness multiplier (default 0)")
    t.add_argument("--init", default="noise", help="start from: noise (default) or an image file")
    _common(t, steps=300, size="512")
    t.set_defaults(func=_cmd_texture)

    r = sub.add_parser("reconstruct", help="invert a CNN representation: the image a layer 'sees' (Mahendran & Vedaldi)")
    r.add_argument("source", help="the image whose activations are inverted")
    r.add_argument("--layer", default="relu4_2", help="the VGG-19 tap, relu1_1 ... relu5_4 (default relu4_2)")
    r.add_argument("--tv-weight", type=_non_negative, default=1.0, help="smoothness prior (default 1)")
    r.add_argument("--range-weight", type=_non_negative, default=1.0, help="α-norm prior keeping pixels in range")
    r.add_argument("--init", default="noise", help="start from: noise (default) or an image file")
    _common(r, steps=300, size="256")
    r.set_defaults(func=_cmd_reconstruct, multiscale=False)

    m = sub.add_parser("mrf", help="patch-based style transfer with MRF losses (Li & Wand 2016)")
    m.add_argument("content", help="the content photo")
    m.add_argument("style", help="the style image")
    m.add_argument("--style-weight", type=_non_negative, default=1.0, help="style vs content balance (default 1)")
    m.add_argument("--content-weight", type=_non_negative, default=1.0, help="raw multiplier on the content loss")
    m.add_argument("--tv-weight", type=_non_negative, default=1.0, help="smoothness multiplier (default 1)")
    m.add_argument("--levels", type=_positive_int, default=3, help="resolution pyramid levels (default 3)")
    m.add_argument("--init", default="content", help="start from: content (default), noise, or an image file")
    _common(m, steps=100, size="384")
    m.set_defaults(func=_cmd_mrf)

    e = sub.add_parser("evaluate", help="quality numbers: content fidelity and style distance")
    e.add_argument("image", help="the image to judge")
    e.add_argument("--content", default=None, help="the content photo it should resemble")
    e.add_argument("--style", action="append", default=None, help="a style image it should look like (repeatable)")
    e.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.set_defaults(func=_cmd_evaluate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except BrushworkError as e:
        print(f"brushwork {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print(f"brushwork {args.command}: error: out of memory; try a smaller --size", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"brushwork {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
