"""Bad input: one-line error and exit code 2 from the CLI, a clear InputError from the API.

Every refusal must come before any optimisation (the VGG network is never built here), print no
traceback, and leave an existing output file byte-for-byte as it was, with no temp file beside it.
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from cli_util import OUTPUT_BYTES, assert_refused, run_cli
from brushwork.features import vgg

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


def noise_png(path: Path, w: int, h: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


def bomb_png(path: Path, w: int = 50_000, h: int = 50_000) -> Path:
    """A ~100-byte PNG whose header claims w x h pixels (a decompression bomb, cheaply)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


def cut_in_half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Tiny inputs, good and bad, and an existing output file; all paths as strings."""
    ins = tmp_path / "in"
    ins.mkdir()
    content = noise_png(ins / "content.png", 48, 32, 1)
    Image.open(content).save(ins / "content.jpg")
    f = {
        "content": content,
        "style": noise_png(ins / "style.png", 40, 40, 2),
        "style2": noise_png(ins / "style2.png", 36, 44, 3),
        "mask": noise_png(ins / "mask.png", 48, 32, 4),
        "bad_mask": noise_png(ins / "bad_mask.png", 32, 48, 5),
        "tiny": noise_png(ins / "tiny.png", 1, 1, 6),
        "missing": ins / "missing.png",
        "folder": ins / "folder.png",
        "text": ins / "notes.png",
        "empty": ins / "empty.jpg",
        "half_png": cut_in_half(content, ins / "half.png"),
        "half_jpg": cut_in_half(ins / "content.jpg", ins / "half.jpg"),
        "bomb": bomb_png(ins / "bomb.png"),
        "out": tmp_path / "out" / "out.png",
        "out_dir": tmp_path / "out",
    }
    f["folder"].mkdir()
    f["text"].write_text("this is not an image\n")
    f["empty"].write_bytes(b"")
    f["out_dir"].mkdir()
    f["out"].write_bytes(OUTPUT_BYTES)
    return {k: str(v) for k, v in f.items()}


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if it gets as far as building VGG-19 (i.e. starting the real work)."""
    def refuse(*args, **kwargs):
        raise AssertionError("VGG-19 was built: the input was not refused before the work started")

    monkeypatch.setattr(vgg, "vgg19", refuse)


