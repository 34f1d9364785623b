"""`brushwork audio` and `brushwork evaluate` on sounds: results, pictures and one-line refusals."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from audio_synth import noise, tone, write_wav
from cli_util import run_cli
from PIL import Image

from brushwork.audio import load_audio

FAST = ["--rate", "8000", "--n-fft", "256", "--filters", "32", "--steps", "3", "--griffin-lim-iters", "5",
        "--device", "cpu", "--dtype", "float32", "-q"]
EARLIER = b"an earlier result that must survive"


@pytest.fixture
def sounds(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "out.wav").write_bytes(EARLIER)
    return {"content": str(write_wav(tmp_path / "speech.wav", tone(440, 1.0, 16_000), 16_000)),
            "style": str(write_wav(tmp_path / "violin.wav", noise(1.2, 22_050), 22_050)),
            "silence": str(write_wav(tmp_path / "silence.wav", np.zeros(16_000, np.float32), 16_000)),
            "blip": str(write_wav(tmp_path / "blip.wav", tone(440, 0.05, 16_000), 16_000)),
            "junk": str(tmp_path / "junk.mp3"), "out": str(out_dir / "out.wav"), "out_dir": out_dir}


def test_transfer_writes_the_sound_and_its_picture(sounds, capsys, tmp_path):
    out, pic = tmp_path / "result.flac", tmp_path / "result.png"
    code, _, err = run_cli(["audio", sounds["content"], sounds["style"], "-o", str(out), "--spectrogram", str(pic),
                            *FAST], capsys)
    assert code == 0, err
    result = load_audio(out, 16_000)
    assert result.source_rate == 16_000 and abs(result.seconds - 1.0) < 0.01  # the content's rate and length
    assert Image.open(pic).size[1] > 3 * 160  # content, style and result panels


def test_texture_of_a_given_length(sounds, capsys, tmp_path):
    out = tmp_path / "more.wav"
    code, _, err = run_cli(["audio", "--texture", sounds["style"], "--seconds", "2", "-o", str(out), *FAST], capsys)
    assert code == 0, err
    result = load_audio(out, 22_050)
    assert result.source_rate == 22_050 and abs(result.seconds - 2.0) < 0.01


def test_evaluate_reads_sounds(sounds, capsys):
    code, out, err = run_cli(["evaluate", sounds["content"], "--content", sounds["content"], "--style",
                              sounds["style"], "--json"], capsys)
    assert code == 0, err
    assert '"content_correlation": 1.0' in out and "style_distance" in out


@pytest.mark.parametrize("argv, words", [
    (["{silence}", "{style}"], "silent"),
    (["{content}", "{silence}"], "silent"),
    (["{junk}", "{style}"], "no such file"),
    (["{blip}", "{style}"], "too short"),
    (["{content}", "{style}", "--rate", "0"], "sample rate"),
    (["{content}", "{style}", "--mode", "loud"], "invalid choice"),
    (["{content}"], "give a CONTENT and a STYLE"),
    (["{content}", "{style}", "--texture", "{style}"], "not both"),
    (["{content}", "{style}", "--seconds", "3"], "--seconds is for --texture"),
    (["{content}", "{style}", "--spectrogram", "{out_dir}/p.gif"], "unknown output format"),
])
def test_bad_input_is_one_line_and_writes_nothing(sounds, capsys, argv, words):
    argv = [s.format(**sounds) for s in argv]
    code, out, err = run_cli(["audio", *FAST, *argv, "-o", sounds["out"]], capsys)  # argv last: it wins
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert words in lines[0] and "Traceback" not in out + err
    assert Path(sounds["out"]).read_bytes() == EARLIER
    assert os.listdir(sounds["out_dir"]) == ["out.wav"]


def test_not_audio_is_refused(sounds, capsys, tmp_path):
    junk = tmp_path / "junk.ogg"
    junk.write_bytes(b"\x00not a sound" * 100)
    code, _, err = run_cli(["audio", str(junk), sounds["style"], "-o", sounds["out"], *FAST], capsys)
    assert code == 2 and "not an audio file" in err
    assert Path(sounds["out"]).read_bytes() == EARLIER
