"""Option groups shared by several commands; every default is read from the API function.

Each default lives in one place, the signature of the function a command calls
(`api_default(brushwork.stylize, "steps")`), so the CLI and the Python API cannot drift.
"""
from __future__ import annotations

import argparse
import inspect
import math
from pathlib import Path
from typing import Any, Callable

from . import args

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "bfloat16", "float16")


def api_default(func: Callable[..., Any], name: str) -> Any:
    """The default value of parameter `name` in `func`'s signature."""
    param = inspect.signature(func).parameters[name]
    if param.default is inspect.Parameter.empty:
        raise TypeError(f"{func.__qualname__}() has no default for {name!r}")
    return param.default


def device(group: Any, func: Callable[..., Any],
           help: str = "where to compute (default auto: cuda > mps > cpu)") -> None:
    group.add_argument("--device", choices=DEVICES, default=api_default(func, "device"), help=help)


def dtype(group: Any, func: Callable[..., Any], help: str, choices: tuple[str, ...] = DTYPES) -> None:
    group.add_argument("--dtype", choices=choices, default=api_default(func, "dtype"), help=help)


def quiet(group: Any, help: str = "no progress bar") -> None:
    group.add_argument("-q", "--quiet", action="store_true", help=help)


OVERWRITE_HINT = " (or --overwrite to replace it)"


def overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help="let the output replace one of the input images (refused otherwise, also through links)")


def preserve_color(group: Any, func: Callable[..., Any], help: str) -> None:
    """--preserve-color [luminance|histogram]; alone it means luminance (the plain flag of old)."""
    group.add_argument("--preserve-color", nargs="?", const="luminance", choices=("luminance", "histogram"),
                       default=api_default(func, "preserve_color"), metavar="luminance|histogram", help=help)


def stroke_scale(group: Any, func: Callable[..., Any], what: str = "photos") -> None:
    """--stroke-scale auto|X for the one-pass networks (`feedforward.apply.check_stroke_scale`)."""
    from ..feedforward.apply import STROKE_SCALES, STROKE_SLACK, STROKE_WORK
    lo, hi = STROKE_SCALES
    group.add_argument("--stroke-scale", type=args.auto_or_number, default=api_default(func, "stroke_scale"),
                       metavar="auto|X",
                       help=f"stroke size as a multiple of the network's own, {lo:g} to {hi:g} (2: strokes twice "
                       f"as large). Default auto: strokes keep their size relative to the picture ({what} larger "
                       f"than {STROKE_SLACK * STROKE_WORK:g} px are painted at {STROKE_WORK} px and upsampled along the "
                       "photo's edges)")


def tile(group: Any, func: Callable[..., Any], verb: str) -> None:
    """--tile PX for the full-resolution one-pass commands (`image.tiled`): `verb` says what a tile gets."""
    from ..feedforward.apply import TILE, TILE_PIXELS
    side = math.isqrt(TILE_PIXELS)
    group.add_argument("--tile", type=int, default=api_default(func, "tile"), metavar="PX",
                       help=f"{verb} in tiles of PX px (0 = never); default: tiles of {TILE} above {side}x{side} px")


def iteration(p: argparse.ArgumentParser, func: Callable[..., Any], multiscale: bool | None = None) -> None:
    """The options of an image iteration (stylize, texture, reconstruct, mrf) and its -o.

    `multiscale` is the default of --no-multiscale's destination when `func` has no such
    parameter (mrf's pyramid is its multiscale schedule)."""
    size, steps, tol = (api_default(func, k) for k in ("size", "steps", "tol"))
    g = p.add_argument_group("optimisation")
    g.add_argument("--size", type=args.size, default=size,
                   help=f"output size: long side in px, or WIDTHxHEIGHT (default {size or 'the input size'})")
    g.add_argument("--steps", type=args.positive_int, default=steps,
                   help=f"optimisation steps at the final scale (default {steps}); coarse scales cost far less")
    g.add_argument("--no-multiscale", dest="multiscale", action="store_false",
                   default=api_default(func, "multiscale") if multiscale is None else multiscale,
                   help="optimise at the final size only (slower: coarse-to-fine is the main speed lever)")
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), default=api_default(func, "optimizer"),
                   help="L-BFGS converges in fewer steps; Adam uses less memory (default lbfgs)")
    g.add_argument("--lr", type=args.non_negative, default=api_default(func, "lr"),
                   help="Adam step size, or L-BFGS first step, in 0-255 pixel units")
    g.add_argument("--tol", type=args.non_negative, default=tol,
                   help=f"stop a scale when the loss improves less than this fraction over 20 steps (default {tol:g})")
    g.add_argument("--pooling", choices=("max", "avg"), default=api_default(func, "pooling"),
                   help="VGG pooling (default max)")
    g.add_argument("--seed", type=int, default=api_default(func, "seed"), help="random seed, for reproducible results")
    g.add_argument("--save-every", type=args.positive_int, default=None, metavar="N",
                   help="also save the image every N steps, as OUT.stepNNNNN.png beside OUT")
    r = p.add_argument_group("running")
    device(r, func)
    dtype(r, func, "precision of the VGG network (default auto: bf16 where fast, else fp32)")
    quiet(r)
    overwrite(r)
    p.add_argument("-o", "--output", required=True, type=Path,
                   help="output image (.png, .jpg, .webp, .tif); Ctrl-C saves the result so far there")


def iteration_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments `iteration` options give the API function."""
    return dict(size=a.size, steps=a.steps, multiscale=a.multiscale, optimizer=a.optimizer, lr=a.lr, tol=a.tol,
                pooling=a.pooling, seed=a.seed, device=a.device, dtype=a.dtype)


def parameters(func: Callable[..., Any]) -> set[str]:
    """The names of `func`'s parameters."""
    return set(inspect.signature(func).parameters)
