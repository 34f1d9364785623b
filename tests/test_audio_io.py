"""Audio I/O, STFT / Griffin-Lim, random filters, measures and pictures on synthetic sounds."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from audio_synth import RATE, chirp, noise, tone, write_coded, write_wav
from PIL import Image

from brushwork import InputError
from brushwork.audio.features import RandomFilters
from brushwork.audio.io import load_audio, save_audio
from brushwork.audio.measures import content_correlation, evaluate, style_distance
from brushwork.audio.pictures import save_spectrograms
from brushwork.audio.stft import STFT, griffin_lim, log_spectrogram, magnitude, spectral_convergence


def _pitch(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


@pytest.mark.parametrize("rate", [8000, 22_050, 44_100, 48_000])
@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_save_load_round_trips_rate_and_length(tmp_path, rate, ext):
    x = tone(440, 0.75, rate)
    p = save_audio(x, tmp_path / f"t{ext}", rate)
    a = load_audio(p, rate)
    assert a.source_rate == rate and a.rate == rate
    assert len(a.samples) == len(x)
    assert np.abs(a.samples - x).max() < 1e-3  # 16-bit quantisation


def test_audio_is_written_at_its_source_rate(tmp_path):
    x = tone(1000, 1.0, 44_100)
    a = load_audio(save_audio(x, tmp_path / "in.wav", 44_100), RATE)  # worked on at 22.05 kHz
    assert a.rate == RATE and len(a.samples) == RATE
    back = load_audio(save_audio(a, tmp_path / "out.flac"), 44_100)
    assert back.source_rate == 44_100 and abs(len(back.samples) - len(x)) <= 1
    assert abs(_pitch(back.samples, 44_100) - 1000) < 5


def test_stereo_is_mixed_down_and_resampled(tmp_path):
    left, right = tone(300, 1.0, 16_000), tone(300, 1.0, 16_000, amp=0.1)
    a = load_audio(write_wav(tmp_path / "st.wav", np.stack([left, right]), 16_000), RATE)
    assert a.source_rate == 16_000 and abs(len(a.samples) - RATE) <= 1
    assert np.abs(a.samples).max() == pytest.approx(0.3, abs=0.01)  # the mean of the channels
    assert abs(_pitch(a.samples, RATE) - 300) < 3


@pytest.mark.parametrize("codec, fmt, ext, rate", [("libopus", "ogg", ".ogg", 48_000),
                                                   ("libmp3lame", "mp3", ".mp3", 44_100),
                                                   ("aac", "ipod", ".m4a", 44_100)])
def test_compressed_formats_load(tmp_path, codec, fmt, ext, rate):
    x = tone(440, 1.0, rate)
    a = load_audio(write_coded(tmp_path / f"t{ext}", x, rate, codec, fmt))
    assert a.source_rate == rate
    assert abs(a.seconds - 1.0) < 0.1  # encoders pad by a frame or so
    assert abs(_pitch(a.samples, RATE) - 440) < 3


def test_bad_files_are_refused_in_one_line(tmp_path):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 50)
    cases = {
        junk: "not an audio file",
        tmp_path / "missing.wav": "no such file",
        write_wav(tmp_path / "short.wav", tone(440, 0.05), RATE): "too short",
        # FFmpeg itself refuses a header that declares 0 Hz
        write_wav(tmp_path / "rate0.wav", tone(440, 1.0), RATE, declared_rate=0): "sample rate|not an audio file",
        tmp_path: "is a folder",
    }
    for path, words in cases.items():
        with pytest.raises(InputError, match=words) as e:
            load_audio(path)
        assert "\n" not in str(e.value)


def test_long_files_are_refused_with_the_reason(tmp_path, monkeypatch):
    import brushwork.audio.io as aio
    monkeypatch.setattr(aio, "MAX_SECONDS", 2.0)  # a 3-hour file, scaled down
    p = write_wav(tmp_path / "long.wav", noise(4.0), RATE)
    with pytest.raises(InputError, match="too long.*optimised whole"):
        load_audio(p)


@pytest.mark.parametrize("rate", [0, -1, 22_050.5, True])
def test_bad_rates_are_refused(tmp_path, rate):
    p = save_audio(tone(440, 1.0), tmp_path / "t.wav", RATE)
    with pytest.raises(InputError, match="sample rate"):
        load_audio(p, rate)
    with pytest.raises(InputError, match="sample rate"):
        save_audio(tone(440, 1.0), tmp_path / "u.wav", rate)


def test_failed_save_leaves_nothing_behind(tmp_path):
    (tmp_path / "keep.wav").write_bytes(b"earlier")
    for bad in (tmp_path / "x.mp3", tmp_path / "nodir" / "x.wav"):
        with pytest.raises(InputError):
            save_audio(tone(440, 1.0), bad, RATE)
    with pytest.raises(InputError):
        save_audio(np.zeros((2, 10), np.float32), tmp_path / "keep.wav", RATE)
    assert os.listdir(tmp_path) == ["keep.wav"] and (tmp_path / "keep.wav").read_bytes() == b"earlier"


def test_griffin_lim_converges_on_a_known_magnitude():
    stft = STFT(256)
    x = chirp(200, 3000, 1.0) + 0.5 * tone(700, 1.0)
    mag = magnitude(log_spectrogram(x, stft))
    fast = spectral_convergence(mag, griffin_lim(mag, stft, 60), stft)
    classic = spectral_convergence(mag, griffin_lim(mag, stft, 60, momentum=0.0), stft)
    start = spectral_convergence(mag, griffin_lim(mag, stft, 0), stft)
    assert fast < 0.08 < start
    assert fast < classic  # the momentum is what makes it fast


def test_griffin_lim_from_the_true_phase_is_exact():
    stft = STFT(256)
    x = torch.from_numpy(noise(0.5))
    spec = stft.forward(x)
    y = griffin_lim(spec.abs(), stft, 0, phase=spec.angle(), length=len(x))
    assert len(y) == len(x) and float((y - x).abs().max()) < 1e-4


def test_stft_rejects_bad_geometry():
    for kwargs in ({"n_fft": 1000}, {"n_fft": 8}, {"n_fft": 256, "hop": 0}, {"n_fft": 256, "hop": 512}):
        with pytest.raises(InputError):
            STFT(**kwargs)


def test_random_filters_are_seeded_and_rectified():
    spec = log_spectrogram(noise(0.5), STFT(256))
    a, b, c = (RandomFilters(129, 64, 11, seed, "cpu", torch.float32) for seed in (3, 3, 4))
    fa, fb, fc = a(spec)["conv"], b(spec)["conv"], c(spec)["conv"]
    assert fa.shape == (1, 64, spec.shape[-1] - 10)
    assert torch.equal(fa, fb) and not torch.equal(fa, fc)
    assert float(fa.min()) == 0.0 and float(fa.max()) > 0
    with pytest.raises(InputError, match="shorter than the filters"):
        a(spec[:, :5])
    with pytest.raises(InputError, match="does not fit"):
        a(spec[:100])


def test_random_filters_are_a_convolution():
    """The matrix product over unfolded frames is conv1d with the same kernels, gradients too."""
    spec = log_spectrogram(noise(0.5), STFT(256))[None].repeat(2, 1, 1).requires_grad_(True)
    feats = RandomFilters(129, 32, 7, 1, "cpu", torch.float32)
    ours = feats(spec)["conv"]
    ref = torch.relu(torch.nn.functional.conv1d(spec, feats.weight))
    assert feats.weight.shape == (32, 129, 7) and torch.allclose(ours, ref, atol=1e-5, rtol=1e-5)
    g1, = torch.autograd.grad((ours * ours.detach()).sum(), spec)
    g2, = torch.autograd.grad((ref * ref.detach()).sum(), spec)
    assert torch.allclose(g1, g2, atol=1e-4, rtol=1e-4)


def test_measures_tell_sounds_apart():
    stft = STFT(256)
    feats = RandomFilters(129, 128, 11, 0, "cpu", torch.float32)
    low, low2, hiss = (log_spectrogram(s, stft) for s in (tone(300, 1.0), tone(300, 1.0, amp=0.45), noise(1.0)))
    assert style_distance(low2, low, feats) < 0.1 < style_distance(hiss, low, feats)
    assert content_correlation(low2, low) > 0.95 > content_correlation(hiss, low)


def test_evaluate_reads_files(tmp_path):
    a = save_audio(tone(300, 1.0), tmp_path / "a.wav", RATE)
    b = save_audio(noise(1.0), tmp_path / "b.wav", RATE)
    m = evaluate(a, content=a, style=b, n_fft=256, filters=64)
    assert set(m) == {"content_correlation", "style_distance"}
    assert m["content_correlation"] == pytest.approx(1.0) and m["style_distance"] > 0.1


def test_spectrogram_picture_is_labelled_and_scaled(tmp_path):
    stft = STFT(512)
    specs = {"content": log_spectrogram(chirp(100, 4000, 2.0), stft),
             "style": log_spectrogram(noise(1.0), stft),
             "result": log_spectrogram(tone(440, 2.0), stft)}
    p = save_spectrograms(specs, tmp_path / "s.png", rate=RATE, n_fft=512)
    img = np.asarray(Image.open(p).convert("RGB"))
    assert img.shape[0] > 3 * 160 and img.shape[1] > 2 * 90
    # the 1-s style panel is half as wide as the 2-s panels: its right half stays white
    rows = img.shape[0] // 3
    style_panel = img[rows + 30:rows + 150]
    assert (style_panel[:, -40:] == 255).all() and (style_panel[:, 60:100] != 255).any()
