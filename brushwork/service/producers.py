"""Producers: how each kind of job is made, through brushwork's public API (apply, stylize,
stylize_video, stylize_audio, qr, fashion, translate). A producer reads its inputs and parameters
from a `Work`, reports progress through the run, writes the result file itself and says what it
made; `jobs.run_job` does the
rest (claims, leases, finishing, notifications) alike for every kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from .config import ServiceConfig


class Stopped(Exception):
    """The job was cancelled, or this run lost its claim."""


class Progress(Protocol):
    """What a producer sees of its run (jobs.Run)."""

    should_stop: bool

    def report(self, step: int, total: int, message: str, image: Any = None, force: bool = False) -> bool: ...

    def callback(self, describe: Callable[[Any], str]) -> Callable[[Any], bool]: ...


@dataclass
class Work:
    cfg: ServiceConfig
    params: dict[str, Any]
    inputs: dict[str, Path]      # role ("content", "style", ...) -> stored file
    folder: Path                 # the job's folder (for caches)
    result: Path                 # where the result goes
    run: Progress

    @property
    def output(self) -> tuple[int, int]:
        w, h = self.params["output"]
        return int(w), int(h)


@dataclass
class Made:
    width: int
    height: int
    preview: Any = None          # a (1, 3, H, W) image for the job's preview, or None
    message: str = "done"        # the finished job's message


Producer = Callable[[Work], Made]


def _save(work: Work, image) -> Made:
    from ..image import save_image
    save_image(image, work.result)
    return Made(int(image.shape[-1]), int(image.shape[-2]), image)


def _stop_if(work: Work) -> None:
    if work.run.should_stop:
        raise Stopped()


def paint_fast(work: Work) -> Made:
    """A feed-forward network (a preset or an uploaded painting), tiled at print sizes."""
    import brushwork
    p, run = work.params, work.run
    ow, oh = work.output
    w, h = p["input"]
    run.report(0, 1, "painting", force=True)
    out = brushwork.apply(work.inputs["content"], preset=p.get("preset"), style=work.inputs.get("style"),
                          strength=p["strength"], preserve_color=p["keep_colors"],
                          stroke_scale=p.get("stroke_scale", "auto"), size=None if (ow, oh) == (w, h) else max(ow, oh), device=work.cfg.device,
                          callback=lambda pr: run.report(pr.step, pr.total, f"painting tile {pr.step} of {pr.total}"))
    _stop_if(work)
    return _save(work, out)


def paint_best(work: Work) -> Made:
    """Image iteration from an uploaded painting; strength sets the style weight."""
    import brushwork
    p, run, cfg = work.params, work.run, work.cfg
    size = max(work.output)
    if p["strength"] == 0:
        run.report(1, 1, "strength 0: the photo as it is", force=True)
        from ..feedforward.apply import load_content
        return _save(work, load_content(work.inputs["content"], size))
    run.report(0, cfg.best_steps, "loading the network", force=True)
    weight = 10 ** (1.5 * (p["strength"] - 1))   # 1: the balanced default; lower strength, less style

    def describe(pr) -> str:
        return f"painting: step {pr.step} of {pr.total} (scale {pr.stage + 1} of {pr.stages}, " \
               f"{pr.size[1]}x{pr.size[0]} px)"
    out = brushwork.stylize(work.inputs["content"], work.inputs["style"], size=size, steps=cfg.best_steps,
                            style_weight=weight, preserve_color="luminance" if p["keep_colors"] else None,
                            device=cfg.device, callback=run.callback(describe))
    _stop_if(work)
    return _save(work, out)


def paint_video(work: Work) -> Made:
    """A clip, frame by frame with the fast networks (resumable through its frame cache)."""
    import brushwork

    from ..video import probe
    p, run = work.params, work.run
    ow, oh = work.output
    run.report(0, 0, "reading the clip", force=True)

    def describe(fp) -> str:
        if getattr(fp, "phase", "paint") == "encode":
            return "encoding the video"
        eta = f", {fp.eta:.0f} s left" if getattr(fp, "eta", None) is not None else ""
        return f"frame {fp.step} of {fp.total}{eta}"
    res = brushwork.stylize_video(work.inputs["content"], work.result, preset=p.get("preset"),
                                  style=work.inputs.get("style"), size=f"{ow}x{oh}", strength=p["strength"],
                                  preserve_color=p["keep_colors"], stroke_scale=p.get("stroke_scale", "auto"),
                                  cache=work.folder / "frames",
                                  device=work.cfg.device, callback=run.callback(describe))
    if res is None:
        raise Stopped()
    info = probe(work.result)
    return Made(info.width, info.height)


def paint_qr(work: Work) -> Made:
    """A QR code of the job's text in the style of the uploaded painting, verified to scan; the
    finished job's message says how robust it is."""
    import brushwork
    p, run, cfg = work.params, work.run, work.cfg

    def describe(pr) -> str:
        if pr.phase == "verify":
            return f"reading the code under perturbations (round {pr.step} of at most {pr.total})"
        return f"painting the code: step {pr.step} of {pr.total}"
    run.report(0, cfg.best_steps, "loading the network", force=True)
    made = brushwork.qr(p["text"], work.inputs["style"], ec=p.get("ec") or "M", size=max(work.output),
                        steps=cfg.best_steps, device=cfg.device, callback=run.callback(describe))
    _stop_if(work)
    made.save(work.result)
    r = made.robustness
    return Made(int(made.image.shape[-1]), int(made.image.shape[-2]), made.image,
                f"done: version {made.code.version}-{made.code.ec}, read right in {r.pass_rate:.0%} of "
                f"{sum(len(v) for v in r.cases.values())} perturbed readings")


