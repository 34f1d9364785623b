"""Audio style transfer and texture synthesis (Ulyanov & Lebedev 2016), on the image-iteration engine.

The canvas is the log-magnitude spectrogram; the features one layer of random 1-D filters
(`RandomFilters`); the losses Gatys' content loss on the features and a Gram loss over time;
the producer L-BFGS. Fast Griffin-Lim turns the optimised magnitude back into sound.

Weights are those of the reference notebook: objective = α·Σ(F − F_c)² + Σ(G − G_s)² with
α = 1e-2 and G = F Fᵀ / frames. The content sum is taken per frame × the reference's 10 s
clip (`REFERENCE_FRAMES`), so the balance does not drift with the length of the sound.
"""
from __future__ import annotations

import dataclasses

import torch

from ..errors import InputError
from ..losses import ContentLoss
from ..optimize.engine import Schedule, optimize
from ..optimize.settings import RunSettings
from ..progress import Callback
from .canvas import SpectrogramCanvas
from .features import TAP, RandomFilters
from .io import Audio, AudioSource, check_rate, load_audio
from .stft import STFT, griffin_lim, log_spectrogram, magnitude
from .style_loss import TimeGramLoss

MODES = ("transfer", "style-only")
INITS = ("noise", "content")
PHASES = ("random", "content")
ALPHA = 1e-2                 # the reference's content weight
REFERENCE_FRAMES = 421       # feature frames of the reference's 10 s clips (431 STFT frames - 10)
SILENCE_RMS = 1e-4           # -80 dBFS: nothing to take a form or a timbre from
MAX_RESULT_SECONDS = 60.0    # L-BFGS keeps 100 copies of the spectrogram: 1 GB at 60 s
PEAK = 0.99
GRAM_CHUNK = 2048            # frames per feature chunk when summing a long style's Gram


def _audible(a: Audio, what: str) -> Audio:
    rms = float((a.samples.astype("float64") ** 2).mean() ** 0.5)
    if rms < SILENCE_RMS:
        raise InputError(f"the {what} {a.name or 'sound'} is silent (RMS {rms:.1e}); there is nothing to take from it")
    return a


def _positive_int(value: int, what: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(f"{what} must be a whole number of at least {low}, not {value!r}")
    return value


def _non_negative(value: float, what: str) -> float:
    if not value >= 0:  # also NaN
        raise InputError(f"{what} must be zero or positive, not {value}")
    return float(value)


def style_target(features: RandomFilters, spec: torch.Tensor) -> torch.Tensor:
    """What `TimeGramLoss` compares with: the style's features when it has fewer frames than
    filters, else its Gram F Fᵀ / frames, summed chunk by chunk so a long style needs memory for
    GRAM_CHUNK frames of features only (the chunks overlap by the filter width)."""
    frames = spec.shape[-1] - features.width + 1
    if frames <= features.filters:
        return features.targets(spec)[TAP]
    total = torch.zeros(features.filters, features.filters, device=features.device)
    for start in range(0, frames, GRAM_CHUNK):
        f = features.targets(spec[..., start:start + GRAM_CHUNK + features.width - 1])[TAP][0]
        total += f @ f.T
    return total / frames


def _losses(features: RandomFilters, content: torch.Tensor | None, style: torch.Tensor,
            content_weight: float, style_weight: float) -> dict:
    """The reference's objective; the content loss is a mean over filters and frames, so a
    scale factor restores its sum over the reference's frames."""
    losses: dict = {"style": TimeGramLoss(TAP, style_target(features, style), style_weight)}
    if content is not None and content_weight > 0:
        losses["content"] = ContentLoss(TAP, features.targets(content)[TAP],
                                        ALPHA * content_weight * features.filters * REFERENCE_FRAMES)
    return losses


def _noise(shape: tuple[int, ...], seed: int | None) -> torch.Tensor:
    """The reference's near-silent start, |N(0, 1e-3)|, reproducible with a seed."""
    g = torch.Generator().manual_seed(0 if seed is None else seed)
    return torch.randn(shape, generator=g).abs() * 1e-3


def _limit(wave: torch.Tensor) -> torch.Tensor:
    """The optimised level as it is, scaled down only where peaks would clip."""
    peak = float(wave.abs().max())
    return wave * (PEAK / peak) if peak > PEAK else wave


def _run(content_spec: torch.Tensor | None, style_spec: torch.Tensor, frames: int, init: torch.Tensor,
         *, stft: STFT, steps: int, content_weight: float, style_weight: float, filters: int, width: int,
         optimizer: str, lr: float | None, tol: float, seed: int | None, device, dtype,
         callback: Callback | None) -> torch.Tensor:
    if frames < width:
        raise InputError(f"{frames} frames is shorter than the filters' width ({width} frames); ask for a longer sound")
    settings = RunSettings(optimizer=optimizer, lr=lr, tol=tol, seed=seed, device=device, dtype=dtype)
    features = RandomFilters(stft.bins, filters, width, 0 if seed is None else seed, settings.device, settings.dtype)

    def build(size: tuple[int, ...], feats: RandomFilters) -> dict:
        return _losses(feats, content_spec, style_spec, content_weight, style_weight)

    report = None if callback is None else lambda p: callback(dataclasses.replace(p, phase="optimise"))
    result = optimize(build, init[None], Schedule([(frames,)], [steps]), features, settings,
                      canvas=SpectrogramCanvas(), callback=report)
    return result[0]


def _check_common(steps: int, griffin_lim_iters: int, phase: str, rate: int, n_fft: int) -> STFT:
    """Refuse bad settings before any file is decoded."""
    _positive_int(steps, "steps")
    _positive_int(griffin_lim_iters, "Griffin-Lim iterations", 0)
    if phase not in PHASES:
        raise InputError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}")
    check_rate(rate, "the working sample rate")
    return STFT(n_fft)


