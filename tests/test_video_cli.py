"""`brushwork video` and `brushwork evaluate` on videos: a real run, and one-line errors with exit 2."""
from __future__ import annotations

import pytest
from PIL import Image

from brushwork.cli import main
from brushwork.video.io import probe
from video_synth import shifted, write_clip, write_folder


@pytest.fixture
def clip(tmp_path):
    return write_clip(tmp_path / "clip.mp4", shifted(6, (48, 64)), fps=12, audio="aac")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:           # argparse refuses bad option values itself
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("preset", ["7", "wave"])
def test_video_with_a_preset(clip, tmp_path, capsys, preset):
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", str(clip), "--preset", preset, "--stroke-scale", "2", "-o", str(out), "-q")
    assert code == 0 and err == ""
    info = probe(out)
    assert (info.frames, info.width, info.height, info.audio) == (6, 64, 48, True)


def test_evaluate_a_video(clip, tmp_path, capsys):
    frames = write_folder(tmp_path / "frames", shifted(6, (48, 64)))
    code, out, _ = run(capsys, "evaluate", str(frames), "--content", str(clip), "--json")
    assert code == 0
    assert '"temporal_error"' in out and '"ssim"' in out


@pytest.mark.parametrize("args, message", [
    (["video", "{d}/missing.mp4", "--preset", "7", "-o", "{d}/o.mp4"], "no such file"),
    (["video", "{clip}", "--preset", "the_screem", "-o", "{d}/o.mp4"], "did you mean the_scream?"),
    (["video", "{d}/notes.mp4", "--preset", "7", "-o", "{d}/o.mp4"], "not a video"),
    (["video", "{d}/empty", "--preset", "7", "-o", "{d}/o.mp4"], "no frames"),
    (["video", "{d}/big", "--preset", "7", "-o", "{d}/o.mp4"], "larger than Full HD"),
    (["video", "{clip}", "-o", "{d}/o.mp4"], "--preset"),
    (["video", "{clip}", "--preset", "7", "-o", "{d}/o.avi"], "cannot write .avi"),
    (["video", "{clip}", "--preset", "7", "--consistency", "1.2", "-o", "{d}/o.mp4"], "consistency"),
    (["video", "{clip}", "--preset", "7", "--stroke-scale", "0.1", "-o", "{d}/o.mp4"], "stroke scale 0.1"),
    (["video", "{clip}", "--preset", "7", "--method", "optimize", "-o", "{d}/o.mp4"], "optimize method"),
    (["video", "{clip}", "--style", "{d}/a.png", "--style", "{d}/a.png", "-o", "{d}/o.mp4"], "one --style"),
    (["video", "{clip}", "--preset", "7", "--size", "4", "-o", "{d}/o.mp4"], "too small"),
    (["evaluate", "{clip}", "--content", "{d}/missing.mp4"], "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(clip, tmp_path, capsys, args, message):
    (tmp_path / "notes.mp4").write_text("not a video")
    (tmp_path / "empty").mkdir()
    (tmp_path / "big").mkdir()
    Image.new("RGB", (3840, 2160), "gray").save(tmp_path / "big" / "0.png")
    Image.new("RGB", (32, 32), "red").save(tmp_path / "a.png")
    argv = [a.format(d=tmp_path, clip=clip) for a in args]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "o.mp4").exists()


def test_an_interrupted_video_says_how_to_continue(clip, tmp_path, capsys, monkeypatch):
    from brushwork.video import pipeline
    from video_synth import Flicker
    painters = iter([Flicker(fail_at=2), Flicker()])
    monkeypatch.setattr(pipeline, "feedforward_painter", lambda *a, **k: next(painters))
    out = tmp_path / "out.mp4"
    code, _, err = run(capsys, "video", str(clip), "--preset", "7", "-o", str(out), "-q")
    assert code == 130 and "run the same command again" in err and not out.exists()
    code, _, err = run(capsys, "video", str(clip), "--preset", "7", "-o", str(out))
    assert code == 0 and "2 frames from an earlier run" in err and out.exists()
