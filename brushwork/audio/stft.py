"""Short-time Fourier transform, the log-magnitude spectrogram, and Griffin-Lim to invert it.

A spectrogram here is (bins, frames) with bins = n_fft/2 + 1, from a Hann window centred on
each frame (hop n_fft/4 unless given), as in Ulyanov & Lebedev's reference (librosa's
defaults). The optimised signal is log1p(|STFT|): it compresses the dynamic range the way
hearing does and keeps the variable non-negative.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError
from ..progress import Callback, Progress

REPORT_EVERY = 10


@dataclass(frozen=True)
class STFT:
    """Frame geometry: window length `n_fft` and step `hop` in samples."""

    n_fft: int = 2048
    hop: int | None = None

    def __post_init__(self) -> None:
        n = self.n_fft
        if isinstance(n, bool) or not isinstance(n, int) or n < 16 or n & (n - 1):
            raise InputError(f"n_fft must be a power of two of at least 16, not {self.n_fft!r}")
        if self.hop is not None and (not isinstance(self.hop, int) or not 1 <= self.hop <= self.n_fft):
            raise InputError(f"hop must be a whole number of samples from 1 to n_fft ({self.n_fft}), not {self.hop!r}")

    @property
    def step(self) -> int:
        return self.hop or self.n_fft // 4

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def frames(self, samples: int) -> int:
        return samples // self.step + 1

    def samples(self, frames: int) -> int:
        return (frames - 1) * self.step

    def _window(self, device: torch.device) -> torch.Tensor:
        return torch.hann_window(self.n_fft, device=device)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """(samples,) real -> (bins, frames) complex."""
        return torch.stft(wave, self.n_fft, self.step, window=self._window(wave.device), center=True,
                          return_complex=True)

    def inverse(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """(bins, frames) complex -> (samples,) real, by weighted overlap-add."""
        return torch.istft(spec, self.n_fft, self.step, window=self._window(spec.device), center=True,
                           length=length)


def as_tensor(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(np.asarray(wave, dtype=np.float32) if not torch.is_tensor(wave) else wave).float()


def log_spectrogram(wave: np.ndarray | torch.Tensor, stft: STFT = STFT()) -> torch.Tensor:
    """log1p |STFT| as (bins, frames) float32."""
    return torch.log1p(stft.forward(as_tensor(wave)).abs())


def magnitude(log_spec: torch.Tensor) -> torch.Tensor:
    """Back from log1p to linear magnitude (negative values, which no STFT has, count as zero)."""
    return torch.expm1(log_spec.clamp_min(0))


def spectral_convergence(mag: torch.Tensor, wave: np.ndarray | torch.Tensor, stft: STFT = STFT()) -> float:
    """‖ |STFT(wave)| − mag ‖ / ‖mag‖ (0 = the wave has exactly that magnitude)."""
    got = stft.forward(as_tensor(wave).to(mag.device)).abs()
    n = min(got.shape[-1], mag.shape[-1])
    return float((got[:, :n] - mag[:, :n]).norm() / mag[:, :n].norm().clamp_min(1e-12))


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Each FFT is too small to share between threads: on CPU one thread runs Griffin-Lim
    several times faster than two (BENCHMARKS.md, Audio), and far faster on a busy machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def griffin_lim(mag: torch.Tensor, stft: STFT = STFT(), iters: int = 100, momentum: float = 0.99,
                phase: torch.Tensor | None = None, seed: int | None = 0, length: int | None = None,
                callback: Callback | None = None) -> torch.Tensor:
    """A signal whose STFT magnitude is close to `mag` (bins, frames): the fast Griffin-Lim of
    Perraudin, Balazs & Søndergaard 2013.

    Each iteration projects onto consistent spectrograms (iSTFT then STFT) and onto the given
    magnitude, with the phase extrapolated by `momentum` (0 is the classic Griffin-Lim, which
    needs several times the iterations). `phase` (bins, frames), e.g. the content's, replaces
    the random start, so a result shaped like the content starts from its timing. `length`
    is the signal's length in samples (default: what the frames span). `callback` hears every
    `REPORT_EVERY` iterations, phase 'griffin-lim', with the spectral convergence as the loss.
    """
    if not isinstance(iters, int) or iters < 0:
        raise InputError(f"Griffin-Lim iterations must be a whole number of at least 0, not {iters!r}")
    if not 0 <= momentum < 1:
        raise InputError(f"Griffin-Lim momentum must be in [0, 1), not {momentum}")
    length = length or stft.samples(mag.shape[-1])
    if phase is None:
        g = torch.Generator().manual_seed(0 if seed is None else seed)
        angles = torch.polar(torch.ones(mag.shape), 2 * torch.pi * torch.rand(mag.shape, generator=g))
    else:
        if phase.shape != mag.shape:
            raise InputError(f"a phase of shape {tuple(phase.shape)} does not fit a spectrogram of {tuple(mag.shape)}")
        angles = torch.polar(torch.ones(mag.shape), phase.float().cpu())
    angles = angles.to(mag.device)
    previous = torch.zeros_like(angles)
    with _one_thread() if mag.device.type == "cpu" else contextlib.nullcontext():
        start = time.perf_counter()
        for i in range(iters):
            rebuilt = stft.forward(stft.inverse(mag * angles, length))
            angles = rebuilt - previous * (momentum / (1 + momentum))
            angles = angles / angles.abs().clamp_min(1e-16)
            previous = rebuilt
            if callback is not None and ((i + 1) % REPORT_EVERY == 0 or i + 1 == iters):
                sc = float((rebuilt.abs() - mag).norm() / mag.norm().clamp_min(1e-12))
                callback(Progress(i + 1, iters, sc, {"spectral convergence": sc}, elapsed=time.perf_counter() - start,
                                  phase="griffin-lim", unit="iteration"))
        return stft.inverse(mag * angles, length)