def stylize_audio(content: AudioSource, style: AudioSource, *,
                  mode: str = "transfer",
                  steps: int = 50,
                  content_weight: float = 1.0,
                  style_weight: float = 1.0,
                  init: str | None = None,
                  phase: str = "random",
                  rate: int = 22_050,
                  n_fft: int = 2048,
                  filters: int = 2048,
                  width: int = 11,
                  griffin_lim_iters: int = 100,
                  optimizer: str = "lbfgs",
                  lr: float | None = None,
                  tol: float = 1e-4,
                  seed: int | None = 0,
                  device: str | torch.device = "auto",
                  dtype: str | torch.dtype = "auto",
                  callback: Callback | None = None) -> Audio:
    """The form of `content` with the timbre and texture of `style`; an `Audio` as long as the
    content, at its working `rate`, remembering the content's own rate for saving.

    `mode` 'transfer' matches content features and style Grams from near-silence (the
    reference); 'style-only' starts from the content and matches the style only, so the
    content's form survives as far as the steps leave it. `content_weight` and `style_weight`
    scale the reference's α = 1e-2 balance. `phase` 'content' starts Griffin-Lim from the
    content's phase instead of a random one. `seed` fixes the random filters, the start and
    the phase (None: filters of seed 0, noise and phase of seed 0 too; runs are reproducible).
    `filters` is 2048, not the reference's 4096: about half the work per step, for results as
    close to the style (1024 are cheaper again, but measurably further from it; BENCHMARKS.md, Audio).
    """
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    init = init or ("noise" if mode == "transfer" else "content")
    if init not in INITS:
        raise InputError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    stft = _check_common(steps, griffin_lim_iters, phase, rate, n_fft)
    _non_negative(content_weight, "content weight")
    _non_negative(style_weight, "style weight")
    c_audio = _audible(load_audio(content, rate), "content")
    s_audio = _audible(load_audio(style, rate), "style")
    if c_audio.seconds > MAX_RESULT_SECONDS:
        raise InputError(f"the content is {c_audio.seconds:.0f} s long; results are limited to "
                         f"{MAX_RESULT_SECONDS:g} s (the optimiser holds the whole spectrogram), so cut it first")
    c_stft = stft.forward(torch.from_numpy(c_audio.samples))
    c_spec = torch.log1p(c_stft.abs())
    s_spec = log_spectrogram(s_audio.samples, stft)
    start = c_spec.clone() if init == "content" else _noise(tuple(c_spec.shape), seed)
    spec = _run(c_spec if mode == "transfer" else None, s_spec, c_spec.shape[-1], start, stft=stft,
                steps=steps, content_weight=content_weight, style_weight=style_weight, filters=filters,
                width=width, optimizer=optimizer, lr=lr, tol=tol, seed=seed, device=device, dtype=dtype,
                callback=callback)
    wave = griffin_lim(magnitude(spec), stft, griffin_lim_iters, seed=seed, length=len(c_audio.samples),
                       phase=c_stft.angle() if phase == "content" else None, callback=callback)
    return Audio(_limit(wave).numpy(), rate, c_audio.source_rate, c_audio.name)


def synthesize_texture(source: AudioSource, *,
                       seconds: float | None = None,
                       steps: int = 50,
                       rate: int = 22_050,
                       n_fft: int = 2048,
                       filters: int = 2048,
                       width: int = 11,
                       griffin_lim_iters: int = 100,
                       optimizer: str = "lbfgs",
                       lr: float | None = None,
                       tol: float = 1e-4,
                       seed: int | None = 0,
                       device: str | torch.device = "auto",
                       dtype: str | torch.dtype = "auto",
                       callback: Callback | None = None) -> Audio:
    """New sound with the texture of `source`, `seconds` long (default: as long as the source),
    matching the Gram of its random-filter features from near-silence."""
    stft = _check_common(steps, griffin_lim_iters, "random", rate, n_fft)
    src = _audible(load_audio(source, rate), "texture source")
    seconds = src.seconds if seconds is None else seconds
    if not 0 < seconds <= MAX_RESULT_SECONDS:
        raise InputError(f"seconds must be more than 0 and at most {MAX_RESULT_SECONDS:g}, not {seconds}")
    length = round(seconds * rate)
    frames = stft.frames(length)
    spec = _run(None, log_spectrogram(src.samples, stft), frames, _noise((stft.bins, frames), seed), stft=stft,
                steps=steps, content_weight=0.0, style_weight=1.0, filters=filters, width=width,
                optimizer=optimizer, lr=lr, tol=tol, seed=seed, device=device, dtype=dtype, callback=callback)
    wave = griffin_lim(magnitude(spec), stft, griffin_lim_iters, seed=seed, length=length, callback=callback)
    return Audio(_limit(wave).numpy(), rate, src.source_rate, src.name)