STYLIZE = ["stylize", "{content}", "{style}", "-q", "-o", "{out}"]
CASES = {
    # files
    "missing content": (["stylize", "{missing}", "{style}", "-o", "{out}"], "no such file"),
    "missing style": (["stylize", "{content}", "{missing}", "-o", "{out}"], "no such file"),
    "folder as image": (["stylize", "{folder}", "{style}", "-o", "{out}"], "folder"),
    "text file named .png": (["stylize", "{content}", "{text}", "-o", "{out}"], "not an image"),
    "empty file": (["stylize", "{empty}", "{style}", "-o", "{out}"], "not an image"),
    "truncated png": (["stylize", "{half_png}", "{style}", "-o", "{out}"], "truncated"),
    "truncated jpeg": (["stylize", "{content}", "{half_jpg}", "-o", "{out}"], "truncated"),
    "decompression bomb": (["stylize", "{bomb}", "{style}", "-o", "{out}"], "decompression bomb"),
    "bomb as mask": (STYLIZE + ["--mask", "{bomb}"], "decompression bomb"),
    "text as init": (STYLIZE + ["--init", "{text}"], "not an image"),
    "missing init": (["reconstruct", "{content}", "--init", "{missing}", "-o", "{out}"], "no such file"),
    "no style image": (["stylize", "{content}", "-o", "{out}"], "style image"),
    # sizes and numbers
    "size 0": (STYLIZE + ["--size", "0"], "too small"),
    "size 100000": (STYLIZE + ["--size", "100000"], "too large"),
    "size 0x10": (STYLIZE + ["--size", "0x10"], "too small"),
    "size not a number": (STYLIZE + ["--size", "big"], "--size"),
    "steps 0": (STYLIZE + ["--steps", "0"], "at least 1"),
    "negative style weight": (STYLIZE + ["--style-weight", "-1"], "zero or positive"),
    "negative tv weight": (STYLIZE + ["--tv-weight", "-0.5"], "zero or positive"),
    "negative content weight": (STYLIZE + ["--content-weight", "-2"], "zero or positive"),
    "NaN style weight": (STYLIZE + ["--style-weight", "nan"], "zero or positive"),
    "negative blend weight": (STYLIZE[:3] + ["{style2}", "--blend", "0.5,-0.5", "-o", "{out}"], "zero or positive"),
    "negative first blend weight": (STYLIZE[:3] + ["{style2}", "--blend=-0.5,0.5", "-o", "{out}"],
                                    "zero or positive"),
    "blend count": (STYLIZE[:3] + ["{style2}", "--blend", "1,1,1", "-o", "{out}"], "3 style weights"),
    "all-zero blend": (STYLIZE[:3] + ["{style2}", "--blend", "0,0", "-o", "{out}"], "zero"),
    # layers
    "unknown style layer": (STYLIZE + ["--style-layers", "relu1_1,relu9_1"], "relu9_1"),
    "unknown content layer": (STYLIZE + ["--content-layers", "conv4_9"], "conv4_9"),
    "negative layer weight": (STYLIZE + ["--style-layers", "relu1_1=-1"], "zero or positive"),
    "reconstruct unknown layer": (["reconstruct", "{content}", "--layer", "pool4", "-o", "{out}"], "pool4"),
    "texture unknown layer": (["texture", "{style}", "--layers", "relu6_1", "-o", "{out}"], "relu6_1"),
    # masks and styles
    "mask size differs": (STYLIZE + ["--mask", "{bad_mask}"], "mask 1 is 32x48 but the content is 48x32: a mask must have the content's aspect ratio"),
    "more masks than styles": (STYLIZE + ["--mask", "{mask}", "--mask", "{mask}"], "2 masks given for 1 style"),
    "fewer masks than styles": (STYLIZE[:3] + ["{style2}", "--mask", "{mask}", "-o", "{out}"],
                                "1 masks given for 2 style"),
    "1x1 style": (["stylize", "{content}", "{tiny}", "-o", "{out}"], "too small"),
    "1x1 texture source": (["texture", "{tiny}", "-o", "{out}"], "too small"),
    # output
    "unknown output extension": (["stylize", "{content}", "{style}", "-o", "{out_dir}/out.xyz"], "output format"),
    "output folder missing": (["stylize", "{content}", "{style}", "-o", "{out_dir}/nope/out.png"], "does not exist"),
    "output is a folder": (["stylize", "{content}", "{style}", "-o", "{out_dir}"], "output"),
    # device
    "cuda without cuda": (STYLIZE + ["--device", "cuda"], "CUDA"),
    # other subcommands
    "texture missing": (["texture", "{missing}", "-o", "{out}"], "no such file"),
    "texture size 100000": (["texture", "{style}", "--size", "100000", "-o", "{out}"], "too large"),
    "texture negative tv": (["texture", "{style}", "--tv-weight", "-1", "-o", "{out}"], "zero or positive"),
    "reconstruct bomb": (["reconstruct", "{bomb}", "-o", "{out}"], "decompression bomb"),
    "reconstruct size 0x10": (["reconstruct", "{content}", "--size", "0x10", "-o", "{out}"], "too small"),
    "reconstruct cuda": (["reconstruct", "{content}", "--device", "cuda", "-o", "{out}"], "CUDA"),
    "mrf truncated": (["mrf", "{half_jpg}", "{style}", "-o", "{out}"], "truncated"),
    "mrf negative style weight": (["mrf", "{content}", "{style}", "--style-weight", "-3", "-o", "{out}"],
                                  "zero or positive"),
    "mrf 1x1 style": (["mrf", "{content}", "{tiny}", "-o", "{out}"], "too small"),
    "mrf levels 0": (["mrf", "{content}", "{style}", "--levels", "0", "-o", "{out}"], "at least 1"),
    "mrf cuda": (["mrf", "{content}", "{style}", "--device", "cuda", "--size", "256", "-o", "{out}"], "CUDA"),
    "evaluate without content or style": (["evaluate", "{content}"], "--content"),
    "evaluate missing image": (["evaluate", "{missing}", "--content", "{content}"], "no such file"),
    "evaluate truncated content": (["evaluate", "{content}", "--content", "{half_png}"], "truncated"),
    "evaluate bomb style": (["evaluate", "{content}", "--style", "{bomb}"], "decompression bomb"),
    "evaluate cuda": (["evaluate", "{content}", "--style", "{style}", "--device", "cuda"], "CUDA"),
    # the command line itself
    "unknown command": (["paint", "{content}"], "invalid choice"),
    "unknown option": (STYLIZE + ["--brush", "big"], "--brush"),
    "output missing": (["stylize", "{content}", "{style}"], "-o"),
}


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("argv, expected", [pytest.param(*v, id=k, marks=[NO_CUDA] if "CUDA" in v[1] else [])
                                            for k, v in CASES.items()])
def test_cli_refuses_bad_input(argv, expected, files, capsys):
    code, out, err = run_cli([a.format(**files) for a in argv], capsys)
    line = assert_refused(code, out, err, files)
    assert expected in line


@pytest.mark.usefixtures("no_network")
def test_cli_refuses_an_unreadable_file(files, capsys, monkeypatch):
    """Permission denied (simulated: the tests may run as root, who can read anything)."""
    def denied(fp, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(fp))

    monkeypatch.setattr(Image, "open", denied)
    code, out, err = run_cli(["stylize", files["content"], files["style"], "-o", files["out"]], capsys)
    assert "permission denied" in assert_refused(code, out, err, files)


