"""The command line as a package: defaults from the API, the one progress renderer, outputs that
would replace an input, Ctrl-C during image iteration, and --preserve-color's one spelling."""
from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import brushwork
from cli_util import run_cli
from brushwork import cli
from brushwork.cli import options
from brushwork.cli.render import ProgressBar
from brushwork.feedforward.apply import apply_folder
from brushwork.image import array_to_tensor, load_image, resize
from brushwork.progress import Progress


def _png(path: Path, w: int, h: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    return _png(tmp_path / "photo.png", 48, 40, 1)


@pytest.fixture
def style(tmp_path: Path) -> Path:
    return _png(tmp_path / "style.png", 40, 40, 2)


def _parse(argv: list[str]):
    return cli.build_parser().parse_args(argv)


def _commands() -> dict:
    """The subcommand parsers by name."""
    return cli.build_parser()._subparsers._group_actions[0].choices


# --- each default lives in the API signature -----------------------------------------------------

# (command line, the API function it calls, {CLI dest: API parameter} where the names differ)
COMMANDS = [
    (["stylize", "a.png", "b.png", "-o", "o.png"], brushwork.stylize, {"blend": "style_blend"}),
    (["texture", "a.png", "-o", "o.png"], brushwork.texture, {}),
    (["reconstruct", "a.png", "-o", "o.png"], brushwork.reconstruct, {}),
    (["mrf", "a.png", "b.png", "-o", "o.png"], brushwork.mrf, {}),
    (["apply", "a.png", "-o", "o.png"], brushwork.apply, {}),
    (["train", "fast", "--style", "s.png", "-o", "m.bw"], brushwork.train_fast, {}),
    (["train", "multistyle", "--styles", "s.png", "t.png", "-o", "m.bw"], brushwork.train_multistyle, {}),
    (["train", "adain", "-o", "m.bw"], brushwork.train_adain, {}),
    (["train", "pix2pix", "--data", "d", "-o", "m.bw"], brushwork.train_pix2pix, {}),
    (["train", "cyclegan", "--a", "a", "--b", "b", "-o", "m.bw"], brushwork.train_cyclegan, {}),
    (["train", "cut", "--a", "a", "--b", "b", "-o", "m.bw"], brushwork.train_cut, {}),
    (["translate", "a.png", "--model", "m.bw", "-o", "o.png"], brushwork.translate, {}),
    (["video", "a.mp4", "-o", "o.mp4"], brushwork.stylize_video,
     {"flow": "flow_preset", "frames": "max_frames"}),
    # the payload and the style are given here, so they are not compared with the API's None
    (["qr", "hello", "--style", "s.png", "-o", "o.png"], brushwork.qr,
     {"payload": None, "style": None}),
    (["fashion", "a.png", "b.png", "-o", "o.png"], brushwork.fashion, {"shading": "shading_strength"}),
]


@pytest.mark.parametrize("argv, func, renamed", COMMANDS, ids=[" ".join(c[0][:2]) for c in COMMANDS])
def test_cli_defaults_are_the_api_defaults(argv, func, renamed):
    parsed = vars(_parse(argv))
    params = inspect.signature(func).parameters
    compared = 0
    for dest, value in parsed.items():
        name = renamed.get(dest, dest)
        if name in params and params[name].default is not inspect.Parameter.empty:
            expected = params[name].default
            assert value == expected or list(value) == list(expected), (dest, value, expected)
            compared += 1
    assert compared >= 4


def test_a_changed_api_default_changes_the_cli_default(monkeypatch):
    real = brushwork.stylize
    sig = inspect.signature(real)

    def fake(*args, **kwargs):
        raise AssertionError("not called")

    fake.__signature__ = sig.replace(parameters=[p.replace(default=7) if p.name == "steps" else p
                                                 for p in sig.parameters.values()])
    monkeypatch.setattr(brushwork, "stylize", fake)
    assert _parse(["stylize", "a.png", "b.png", "-o", "o.png"]).steps == 7
    assert "(default 7)" in _commands()["stylize"].format_help()


def test_api_default_refuses_a_parameter_without_one():
    with pytest.raises(TypeError, match="no default"):
        options.api_default(brushwork.stylize, "content")


def test_every_command_family_registers_its_commands():
    assert list(_commands()) == ["stylize", "texture", "reconstruct", "mrf", "evaluate", "train", "export",
                              "presets", "apply", "photo", "video", "audio", "serve", "worker", "qr", "fashion", "translate"]


# --- one renderer for steps, tiles, images and frames --------------------------------------------

def test_one_renderer_draws_every_kind_of_progress(capsys):
    bar = ProgressBar(describe=lambda p: f"note {p.step}")
    for step in range(1, 4):
        bar(Progress(step, 3, 0.5))                                       # optimisation / training steps
    for step in range(1, 3):
        bar(Progress(step, 2, 0.0, unit="tile"))
    for step in (0, 1, 2):
        bar(Progress(step, 2, 0.0, phase="paint", unit="frame"))
    bar(Progress(2, 2, 0.0, phase="encode", unit="frame"))
    bar.close()
    err = capsys.readouterr().err
    assert "3/3" in err and "step" in err and "tile" in err and "note 3" in err
    assert "paint" in err and "encode" in err and "frame" in err


def test_the_renderer_is_silent_when_quiet_or_for_one_unit(capsys):
    ProgressBar(quiet=True)(Progress(1, 10, 0.0))
    ProgressBar()(Progress(1, 1, 0.0, unit="tile"))   # an image painted in one piece: no bar
    assert capsys.readouterr().err == ""


# --- an output that is one of the inputs ----------------------------------------------------------

def _stylize_fake(monkeypatch, name: str = "stylize"):
    """Replace an image-iteration API function by a quick one (same signature): a flat grey image."""
    real = getattr(brushwork, name)

    def fake(*args, callback=None, **kwargs):
        return torch.full((1, 3, 40, 48), 0.5)

    fake.__signature__ = inspect.signature(real)
    monkeypatch.setattr(brushwork, name, fake)


def _spellings(tmp_path: Path, target: Path) -> dict[str, Path]:
    link = tmp_path / "link.png"
    link.symlink_to(target)
    hard = tmp_path / "hard.png"
    os.link(target, hard)
    return {"same path": target, "symlink": link, "hard link": hard,
            "other spelling": tmp_path / ".." / tmp_path.name / "." / target.name}


@pytest.mark.parametrize("spelling", ["same path", "symlink", "hard link", "other spelling"])
@pytest.mark.parametrize("command", ["stylize", "apply"])
def test_an_output_that_is_the_photo_is_refused(command, spelling, photo, style, tmp_path, capsys, monkeypatch):
    _stylize_fake(monkeypatch)
    before = photo.read_bytes()
    out = _spellings(tmp_path, photo)[spelling]
    argv = (["stylize", str(photo), str(style)] if command == "stylize" else ["apply", str(photo), "--preset", "3"])
    code, _, err = run_cli(argv + ["-q", "-o", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "is the input" in err and "--overwrite" in err, err
    assert photo.read_bytes() == before


@pytest.mark.parametrize("argv", [
    ["stylize", "{photo}", "{style}", "-o", "{style}"],
    ["stylize", "{photo}", "{style}", "--init", "{init}", "-o", "{init}"],
    ["texture", "{photo}", "-o", "{link}"],
    ["reconstruct", "{photo}", "-o", "{link}"],
    ["mrf", "{photo}", "{style}", "-o", "{link}"],
    ["apply", "{photo}", "--style", "{style}", "-o", "{style}"],
    ["presets", "--sheet", "{photo}", "-o", "{link}"],
    ["export", "{model}", "--onnx", "{onnx}"],
    ["train", "fast", "--style", "{style}", "-o", "{bw}"],
], ids=["stylize style", "stylize init", "texture", "reconstruct", "mrf", "apply style", "presets sheet", "export",
        "train"])
def test_every_command_that_writes_refuses_an_input_as_output(argv, photo, style, tmp_path, capsys, monkeypatch):
    for name in ("stylize", "texture", "reconstruct", "mrf"):
        _stylize_fake(monkeypatch, name)
    (tmp_path / "link.png").symlink_to(photo)
    model = tmp_path / "m.bw"
    model.write_bytes(b"weights")
    (tmp_path / "m.onnx").symlink_to(model)
    (tmp_path / "s.bw").symlink_to(style)
    paths = dict(photo=photo, style=style, link=tmp_path / "link.png", model=model, onnx=tmp_path / "m.onnx",
                 bw=tmp_path / "s.bw", init=_png(tmp_path / "init.png", 48, 40, 3))
    before = {p: p.read_bytes() for p in (photo, style, model, paths["init"])}
    code, _, err = run_cli([a.format(**paths) for a in argv], capsys)
    assert code == 2 and err.count("\n") == 1 and "is the input" in err, err
    assert {p: p.read_bytes() for p in before} == before


def test_a_video_into_its_own_clip_through_a_link_is_refused(tmp_path, capsys):
    from video_synth import shifted, write_clip
    clip = write_clip(tmp_path / "clip.mp4", shifted(3, (32, 48)), fps=12)
    (tmp_path / "link.mp4").symlink_to(clip)
    before = clip.read_bytes()
    code, _, err = run_cli(["video", str(clip), "--preset", "7", "-o", str(tmp_path / "link.mp4")], capsys)
    assert code == 2 and "is the input" in err and clip.read_bytes() == before


def test_overwrite_replaces_the_photo_when_asked(photo, capsys, monkeypatch):
    _stylize_fake(monkeypatch)
    code, _, err = run_cli(["stylize", str(photo), str(photo), "--overwrite", "-q", "-o", str(photo)], capsys)
    assert code == 0, err
    assert np.allclose(np.asarray(Image.open(photo)), 128, atol=1)
    assert sorted(os.listdir(photo.parent)) == ["photo.png"]


def test_apply_overwrite_paints_a_folder_in_place(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    a, b = _png(photos / "a.png", 32, 32, 1), _png(photos / "b.png", 40, 32, 2)
    before = {p: p.read_bytes() for p in (a, b)}
    code, _, err = run_cli(["apply", str(photos), "--preset", "3", "-q", "-o", str(photos)], capsys)
    assert code == 2 and "would replace the input photo" in err
    assert {p: p.read_bytes() for p in (a, b)} == before
    code, _, err = run_cli(["apply", str(photos), "--preset", "3", "--overwrite", "-q", "-o", str(photos)], capsys)
    assert code == 0, err
    assert sorted(os.listdir(photos)) == ["a.png", "b.png"]
    assert all(p.read_bytes() != before[p] for p in (a, b))


def test_apply_folder_in_the_library(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    _png(photos / "a.png", 32, 32, 1)
    _png(photos / "b.jpg", 40, 32, 2)
    Image.new("RGB", (8, 8)).save(photos / "c.png")              # too small to paint: skipped, not fatal
    skipped, reports = [], []
    result = apply_folder(photos, tmp_path / "out", preset=3, on_skip=lambda p, e: skipped.append(p.name),
                          callback=reports.append)
    assert [p.name for p in result.written] == ["a.png", "b.png"] and skipped == ["c.png"]
    assert [(r.step, r.total, r.unit) for r in reports] == [(1, 3, "image"), (2, 3, "image"), (3, 3, "image")]
    assert "too small" in result.skipped[0][1]


# --- Ctrl-C during an image iteration saves the result so far -------------------------------------

@pytest.mark.parametrize("command", ["stylize", "texture", "reconstruct", "mrf"])
def test_ctrl_c_saves_the_result_so_far(command, photo, style, tmp_path, capsys, monkeypatch):
    """SIGINT arrives during step 3 of 1000; the iteration is asked to stop at the next report, and
    the image of that step is saved to the output, with a line saying where."""
    real = getattr(brushwork, command)
    handler = signal.getsignal(signal.SIGINT)
    asked_at: list[int] = []

    def iterate(*args, callback=None, **kwargs):
        for step in range(1, 1001):
            image = torch.full((1, 3, 40, 48), step / 1000)
            if step == 3:
                signal.raise_signal(signal.SIGINT)
            if callback(Progress(step, 1000, 1.0, image=image)):
                asked_at.append(step)
                return image
        raise AssertionError("the iteration was never asked to stop")

    iterate.__signature__ = inspect.signature(real)
    monkeypatch.setattr(brushwork, command, iterate)
    out = tmp_path / "out.png"
    argv = [command, str(photo)] + ([str(style)] if command in ("stylize", "mrf") else []) + ["-o", str(out)]
    code, _, err = run_cli(argv, capsys)
    assert code == 130 and len(asked_at) == 1 and asked_at[0] in (3, 4), err   # at once, or the next report
    step = asked_at[0]
    assert f"interrupted at step {step} of 1000; saved the result so far to {out}" in err
    assert np.asarray(Image.open(out)).mean() == pytest.approx(step / 1000 * 255, abs=1)
    assert signal.getsignal(signal.SIGINT) is handler   # put back


def test_ctrl_c_in_a_real_process_saves_the_image(photo, tmp_path):
    """A real `brushwork reconstruct`: wait until it has saved a step (so it is iterating), then
    SIGINT; it must exit 130 with the output written and say where."""
    out = tmp_path / "out.png"
    proc = subprocess.Popen([sys.executable, "-m", "brushwork", "reconstruct", str(photo), "--layer", "relu1_1",
                             "--size", "32", "--steps", "100000", "--tol", "0", "--device", "cpu", "--save-every", "1",
                             "-q", "-o", str(out)], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(brushwork.__file__).parents[1])})
    try:
        deadline = time.monotonic() + 300
        while not (tmp_path / "out.step00001.png").exists():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no step was saved in 300 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "saved the result so far to" in err and "Traceback" not in err
    assert Image.open(out).size == (32, 27)


# --- --preserve-color: one spelling everywhere -----------------------------------------------------

@pytest.mark.parametrize("argv, expected", [
    (["apply", "p.png", "--preserve-color", "-o", "o.png"], "luminance"),
    (["apply", "--preserve-color", "p.png", "-o", "o.png"], "luminance"),
    (["apply", "p.png", "--preserve-color", "histogram", "-o", "o.png"], "histogram"),
    (["apply", "p.png", "--preserve-color=luminance", "-o", "o.png"], "luminance"),
    (["apply", "p.png", "-o", "o.png"], False),
    (["video", "c.mp4", "--preserve-color", "-o", "o.mp4"], "luminance"),
    (["video", "c.mp4", "--preserve-color", "histogram", "-o", "o.mp4"], "histogram"),
    (["stylize", "p.png", "s.png", "--preserve-color", "-o", "o.png"], "luminance"),
    (["stylize", "--preserve-color", "p.png", "s.png", "-o", "o.png"], "luminance"),
    (["stylize", "p.png", "s.png", "--preserve-color", "histogram", "-o", "o.png"], "histogram"),
])
def test_preserve_color_takes_the_same_values_everywhere(argv, expected):
    a = _parse(argv)
    assert a.preserve_color == expected
    assert (a.input if hasattr(a, "input") else a.images[0]) in ("p.png", "c.mp4")


def test_an_unknown_preserve_color_is_one_line(capsys):
    code, _, err = run_cli(["apply", "p.png", "--preserve-color=hue", "-o", "o.png"], capsys)
    assert code == 2 and err.count("\n") == 1 and "invalid choice" in err


def test_apply_preserve_color_modes():
    photo = resize(array_to_tensor(data.astronaut()), (64, 64))
    plain = brushwork.apply(photo, preset=7)
    assert torch.equal(brushwork.apply(photo, preset=7, preserve_color=True),
                       brushwork.apply(photo, preset=7, preserve_color="luminance"))
    matched = brushwork.apply(photo, preset=7, preserve_color="histogram")
    mean = lambda t: t.mean((0, 2, 3))  # noqa: E731
    assert (mean(matched) - mean(photo)).abs().max() < 0.02 < (mean(plain) - mean(photo)).abs().max()
    with pytest.raises(brushwork.InputError, match="luminance"):
        brushwork.apply(photo, preset=7, preserve_color="hue")


def test_cli_apply_with_a_colour_mode(photo, tmp_path, capsys):
    out = tmp_path / "o.png"
    code, _, err = run_cli(["apply", str(photo), "--preset", "7", "--preserve-color", "histogram", "-q",
                            "-o", str(out)], capsys)
    assert code == 0, err
    assert load_image(out).shape[-2:] == (40, 48)


def test_cli_apply_an_engine_that_does_not_paint_the_source(photo, tmp_path, capsys):
    out = tmp_path / "o.png"
    code, _, err = run_cli(["apply", str(photo), "--preset", "7", "--engine", "magenta", "-o", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1 and "paints a --style image" in err and not out.exists(), err


def test_cli_apply_blends_two_styles_with_the_adain_engine(photo, style, tmp_path, capsys):
    other, out = _png(tmp_path / "other.png", 40, 40, 3), tmp_path / "o.png"
    code, _, err = run_cli(["apply", str(photo), "--style", str(style), "--style", str(other), "--blend", "2,1",
                            "--engine", "adain", "--strength", "0.8", "-q", "-o", str(out)], capsys)
    assert code == 0 and Image.open(out).size == Image.open(photo).size, err

