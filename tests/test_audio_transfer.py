"""The audio recipe on short synthetic sounds: small STFTs, few filters, few steps."""
from __future__ import annotations

import numpy as np
import pytest
from audio_synth import chirp, noise, tone, write_wav

import brushwork
from brushwork import InputError
from brushwork.audio import Audio, evaluate, synthesize_texture

RATE = 8000
SMALL = dict(rate=RATE, n_fft=256, filters=96, griffin_lim_iters=30, device="cpu", dtype="float32", tol=0, steps=1)


def _sound(x: np.ndarray, name: str, rate: int = RATE) -> Audio:
    return Audio(x, rate, rate, name)


def _pitch(x: np.ndarray, rate: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * rate / len(x))


def test_transfer_lowers_the_objective_and_moves_towards_the_style():
    content = _sound(tone(440, 1.5, RATE), "tone")
    style = _sound(chirp(1500, 3000, 1.5, RATE) + noise(1.5, RATE, 0.05), "chirp")
    seen = []
    out = brushwork.stylize_audio(content, style, callback=seen.append, **{**SMALL, "steps": 25})
    losses = [p.loss for p in seen if p.phase == "optimise"]
    assert len(losses) == 25 and losses[-1] < 0.5 * losses[0]
    assert [p.phase for p in seen][-1] == "griffin-lim"
    assert len(out.samples) == len(content.samples) and out.source_rate == RATE
    # judged with other filters than the run's (seed 1), so the run did not just fit its own features
    judge = dict(rate=RATE, n_fft=256, filters=96, seed=1)
    assert evaluate(out, style=style, **judge)["style_distance"] < evaluate(content, style=style, **judge)["style_distance"]


def test_a_tone_keeps_its_pitch_when_the_content_dominates():
    content = _sound(tone(500, 1.5, RATE), "tone")
    style = _sound(noise(1.5, RATE), "noise")
    out = brushwork.stylize_audio(content, style, content_weight=100.0, phase="content", **{**SMALL, "steps": 20})
    assert abs(_pitch(out.samples, RATE) - 500) < 2 * RATE / len(out.samples) + 5
    assert evaluate(out, content=content, rate=RATE, n_fft=256)["content_correlation"] > 0.8


def test_style_only_starts_from_the_content():
    content = _sound(tone(500, 1.0, RATE), "tone")
    style = _sound(chirp(200, 3000, 1.0, RATE), "chirp")
    seen = []
    brushwork.stylize_audio(content, style, mode="style-only", callback=seen.append, **{**SMALL, "steps": 5})
    first = next(p for p in seen if p.phase == "optimise")
    assert set(first.losses) == {"style", "total"}


def test_runs_are_reproducible():
    content, style = _sound(tone(440, 1.0, RATE), "a"), _sound(noise(1.0, RATE), "b")
    a, b = (brushwork.stylize_audio(content, style, **{**SMALL, "steps": 3}) for _ in range(2))
    assert np.array_equal(a.samples, b.samples)


def test_texture_of_any_length():
    source = _sound(noise(1.0, RATE) * np.abs(tone(3, 1.0, RATE, 1.0)), "pulses")
    out = synthesize_texture(source, seconds=2.5, **{**SMALL, "steps": 10})
    assert len(out.samples) == round(2.5 * RATE) and out.source_rate == RATE
    assert np.isfinite(out.samples).all() and np.abs(out.samples).max() <= 1.0


@pytest.mark.parametrize("kwargs, words", [
    ({"mode": "loud"}, "unknown mode"),
    ({"init": "style"}, "unknown init"),
    ({"phase": "zero"}, "unknown phase"),
    ({"rate": 0}, "sample rate"),
    ({"steps": 0}, "steps"),
    ({"style_weight": -1.0}, "style weight"),
    ({"n_fft": 300}, "n_fft"),
])
def test_bad_settings_are_refused(kwargs, words):
    content, style = _sound(tone(440, 1.0, RATE), "a"), _sound(noise(1.0, RATE), "b")
    with pytest.raises(InputError, match=words):
        brushwork.stylize_audio(content, style, **{**SMALL, **kwargs})


def test_bad_sounds_are_refused(tmp_path, monkeypatch):
    fine = _sound(tone(440, 1.0, RATE), "fine")
    silent = _sound(np.zeros(RATE, np.float32), "quiet.wav")
    with pytest.raises(InputError, match="quiet.wav is silent"):
        brushwork.stylize_audio(fine, silent, **SMALL)
    with pytest.raises(InputError, match="too short"):
        brushwork.stylize_audio(write_wav(tmp_path / "blip.wav", tone(440, 0.05, RATE), RATE), fine, **SMALL)
    from brushwork.audio import transfer
    monkeypatch.setattr(transfer, "MAX_RESULT_SECONDS", 0.6)
    with pytest.raises(InputError, match="limited to"):
        brushwork.stylize_audio(fine, fine, **SMALL)
    with pytest.raises(InputError, match="seconds must be"):
        synthesize_texture(fine, seconds=5.0, **SMALL)