@pytest.mark.parametrize("argv, expected", [
    (["-m", "brushwork", "mrf", "{content}", "{bomb}", "-o", "{out}"], "decompression bomb"),
    (["-m", "brushwork.cli", "texture", "{style}", "--size", "0", "-o", "{out}"], "too small"),
], ids=["python -m brushwork", "python -m brushwork.cli (argparse)"])
def test_cli_refuses_bad_input_in_a_real_process(argv, expected, files):
    proc = subprocess.run([sys.executable, *(a.format(**files) for a in argv)], capture_output=True, text=True,
                          timeout=120)
    line = assert_refused(proc.returncode, proc.stdout, proc.stderr, files)
    assert expected in line


def test_a_good_run_does_replace_the_output(files, capsys):
    """The control for the checks above: a valid tiny run exits 0 and atomically replaces the output."""
    code, out, err = run_cli(["reconstruct", files["content"], "--layer", "relu1_1", "--size", "32", "--steps", "1",
                              "--device", "cpu", "-q", "-o", files["out"]], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert Image.open(files["out"]).size == (32, 21)
    assert os.listdir(files["out_dir"]) == ["out.png"]


# --- the API: the same refusals as brushwork.InputError (a ValueError) --------------------------

API_CASES = {
    "missing file": (lambda f: brushwork.stylize(f["missing"], f["style"]), "no such file"),
    "folder": (lambda f: brushwork.stylize(f["folder"], f["style"]), "folder"),
    "not an image": (lambda f: brushwork.texture(f["text"]), "not an image"),
    "truncated": (lambda f: brushwork.stylize(f["content"], f["half_jpg"]), "truncated"),
    "bomb": (lambda f: brushwork.reconstruct(f["bomb"]), "decompression bomb"),
    "size 0": (lambda f: brushwork.stylize(f["content"], f["style"], size=0), "too small"),
    "size 100000": (lambda f: brushwork.stylize(f["content"], f["style"], size=100_000), "too large"),
    "size (0, 10)": (lambda f: brushwork.stylize(f["content"], f["style"], size=(0, 10)), "too small"),
    "texture size 0x10": (lambda f: brushwork.texture(f["style"], size="0x10"), "too small"),
    "reconstruct size 100000": (lambda f: brushwork.reconstruct(f["content"], size=100_000), "too large"),
    "negative style weight": (lambda f: brushwork.stylize(f["content"], f["style"], style_weight=-1),
                              "zero or positive"),
    "negative tv weight": (lambda f: brushwork.stylize(f["content"], f["style"], tv_weight=-1e-3), "zero or positive"),
    "negative blend": (lambda f: brushwork.stylize(f["content"], [f["style"], f["style2"]], style_blend=[1, -1]),
                       "zero or positive"),
    "unknown style layer": (lambda f: brushwork.stylize(f["content"], f["style"], style_layers=["relu1_1", "relu7_1"]),
                            "relu7_1"),
    "unknown content layer": (lambda f: brushwork.stylize(f["content"], f["style"], content_layers={"fc7": 1.0}),
                              "fc7"),
    "unknown reconstruct layer": (lambda f: brushwork.reconstruct(f["content"], layer="relu4_5"), "relu4_5"),
    "mask size": (lambda f: brushwork.stylize(f["content"], f["style"], masks=[f["bad_mask"]]), "content's aspect ratio"),
    "mask count": (lambda f: brushwork.stylize(f["content"], f["style"], masks=[f["mask"]] * 2), "one per style"),
    "1x1 style": (lambda f: brushwork.stylize(f["content"], f["tiny"]), "too small"),
    "mrf 1x1 style": (lambda f: brushwork.mrf(f["content"], f["tiny"]), "too small"),
    "mrf negative tv weight": (lambda f: brushwork.mrf(f["content"], f["style"], tv_weight=-1), "zero or positive"),
    "cuda without cuda": (lambda f: brushwork.stylize(f["content"], f["style"], device="cuda"), "CUDA"),
    "save unknown extension": (lambda f: brushwork.save_image(torch.zeros(1, 3, 4, 4), f["out_dir"] + "/x.gif"),
                               "output format"),
    "load bomb": (lambda f: brushwork.load_image(f["bomb"]), "decompression bomb"),
}


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("call, expected", [pytest.param(*v, id=k, marks=[NO_CUDA] if "CUDA" in v[1] else [])
                                            for k, v in API_CASES.items()])
def test_api_raises_input_error(call, expected, files):
    with pytest.raises(brushwork.InputError, match=expected) as e:
        call(files)
    assert isinstance(e.value, ValueError)
    assert "\n" not in str(e.value)
    assert Path(files["out"]).read_bytes() == OUTPUT_BYTES
