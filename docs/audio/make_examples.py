"""Render the audio examples in this folder from the shared samples (licences in README.md here).

    .venv/bin/python docs/audio/make_examples.py                          # the API's defaults: what is committed here
    .venv/bin/python docs/audio/make_examples.py --filters 1024 --steps 30  # faster

Each example takes the first 5 s of the 10 s mono 22.05 kHz excerpts, writes its result beside
this file with a picture of its inputs' and its own spectrograms, and prints its measures
(`brushwork.audio.evaluate`, with 4096 filters of seed 1: not the run's own).
"""
from __future__ import annotations

import argparse
import inspect
import os
import time
from pathlib import Path

import brushwork
from brushwork.audio import Audio, evaluate, load_audio, save_audio, save_spectrograms, synthesize_texture

HERE = Path(__file__).resolve().parent
SECONDS = 5.0


def excerpt(name: str) -> Audio:
    data = Path(os.environ.get("BRUSHWORK_DATA", HERE.parents[2] / "shared" / "data"))
    a = load_audio(data / "samples" / "audio" / "wav" / name)
    return Audio(a.samples[:round(SECONDS * a.rate)], a.rate, a.source_rate, name)


def main() -> None:
    defaults = inspect.signature(brushwork.stylize_audio).parameters
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--filters", type=int, default=defaults["filters"].default)
    ap.add_argument("--steps", type=int, default=defaults["steps"].default)
    ap.add_argument("--only", nargs="+", default=None, help="names of the examples to make")
    a = ap.parse_args()
    kw = {"filters": a.filters, "steps": a.steps}
    speech = excerpt("speech_librispeech_198-209-0000_10s_mono.wav")
    trumpet = excerpt("trumpet_10s_mono.wav")
    whale = excerpt("humpback_10s_mono.wav")
    pair = {"content: speech": speech, "style: trumpet": trumpet}
    runs = {
        "speech_as_trumpet": (lambda: brushwork.stylize_audio(speech, trumpet, **kw), pair),
        "speech_as_trumpet_style_only": (lambda: brushwork.stylize_audio(speech, trumpet, mode="style-only", **kw),
                                         pair),
        "humpback_texture": (lambda: synthesize_texture(whale, seconds=SECONDS, **kw), {"source: humpback": whale}),
    }
    for name, (run, inputs) in runs.items():
        if a.only and name not in a.only:
            continue
        t = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - t
        save_audio(result, HERE / f"{name}.wav")
        save_spectrograms({**inputs, f"result: {name.replace('_', ' ')}": result}, HERE / f"{name}.png")
        sources = list(inputs.values())
        measures = evaluate(result, content=sources[0] if len(sources) == 2 else None, style=sources[-1], seed=1)
        print(f"{name}: {seconds:.0f} s, {measures}", flush=True)


if __name__ == "__main__":
    main()