def _planned_photo(work: Work) -> Any:
    """The job's photo at its planned output size (smaller when the size caps; a mask follows it)."""
    photo: Any = work.inputs["content"]
    if work.output != tuple(work.params["input"]):
        from ..image import load_image, resize
        photo = resize(load_image(photo), work.output[::-1])
    return photo


def _fashion(work: Work, method: str) -> Made:
    """A pattern painted onto the garment of a photo (the uploaded mask, or one GrabCut finds)."""
    import brushwork
    run, cfg = work.run, work.cfg
    fast = method == "fast"
    run.report(0, 1 if fast else cfg.best_steps, "painting" if "mask" in work.inputs else "finding the garment",
               force=True)

    def describe(pr) -> str:
        return f"painting tile {pr.step} of {pr.total}" if fast else f"painting: step {pr.step} of {pr.total}"
    out = brushwork.fashion(_planned_photo(work), work.inputs["pattern"], masks=work.inputs.get("mask"), method=method,
                            steps=cfg.best_steps, device=cfg.device, callback=run.callback(describe))
    _stop_if(work)
    return _save(work, out)


def paint_fashion_fast(work: Work) -> Made:
    """Fashion with the any-style network (seconds)."""
    return _fashion(work, "fast")


def paint_fashion_best(work: Work) -> Made:
    """Fashion by image iteration (masked Gram + MRF; minutes on a CPU)."""
    return _fashion(work, "iterate")


def _photo(work: Work, method: str) -> Made:
    """The photo with the look of the reference photo, still a photo, at its planned size."""
    import brushwork
    run, cfg = work.run, work.cfg
    run.report(0, 1, "matching the look", force=True)

    def describe(pr) -> str:
        return f"{pr.phase}: step {pr.step} of {pr.total}" if pr.phase != "photo" else \
            f"step {pr.step} of {pr.total}"
    out = brushwork.photo(_planned_photo(work), work.inputs["style"], method=method, strength=work.params.get("strength", 1.0),
                          device=cfg.device, callback=run.callback(describe))
    _stop_if(work)
    return _save(work, out)


def photo_fast(work: Work) -> Made:
    """Photorealistic stylization by colour statistics (seconds)."""
    return _photo(work, "auto")


