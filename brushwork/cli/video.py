"""`brushwork video`: a clip or frame folder, painted consistently over time."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import brushwork

from ..errors import InputError
from ..progress import Progress
from . import args, options
from .render import ProgressBar


def describe(p: Any) -> str:
    """The text beside the paint bar: frames resumed, scene cuts, how much was carried over."""
    if p.phase == "paint" and p.reliable is not None:
        return "scene cut" if p.cut else f"carried over {p.reliable:.0%}"
    if p.phase == "paint" and p.resumed and p.step == p.resumed:
        return f"resumed: {p.resumed} frames from an earlier run"
    return ""


def run_video(a: argparse.Namespace) -> int:
    from ..video.cache import cache_path
    styles = a.style or None
    if a.method == "fast" and styles is not None and len(styles) > 1:
        raise InputError("the fast method takes one --style image (the optimize method blends several)")
    bar = ProgressBar(a.quiet, describe)
    painted = 0

    def callback(p: Any) -> None:
        nonlocal painted
        painted = p.step if p.phase == "paint" else painted
        bar(p)

    def step_callback(p: Progress) -> None:  # the optimize method's steps within a frame
        bar.note(f"frame {painted + 1}: step {p.step}/{p.total}  loss {p.loss:.4g}")

    kw = dict(preset=a.preset, model=a.model, method=a.method, size=a.size, consistency=a.consistency,
              strength=a.strength, preserve_color=a.preserve_color, stroke_scale=a.stroke_scale, steps=a.steps,
              later_steps=a.later_steps,
              temporal_weight=a.temporal_weight, long_term=a.long_term, style_weight=a.style_weight,
              content_weight=a.content_weight, tv_weight=a.tv_weight, flow_preset=a.flow, fps=a.fps,
              max_frames=a.frames, keep_frames=a.keep_frames, restart=a.restart, crf=a.crf, seed=a.seed,
              device=a.device, dtype=a.dtype)
    style = (styles[0] if a.method == "fast" else styles) if styles else None
    try:
        result = brushwork.stylize_video(a.input, a.output, style=style, callback=callback,
                                         step_callback=step_callback, **kw)
    except KeyboardInterrupt:
        bar.close()
        print(f"brushwork video: interrupted after {painted} frames; run the same command again to continue "
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


def register(sub: Any) -> None:
    """Add `video` to the subcommands `sub`."""
    api = brushwork.stylize_video
    d = lambda name: options.api_default(api, name)  # noqa: E731
    v = sub.add_parser("video", help="stylize a video or frame folder, consistent over time (no flicker)",
                       description="Video style transfer. Each frame is painted (fast: a feed-forward network; "
                       "optimize: Ruder et al. 2016 image iteration) and made to agree with the previous one along "
                       "the optical flow. Frames are cached in OUT.frames/, so an interrupted run continues where "
                       "it stopped; the output appears only when complete. The audio track is kept.",
                       epilog="examples:\n  brushwork video clip.mp4 --preset wave -o out.mp4\n"
                       "  brushwork video clip.mp4 --style starry.jpg --method optimize --size 512 -o out.mp4\n"
                       "  brushwork video frames/ --model wave.bw --size 1280x720 -o out/\n"
                       "  brushwork video clip.mp4 --preset 7 --frames 48 -o preview.gif",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("input", help="a video file (mp4, mov, mkv, webm, gif, ...) or a folder of frames")
    src = v.add_argument_group("style (give one)")
    src.add_argument("--preset", default=d("preset"), metavar="NAME|N[:W],...",
                     help="a built-in style: ours by name (wave), the ONNX ones 0-25, or a blend (fast method); "
                     "with a multistyle --model, its styles")
    src.add_argument("--style", action="append", default=None, metavar="IMAGE",
                     help="a style image (fast: the arbitrary-style network; optimize: repeat to blend styles)")
    src.add_argument("--model", default=d("model"), metavar="FILE", help="a network you trained, .bw (fast method)")
    g = v.add_argument_group("look")
    g.add_argument("--method", choices=("fast", "optimize"), default=d("method"),
                   help="fast: a network per frame (default); optimize: Ruder et al., minutes per frame on a CPU")
    g.add_argument("--size", type=args.size, default=d("size"),
                   help="frame size: long side in px, or WIDTHxHEIGHT (default: the input's, up to Full HD)")
    g.add_argument("--consistency", type=float, default=d("consistency"),
                   help="fast: how much of the previous frame is carried along the motion, 0 (none, flickers) to "
                   f"0.95 (default {d('consistency'):g})")
    g.add_argument("--strength", type=float, default=d("strength"),
                   help=f"fast: 0 = the photo, 1 = full style (default {d('strength'):g})")
    options.preserve_color(g, api, "fast: keep the video's colours: only the brightness is stylized (alone: "
                           "luminance), or each frame is recoloured to the input frame's colour statistics")
    options.stroke_scale(g, api, "fast: frames")
    o = v.add_argument_group("optimize method")
    o.add_argument("--steps", type=args.positive_int, default=d("steps"),
                   help=f"steps for the first frame (default {d('steps')})")
    o.add_argument("--later-steps", type=args.positive_int, default=d("later_steps"),
                   help=f"steps for each later frame, which starts from the previous one (default {d('later_steps')})")
    o.add_argument("--temporal-weight", type=args.non_negative, default=d("temporal_weight"),
                   help=f"agreement with the previous frame (default {d('temporal_weight'):g} = 10x Ruder et al.'s, "
                   "for our shorter runs)")
    o.add_argument("--long-term", type=args.distances, default=list(d("long_term")), metavar="J1,J2,...",
                   help="also agree with these earlier frames, e.g. 1,10,20,40 (default "
                   f"{','.join(map(str, d('long_term')))})")
    o.add_argument("--style-weight", type=args.non_negative, default=d("style_weight"),
                   help=f"style vs content (default {d('style_weight'):g})")
    o.add_argument("--content-weight", type=args.non_negative, default=d("content_weight"),
                   help="content loss multiplier")
    o.add_argument("--tv-weight", type=args.non_negative, default=d("tv_weight"), help="smoothness multiplier")
    o.add_argument("--seed", type=int, default=d("seed"), help=f"random seed (default {d('seed')})")
    r = v.add_argument_group("running")
    r.add_argument("--frames", type=args.positive_int, default=d("max_frames"), metavar="N",
                   help="only the first N frames (a preview)")
    r.add_argument("--fps", type=args.non_negative, default=d("fps"), help="frame rate of a frame folder (default 24)")
    r.add_argument("--flow", choices=("ultrafast", "fast", "medium"), default=d("flow_preset"),
                   help=f"optical flow quality (OpenCV DIS preset; default {d('flow_preset')})")
    r.add_argument("--crf", type=int, default=d("crf"),
                   help=f"H.264 quality: 18 visually lossless (default {d('crf')}), 23 smaller")
    r.add_argument("--keep-frames", action="store_true", default=d("keep_frames"),
                   help="keep OUT.frames/ (the painted frames) after success")
    r.add_argument("--restart", action="store_true", default=d("restart"),
                   help="discard frames cached by a run with other settings")
    options.device(r, api)
    options.dtype(r, api, "optimize: precision of the VGG network (default auto)")
    options.quiet(r, "no progress bars")
    v.add_argument("-o", "--output", required=True, type=Path,
                   help="output: .mp4 / .mov / .mkv (H.264), .gif, or a folder for PNG frames")
    v.set_defaults(func=run_video)
