"""Image iteration commands: stylize, texture, reconstruct, mrf; and evaluate (the numbers)."""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import brushwork

from ..errors import InputError
from ..progress import Progress
from . import args, options
from .render import ProgressBar

DEMO_SIZE, DEMO_STEPS = 320, 80
EXIT_INTERRUPTED = 130


def describe(p: Progress) -> str:
    """The text beside an image iteration's bar: loss and scale."""
    return f"loss {p.loss:.4g}  scale {p.stage + 1}/{p.stages} {p.size[1]}x{p.size[0]}"


class Snapshots:
    """Saves the image every `every` steps as OUT.stepNNNNN.png beside OUT."""

    def __init__(self, output: Path, every: int | None):
        self.output, self.every = output, every

    def __call__(self, p: Progress) -> None:
        if self.every and p.step % self.every == 0 and p.image is not None:
            from ..image import save_image
            save_image(p.image, self.output.with_name(f"{self.output.stem}.step{p.step:05d}.png"))


@contextmanager
def stop_on_interrupt() -> Iterator[Callable[[], bool]]:
    """Within: the first Ctrl-C asks the work to stop after the current step (the caller's
    callback returns True, so the result so far comes back finished as usual); a second one
    interrupts at once. Outside the main thread (no signals there) it never asks."""
    asked = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield asked.is_set
        return
    previous = signal.getsignal(signal.SIGINT)

    def ask(signum: int, frame: Any) -> None:
        asked.set()
        signal.signal(signal.SIGINT, previous)
        print("\nbrushwork: stopping after this step and saving the result so far (Ctrl-C again to quit now)",
              file=sys.stderr)

    signal.signal(signal.SIGINT, ask)
    try:
        yield asked.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def produce(a: argparse.Namespace, work: Callable[[Callable[[Progress], bool]], Any], inputs: list[Any],
            alpha_from: Any = None) -> int:
    """Check the output path (never one of `inputs` unless --overwrite), run `work(callback)`,
    save atomically and keep the input's alpha. Ctrl-C stops after the current step and saves
    the result so far to the output itself (exit code 130)."""
    from ..image import check_output_path, load_image_alpha, save_image
    from ..paths import check_not_input
    check_output_path(a.output)
    if not a.overwrite:
        check_not_input(a.output, inputs, options.OVERWRITE_HINT)
    alpha = load_image_alpha(alpha_from)[1] if isinstance(alpha_from, (str, Path)) else None
    bar, snapshots = ProgressBar(a.quiet, describe), Snapshots(a.output, a.save_every)
    last: Progress | None = None

    with stop_on_interrupt() as stop_asked:
        def callback(p: Progress) -> bool:
            nonlocal last
            last = p
            bar(p)
            snapshots(p)
            return stop_asked()

        try:
            image = work(callback)
        finally:
            bar.close()
        stopped = stop_asked()
    save_image(image, a.output, alpha=alpha)
    size = f"{image.shape[-1]}x{image.shape[-2]}"
    if stopped:
        where = "" if last is None else f" at step {last.step} of {last.total}"
        print(f"brushwork {a.command}: interrupted{where}; saved the result so far to {a.output} ({size})",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if not a.quiet:
        print(f"wrote {a.output} ({size})", file=sys.stderr)
    return 0


# --- commands -----------------------------------------------------------------------------------

def run_stylize(a: argparse.Namespace) -> int:
    if a.demo:
        from ..demo import demo_content, demo_style
        if a.images:
            raise InputError("--demo uses the built-in images; give no content or style files with it")
        content, styles = demo_content(), [demo_style()]
    else:
        if len(a.images) < 2:
            raise InputError("give a content image and at least one style image (or --demo)")
        content, styles = a.images[0], a.images[1:]
    kw = options.iteration_kwargs(a)
    if a.demo and a.size == options.api_default(brushwork.stylize, "size"):
        kw["size"], kw["steps"] = DEMO_SIZE, min(a.steps, DEMO_STEPS)
    return produce(a, lambda cb: brushwork.stylize(
        content, styles, style_weight=a.style_weight, content_weight=a.content_weight, tv_weight=a.tv_weight,
        style_blend=a.blend, style_scale=a.style_scale, content_layers=a.content_layers,
        style_layers=a.style_layers, preserve_color=a.preserve_color, masks=a.mask, init=a.init,
        callback=cb, **kw), [content, *styles, *(a.mask or []), a.init], alpha_from=None if a.demo else content)


def run_texture(a: argparse.Namespace) -> int:
    return produce(a, lambda cb: brushwork.texture(a.source, layers=a.layers, scale=a.scale, tv_weight=a.tv_weight,
                                                   init=a.init, callback=cb, **options.iteration_kwargs(a)),
                   [a.source, a.init])


def run_reconstruct(a: argparse.Namespace) -> int:
    return produce(a, lambda cb: brushwork.reconstruct(a.source, layer=a.layer, tv_weight=a.tv_weight,
                                                       range_weight=a.range_weight, init=a.init, callback=cb,
                                                       **options.iteration_kwargs(a)), [a.source, a.init])


def run_mrf(a: argparse.Namespace) -> int:
    kw = options.iteration_kwargs(a)
    levels = a.levels if kw.pop("multiscale") else 1  # mrf's pyramid is its multiscale schedule
    return produce(a, lambda cb: brushwork.mrf(a.content, a.style, style_weight=a.style_weight,
                                               content_weight=a.content_weight, tv_weight=a.tv_weight,
                                               levels=levels, init=a.init, callback=cb, **kw),
                   [a.content, a.style, a.init], alpha_from=a.content)


def run_evaluate(a: argparse.Namespace) -> int:
    from ..audio.io import is_audio_path
    from ..metrics import evaluate, evaluate_video, format_table
    from ..video.io import is_video_path
    if a.content is None and not a.style:
        raise InputError("give --content and/or --style to compare the image with")
    if is_video_path(a.image):  # a clip or frame folder: per-frame numbers and the temporal error
        results = evaluate_video(a.image, content=a.content, style=a.style or None, device=a.device)
    elif is_audio_path(a.image):
        from ..audio import evaluate as evaluate_audio
        if a.style and len(a.style) > 1:
            raise InputError("a sound is compared with one --style")
        results = evaluate_audio(a.image, content=a.content, style=a.style[0] if a.style else None)
    else:
        results = evaluate(a.image, content=a.content, style=a.style or None, device=a.device)
    print(json.dumps(results, indent=2) if a.json else format_table(results))
    return 0


# --- parsers ------------------------------------------------------------------------------------

def register(sub: Any) -> None:
    """Add stylize, texture, reconstruct, mrf and evaluate to the subcommands `sub`."""
    api = brushwork
    d = options.api_default
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
    s.add_argument("--style-weight", type=float, default=d(api.stylize, "style_weight"),
                   help="how much style vs content: 1 = balanced (default), 10 = much more style, 0.3 = mostly content")
    s.add_argument("--content-weight", type=float, default=d(api.stylize, "content_weight"),
                   help="raw multiplier on the content loss")
    s.add_argument("--tv-weight", type=float, default=d(api.stylize, "tv_weight"),
                   help="smoothness (total variation) multiplier; 0 turns it off "
                   f"(default {d(api.stylize, 'tv_weight'):g})")
    s.add_argument("--blend", type=args.weights, default=d(api.stylize, "style_blend"), metavar="W1,W2,...",
                   help="weights of several style images (normalised to sum to 1; default equal)")
    s.add_argument("--style-scale", type=float, default=d(api.stylize, "style_scale"),
                   help="size of the style's brush strokes relative to the output "
                   f"(default {d(api.stylize, 'style_scale'):g})")
    s.add_argument("--content-layers", type=args.layers, default=d(api.stylize, "content_layers"), metavar="LAYERS",
                   help="content taps, optionally weighted: relu4_2 or relu3_1=0.5,relu4_2=1")
    s.add_argument("--style-layers", type=args.layers, default=d(api.stylize, "style_layers"), metavar="LAYERS",
                   help=f"style taps, optionally weighted (default {','.join(d(api.stylize, 'style_layers'))})")
    options.preserve_color(s, api.stylize, "keep the photo's colours: luminance (the value when none is given) "
                           "styles only the brightness, histogram recolours the style first")
    s.add_argument("--mask", action="append", default=None, metavar="MASK",
                   help="one per style image, white where that style goes; resized to the content "
                   "(it must have the content's aspect ratio)")
    s.add_argument("--init", default=d(api.stylize, "init"),
                   help="start from: content (default), noise, style, or an image file")
    options.iteration(s, api.stylize)
    s.set_defaults(func=run_stylize)

    t = sub.add_parser("texture", help="synthesise a texture like an image, at any size (Gatys et al. 2015)")
    t.add_argument("source", help="the texture sample")
    t.add_argument("--layers", type=args.layers, default=d(api.texture, "layers"), metavar="LAYERS",
                   help="Gram taps, optionally weighted")
    t.add_argument("--scale", type=float, default=d(api.texture, "scale"),
                   help=f"size of the sample's features in the output (default {d(api.texture, 'scale'):g})")
    t.add_argument("--tv-weight", type=float, default=d(api.texture, "tv_weight"),
                   help=f"smoothness multiplier (default {d(api.texture, 'tv_weight'):g})")
    t.add_argument("--init", default=d(api.texture, "init"), help="start from: noise (default) or an image file")
    options.iteration(t, api.texture)
    t.set_defaults(func=run_texture)

    r = sub.add_parser("reconstruct",
                       help="invert a CNN representation: the image a layer 'sees' (Mahendran & Vedaldi)")
    r.add_argument("source", help="the image whose activations are inverted")
    r.add_argument("--layer", default=d(api.reconstruct, "layer"),
                   help=f"the VGG-19 tap, relu1_1 ... relu5_4 (default {d(api.reconstruct, 'layer')})")
    r.add_argument("--tv-weight", type=float, default=d(api.reconstruct, "tv_weight"),
                   help=f"smoothness prior (default {d(api.reconstruct, 'tv_weight'):g})")
    r.add_argument("--range-weight", type=float, default=d(api.reconstruct, "range_weight"),
                   help="α-norm prior keeping pixels in range")
    r.add_argument("--init", default=d(api.reconstruct, "init"), help="start from: noise (default) or an image file")
    options.iteration(r, api.reconstruct)
    r.set_defaults(func=run_reconstruct)

    m = sub.add_parser("mrf", help="patch-based style transfer with MRF losses (Li & Wand 2016)")
    m.add_argument("content", help="the content photo")
    m.add_argument("style", help="the style image")
    m.add_argument("--style-weight", type=float, default=d(api.mrf, "style_weight"),
                   help=f"style vs content balance (default {d(api.mrf, 'style_weight'):g})")
    m.add_argument("--content-weight", type=float, default=d(api.mrf, "content_weight"),
                   help="raw multiplier on the content loss")
    m.add_argument("--tv-weight", type=float, default=d(api.mrf, "tv_weight"),
                   help=f"smoothness multiplier (default {d(api.mrf, 'tv_weight'):g})")
    m.add_argument("--levels", type=int, default=d(api.mrf, "levels"),
                   help=f"resolution pyramid levels (default {d(api.mrf, 'levels')})")
    m.add_argument("--init", default=d(api.mrf, "init"),
                   help="start from: content (default), noise, or an image file")
    options.iteration(m, api.mrf, multiscale=True)
    m.set_defaults(func=run_mrf)

    e = sub.add_parser("evaluate", help="quality numbers: content fidelity and style distance")
    e.add_argument("image", help="the image to judge, a video / frame folder (adds the temporal error), or a sound")
    e.add_argument("--content", default=None, help="the content photo it should resemble (for a video: the input clip)")
    e.add_argument("--style", action="append", default=None, help="a style image it should look like (repeatable)")
    from ..metrics import evaluate
    e.add_argument("--device", choices=options.DEVICES, default=d(evaluate, "device"))
    e.add_argument("--json", action="store_true", help="print JSON instead of a table")
    e.set_defaults(func=run_evaluate)
