"""Audio style transfer on the shared samples: time for a 10 s clip, style distance, content
measure and Griffin-Lim's spectral convergence, for each mode and filter count, next to the
content and the style themselves.

    .venv/bin/python bench/audio_quality.py                      # speech x trumpet, the defaults
    .venv/bin/python bench/audio_quality.py --filters 4096 1024 --steps 100 --modes transfer style-only
    .venv/bin/python bench/audio_quality.py --gram-only           # one step: house Gram vs TimeGramLoss
    .venv/bin/python bench/audio_quality.py --speed --filters 4096 1024   # one evaluation: conv1d vs ours

`seconds` is wall time, `cpu_seconds` the CPU time of all threads (steadier on a shared
machine). Inputs are the 10 s mono 22.05 kHz excerpts in $BRUSHWORK_DATA/samples/audio/wav (default
../shared/data). Results, every output wav and its spectrogram picture go to
bench/results/audio-<timestamp>/ (git-ignored); the table is printed as markdown.

Measures (all with 4096 filters of seed 1, not the runs' seed-0 filters, so a run is not judged
on the features it fitted): `style_distance` = ‖G(x) − G(style)‖² / ‖G(style)‖²;
`content_correlation` = Pearson correlation of log spectrograms with the content; `gl_sc` =
‖ |STFT(wave)| − M ‖ / ‖M‖ for the optimised magnitude M and the wave Griffin-Lim made of it
(its last progress report); `corr_with_N` = the same correlation with the mode's result at N
filters, the most run (how far fewer filters change what comes out).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from brushwork.audio import Audio, evaluate, load_audio, save_audio, save_spectrograms, stylize_audio
from brushwork.audio.measures import content_correlation
from brushwork.audio.stft import log_spectrogram

REPO = Path(__file__).resolve().parent.parent
JUDGE = dict(filters=4096, seed=1)


def data_dir() -> Path:
    return Path(os.environ.get("BRUSHWORK_DATA", REPO.parent / "shared" / "data"))


def cpu_flags() -> str:
    try:
        flags = Path("/proc/cpuinfo").read_text().split("flags")[1].split("\n")[0]
    except (OSError, IndexError):
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
    return " ".join(f for f in wanted if f" {f}" in flags) or "none of avx2/avx512/amx"


def gram_only(content: Path, style: Path, repeats: int) -> None:
    """Seconds for one evaluation (features, style loss, gradient): house Gram vs TimeGramLoss."""
    from brushwork.features.stats import gram

    from brushwork.audio.features import TAP, RandomFilters
    from brushwork.audio.stft import log_spectrogram
    from brushwork.audio.style_loss import TimeGramLoss
    from brushwork.losses import GramLoss
    feats = RandomFilters(1025, 4096, 11, 0, "cpu", torch.float32)
    x = log_spectrogram(load_audio(content).samples)[None].requires_grad_(True)
    target = feats.targets(log_spectrogram(load_audio(style).samples))[TAP]
    losses = {"house GramLoss": GramLoss(TAP, gram(target)), "TimeGramLoss": TimeGramLoss(TAP, target)}
    for _ in range(repeats):
        for name, loss in losses.items():
            t = time.perf_counter()
            torch.autograd.grad(loss(x, feats(x)), x)
            print(f"{name:>15}: {time.perf_counter() - t:.2f} s per evaluation")


def speed(content: Path, style: Path, filters: list[int], threads: list[int], repeats: int) -> None:
    """Seconds (wall / CPU) for one evaluation (features, losses, gradient) of a 10 s transfer:
    the features as `conv1d` (the old way) against ours (one matrix product over unfolded
    frames), interleaved so both see the same load; and per thread count."""
    import torch.nn.functional as F

    from brushwork.audio.features import TAP, RandomFilters
    from brushwork.audio.stft import log_spectrogram
    from brushwork.audio.transfer import _losses
    c = log_spectrogram(load_audio(content).samples)
    s = log_spectrogram(load_audio(style).samples)
    for n in filters:
        feats = RandomFilters(c.shape[0], n, 11, 0, "cpu", torch.float32)
        losses = _losses(feats, c, s, 1.0, 1.0)
        kernels = feats.weight.contiguous()
        ways = {"conv1d": lambda x: {TAP: F.relu(F.conv1d(x, kernels))}, "matrix": feats}
        for t in threads:
            torch.set_num_threads(t)
            seen: dict[str, list[tuple[float, float]]] = {k: [] for k in ways}
            for _ in range(repeats):
                for name, way in ways.items():
                    x = c[None].clone().requires_grad_(True)
                    w, cpu = time.perf_counter(), time.process_time()
                    f = way(x)
                    torch.autograd.grad(sum(loss(x, f) for loss in losses.values()), x)
                    seen[name].append((time.perf_counter() - w, time.process_time() - cpu))
            best = {k: (min(a for a, _ in v), min(b for _, b in v)) for k, v in seen.items()}
            print(f"filters {n}, {t} thread(s), load {os.getloadavg()[0]:.1f}: " + ", ".join(
                f"{k} {a:.2f} s / {b:.2f} CPU s" for k, (a, b) in best.items()) +
                f"; conv1d / matrix = {best['conv1d'][0] / best['matrix'][0]:.2f} wall, "
                f"{best['conv1d'][1] / best['matrix'][1]:.2f} CPU", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--content", default="speech_librispeech_198-209-0000_10s_mono.wav")
    ap.add_argument("--style", default="trumpet_10s_mono.wav")
    ap.add_argument("--modes", nargs="+", default=["transfer", "style-only"])
    ap.add_argument("--filters", nargs="+", type=int, default=[4096])
    ap.add_argument("--steps", type=int, default=None, help="default: the API's")
    ap.add_argument("--seconds", type=float, default=None, help="only the first seconds of both sounds")
    ap.add_argument("--gram-only", action="store_true")
    ap.add_argument("--speed", action="store_true", help="one evaluation: conv1d against our matrix product")
    ap.add_argument("--threads", nargs="+", type=int, default=[2], help="with --speed")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    wav = data_dir() / "samples" / "audio" / "wav"
    content, style = wav / a.content, wav / a.style
    if a.gram_only:
        gram_only(content, style, a.repeats)
        return
    if a.speed:
        speed(content, style, a.filters, a.threads, a.repeats)
        return
    if a.seconds is not None:
        content, style = (Audio(x.samples[:round(a.seconds * x.rate)], x.rate, x.source_rate, x.name)
                          for x in (load_audio(content), load_audio(style)))
    out = a.out or REPO / "bench" / "results" / f"audio-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    rows = [{"run": "content itself", **evaluate(content, content=content, style=style, **JUDGE)},
            {"run": "style itself", **evaluate(style, content=content, style=style, **JUDGE)}]
    specs: dict[tuple[str, int], torch.Tensor] = {}   # each result's log spectrogram, to compare across filters
    for mode in a.modes:
        for filters in a.filters:
            kw = {} if a.steps is None else {"steps": a.steps}
            seen: list = []
            t, cpu = time.perf_counter(), time.process_time()
            result = stylize_audio(content, style, mode=mode, filters=filters, callback=seen.append, **kw)
            seconds, cpu_seconds = time.perf_counter() - t, time.process_time() - cpu
            steps = [p for p in seen if p.phase == "optimise"]
            gl = [p for p in seen if p.phase == "griffin-lim"]
            name = f"{mode}-{filters}"
            path = save_audio(result, out / f"{name}.wav")
            save_spectrograms({"content": content, "style": style, f"result: {name}": result}, out / f"{name}.png")
            specs[mode, filters] = log_spectrogram(load_audio(path).samples)
            rows.append({"run": name, **evaluate(path, content=content, style=style, **JUDGE),
                         "mode": mode, "filters": filters,
                         "gl_sc": gl[-1].loss if gl else None,
                         "seconds": round(seconds, 1), "cpu_seconds": round(cpu_seconds, 1), "steps": steps[-1].step if steps else 0,
                         "optimise_s": round(steps[-1].elapsed, 1) if steps else 0.0,
                         "griffin_lim_s": round(gl[-1].elapsed, 1) if gl else 0.0,
                         "loss_first": steps[0].loss if steps else None, "loss_last": steps[-1].loss if steps else None})
            print(json.dumps(rows[-1]), flush=True)
    most = max(a.filters)
    for r in rows:
        if "mode" in r:   # how alike a result is to its mode's result with the most filters
            r[f"corr_with_{most}"] = content_correlation(specs[r["mode"], r["filters"]], specs[r["mode"], most])
    meta = {"date": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "cpu": platform.processor() or platform.machine(),
            "cpu_flags": cpu_flags(), "threads": torch.get_num_threads(), "load_average": os.getloadavg(),
            "content": a.content, "style": a.style, "first_seconds": a.seconds}
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    cols = ["run", "seconds", "cpu_seconds", "steps", "optimise_s", "griffin_lim_s", "style_distance",
            "content_correlation", f"corr_with_{max(a.filters)}", "gl_sc", "loss_first", "loss_last"]
    print(f"\n{meta}\n")
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(f"{r[c]:.3g}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols) + " |")
    print(f"\nresults in {out}")


if __name__ == "__main__":
    main()