def photo_best(work: Work) -> Made:
    """Photorealistic stylization by Deep Photo's image iteration (minutes on a CPU)."""
    return _photo(work, "optimize")


def translate(work: Work) -> Made:
    """A shipped translation model (named by the job's quality) on the photo, at full resolution."""
    import brushwork
    p, run = work.params, work.run
    ow, oh = work.output
    w, h = p["input"]
    run.report(0, 1, "translating", force=True)
    out = brushwork.translate(work.inputs["content"], p["quality"], size=None if (ow, oh) == (w, h) else max(ow, oh),
                              device=work.cfg.device,
                              callback=lambda pr: run.report(pr.step, pr.total, f"translating tile {pr.step} of "
                                                             f"{pr.total}"))
    _stop_if(work)
    return _save(work, out)


def sound_settings(cfg: ServiceConfig) -> dict[str, int]:
    """Steps, filters, Griffin-Lim iterations, rate and n_fft of a sound job: the service's steps
    and filters where it sets them, else (and for the rest) `stylize_audio`'s defaults."""
    import inspect

    from ..audio import stylize_audio
    default = {k: p.default for k, p in inspect.signature(stylize_audio).parameters.items()}
    return {"steps": cfg.audio_steps or default["steps"], "filters": cfg.audio_filters or default["filters"],
            **{k: default[k] for k in ("griffin_lim_iters", "rate", "n_fft")}}


SOUND_PICTURE = "spectrogram.png"   # beside a sound job's result.wav
# seconds per step, filter and spectrogram frame, and per Griffin-Lim iteration and frame, on this
# project's 2-core CPU when it is not crowded (BENCHMARKS.md, Audio: CPU seconds over 2 cores)
SOUND_STEP_S, GRIFFIN_LIM_S = 5e-7, 1.5e-4


def sound_seconds(frames: int, cfg: ServiceConfig) -> float:
    s = sound_settings(cfg)
    return 5.0 + frames * (s["steps"] * s["filters"] * SOUND_STEP_S + s["griffin_lim_iters"] * GRIFFIN_LIM_S)


def make_sound(work: Work) -> Made:
    """Audio style transfer: the content sound's form in the style sound's timbre, as a wav, with
    a picture of the three spectrograms beside it. Progress runs through both phases on one bar
    (optimise the spectrogram, then Griffin-Lim); the preview is the spectrogram as it forms."""
    import numpy as np
    import torch

    import brushwork
    from ..audio import save_audio, save_spectrograms, spectrogram_picture
    from ..audio.stft import STFT
    from ..image import load_image
    run, cfg = work.run, work.cfg
    s = sound_settings(cfg)
    steps, total, stft = s["steps"], s["steps"] + s["griffin_lim_iters"], STFT(s["n_fft"])

    def report(p) -> bool:
        if p.phase == "griffin-lim":
            return run.report(steps + p.step, total, f"turning the spectrogram into sound (Griffin-Lim): "
                                                     f"iteration {p.step} of {p.total}")
        pic = np.asarray(spectrogram_picture({"result so far": p.image[0]}, s["rate"], stft.step), dtype=np.float32)
        return run.report(p.step, total, f"optimising the spectrogram: step {p.step} of {p.total}",
                          torch.from_numpy(pic / 255.0).permute(2, 0, 1)[None])
    run.report(0, total, "reading the sounds", force=True)
    out = brushwork.stylize_audio(work.inputs["content"], work.inputs["style"], steps=steps, filters=s["filters"],
                                  device=cfg.device, callback=report)
    _stop_if(work)
    save_audio(out, work.result)
    pic = save_spectrograms({"content": work.inputs["content"], "style": work.inputs["style"], "result": out},
                            work.folder / SOUND_PICTURE, rate=s["rate"], n_fft=s["n_fft"])
    return Made(stft.frames(len(out.samples)), stft.bins, load_image(pic))
