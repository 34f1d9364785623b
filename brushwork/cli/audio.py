"""`brushwork audio`: the sound of one recording in the form of another, or more of a texture."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import args, options
from .render import ProgressBar


def run_audio(a: argparse.Namespace) -> int:
    from ..audio import MODES, check_audio_output, save_audio, save_spectrograms, stylize_audio, synthesize_texture
    from ..image import check_output_path
    if a.texture is not None and (a.content or a.style):
        raise InputError("give CONTENT and STYLE, or --texture SOURCE, not both")
    if a.texture is None and not (a.content and a.style):
        raise InputError("give a CONTENT and a STYLE sound (or --texture SOURCE for texture synthesis)")
    if a.texture is None and a.seconds is not None:
        raise InputError("--seconds is for --texture; a transfer is as long as its content")
    if a.mode not in MODES:  # argparse lists the choices; the API checks again
        raise InputError(f"unknown mode {a.mode!r}")
    check_audio_output(a.output)
    if a.spectrogram is not None:
        check_output_path(a.spectrogram)
    kw = dict(steps=a.steps, rate=a.rate, n_fft=a.n_fft, filters=a.filters, griffin_lim_iters=a.griffin_lim_iters,
              optimizer=a.optimizer, tol=a.tol, seed=a.seed, device=a.device, dtype=a.dtype)
    bar = ProgressBar(a.quiet)
    try:
        if a.texture is not None:
            result = synthesize_texture(a.texture, seconds=a.seconds, callback=bar, **kw)
        else:
            result = stylize_audio(a.content, a.style, mode=a.mode, content_weight=a.content_weight,
                                   style_weight=a.style_weight, init=a.init, phase=a.phase, callback=bar, **kw)
    finally:
        bar.close()
    path = save_audio(result, a.output)
    if a.spectrogram is not None:
        sounds = ({"texture source": a.texture} if a.texture is not None
                  else {"content": a.content, "style": a.style})
        sounds[f"result ({a.mode})" if a.texture is None else "texture"] = result
        save_spectrograms(sounds, a.spectrogram, rate=a.rate, n_fft=a.n_fft)
    if not a.quiet:
        extra = f"; spectrograms in {a.spectrogram}" if a.spectrogram is not None else ""
        print(f"wrote {path} ({result.seconds:.1f} s at {result.source_rate} Hz{extra})", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add `audio` to the subcommands `sub`."""
    import brushwork

    from ..audio import INITS, MODES, PHASES
    api, tex = brushwork.stylize_audio, brushwork.audio.synthesize_texture
    d = lambda name: options.api_default(api, name)
    p = sub.add_parser("audio", help="audio style transfer and texture synthesis (Ulyanov & Lebedev)",
                       description="Audio style transfer on spectrograms: one layer of random 1-D filters as the "
                       "features, content loss + Gram style loss, L-BFGS, and Griffin-Lim back to sound. Reads "
                       "wav, flac, ogg, mp3, m4a, ...; writes mono wav or flac at the content's sample rate.",
                       epilog="examples:\n  brushwork audio speech.wav violin.ogg -o out.wav\n"
                       "  brushwork audio --texture rain.wav --seconds 30 -o more_rain.wav\n"
                       "  brushwork audio speech.wav violin.ogg --mode style-only -o out.wav\n"
                       "  brushwork audio speech.wav violin.ogg --spectrogram out.png -o out.wav",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("content", nargs="?", help="the sound whose form (timing, melody, words) is kept")
    p.add_argument("style", nargs="?", help="the sound whose timbre and texture is taken")
    t = p.add_argument_group("texture synthesis")
    t.add_argument("--texture", metavar="SOURCE", default=None, help="synthesise more of this sound instead")
    t.add_argument("--seconds", type=args.non_negative, default=options.api_default(tex, "seconds"),
                   help="length of the texture (default: the source's)")
    g = p.add_argument_group("look")
    g.add_argument("--mode", choices=MODES, default=d("mode"),
                   help="transfer: content + style losses from near-silence (default); style-only: start from "
                   "the content, style loss only")
    g.add_argument("--style-weight", type=args.non_negative, default=d("style_weight"),
                   help=f"multiplier on the style loss (default {d('style_weight'):g})")
    g.add_argument("--content-weight", type=args.non_negative, default=d("content_weight"),
                   help=f"multiplier on the reference's content weight 1e-2 (default {d('content_weight'):g})")
    g.add_argument("--init", choices=INITS, default=d("init"),
                   help="start from noise or the content (default: noise for transfer, content for style-only)")
    g.add_argument("--phase", choices=PHASES, default=d("phase"),
                   help="Griffin-Lim's starting phase: random (default) or the content's")
    o = p.add_argument_group("optimisation")
    o.add_argument("--steps", type=args.positive_int, default=d("steps"), help=f"L-BFGS steps (default {d('steps')})")
    o.add_argument("--filters", type=args.positive_int, default=d("filters"),
                   help=f"random filters (default {d('filters')}; fewer is faster and coarser)")
    o.add_argument("--rate", type=int, default=d("rate"), help=f"working sample rate in Hz (default {d('rate')})")
    o.add_argument("--n-fft", type=int, default=d("n_fft"), help=f"STFT window in samples (default {d('n_fft')})")
    o.add_argument("--griffin-lim-iters", type=int, default=d("griffin_lim_iters"),
                   help=f"phase reconstruction iterations (default {d('griffin_lim_iters')})")
    o.add_argument("--optimizer", choices=("lbfgs", "adam"), default=d("optimizer"), help="default lbfgs")
    o.add_argument("--tol", type=args.non_negative, default=d("tol"),
                   help=f"stop when the loss improves less than this fraction over 20 steps (default {d('tol'):g})")
    o.add_argument("--seed", type=int, default=d("seed"), help=f"random filters, start and phase (default {d('seed')})")
    r = p.add_argument_group("running")
    options.device(r, api)
    options.dtype(r, api, "precision of the random filters (default auto: bf16 where fast, else fp32)")
    options.quiet(r)
    p.add_argument("--spectrogram", type=Path, default=None, metavar="PNG",
                   help="also write a labelled picture of the spectrograms (content, style, result)")
    p.add_argument("-o", "--output", required=True, type=Path, help="output sound (.wav or .flac)")
    p.set_defaults(func=run_audio)
