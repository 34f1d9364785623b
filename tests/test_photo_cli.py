"""`brushwork photo`: writes the full-size result keeping alpha; bad input is one line, exit 2."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cli_util import OUTPUT_BYTES, assert_refused, run_cli


def _png(path, a: np.ndarray) -> str:
    Image.fromarray(a).save(path)
    return str(path)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    ins = tmp_path / "in"
    ins.mkdir()
    rgba = np.dstack([(rng.random((40, 56, 3)) * 255).astype(np.uint8), np.full((40, 56), 200, np.uint8)])
    seg = np.zeros((40, 56, 3), np.uint8)
    seg[:, 28:] = 255
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "out.png").write_bytes(OUTPUT_BYTES)
    return {"content": _png(ins / "day.png", rgba),
            "style": _png(ins / "dusk.png", (rng.random((36, 36, 3)) * 255).astype(np.uint8)),
            "grey": _png(ins / "grey.png", (rng.random((36, 36)) * 255).astype(np.uint8)),
            "seg": _png(ins / "seg.png", seg), "style_seg": _png(ins / "sseg.png", seg[:36, :36]),
            "small_seg": _png(ins / "small.png", seg[:20]),
            "tiny": _png(ins / "tiny.png", np.zeros((1, 1, 3), np.uint8)),
            "out": str(out_dir / "out.png"), "out_dir": str(out_dir)}


def test_photo_writes_the_full_size_result_with_the_photos_alpha(files, capsys, tmp_path):
    out = tmp_path / "result.png"
    code, _, err = run_cli(["photo", files["content"], files["style"], "-o", str(out), "--smooth", "matting",
                            "--strength", "0.8"], capsys)
    assert code == 0, err
    img = Image.open(out)
    assert img.size == (56, 40) and img.mode == "RGBA"
    assert np.asarray(img)[..., 3].min() == 200
    code, _, err = run_cli(["photo", files["content"], files["grey"], "-o", str(out), "-q"], capsys)
    assert code == 0 and err == ""


@pytest.mark.parametrize("extra, words", [
    (["--content-seg", "{small_seg}", "--style-seg", "{style_seg}"], "must have its photo's size"),
    (["--content-seg", "{seg}"], "both segmentation maps"),
    (["--strength", "2"], "strength"),
    (["--method", "paint"], "invalid choice"),
])
def test_photo_refuses_bad_input_in_one_line(files, capsys, extra, words):
    argv = ["photo", files["content"], files["style"], "-o", files["out"]] + [e.format(**files) for e in extra]
    code, out, err = run_cli(argv, capsys)
    assert words in assert_refused(code, out, err, files)


def test_photo_refuses_a_one_pixel_photo(files, capsys):
    code, out, err = run_cli(["photo", files["tiny"], files["style"], "-o", files["out"]], capsys)
    assert "at least 8 px" in assert_refused(code, out, err, files)


def test_train_photowct_then_photo_with_those_decoders(files, capsys, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    model = tmp_path / "pw.bw"
    code, _, err = run_cli(["train", "photowct", "--data", str(photos), "--steps", "2", "--size", "32",
                            "--batch-size", "1", "--holdout", "1", "-o", str(model), "-q"], capsys)
    assert code == 0 and model.is_file(), err
    out = tmp_path / "wct.png"
    code, _, err = run_cli(["photo", files["content"], files["style"], "--method", "wct", "--decoders", str(model),
                            "-o", str(out), "-q"], capsys)
    assert code == 0 and Image.open(out).size == (56, 40), err


def test_photo_refuses_decoders_of_another_kind(files, capsys):
    from brushwork.translate.run import DEMO_MODEL, shipped_models
    code, out, err = run_cli(["photo", files["content"], files["style"], "--method", "wct", "--decoders",
                              str(shipped_models()[DEMO_MODEL]), "-o", files["out"]], capsys)
    assert "not PhotoWCT decoders" in assert_refused(code, out, err, files)
