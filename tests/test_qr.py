"""Stylized QR codes: the code, the reader's sampling, the code loss, repair, verification, bad input."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from brushwork.errors import InputError
from brushwork.losses import ModuleCodeLoss
from brushwork.metrics import QR_BATTERY, qr_robustness
from brushwork.optimize.qr import DARK_GAIN, LIGHT_GAIN, code_loss, misread, pattern_canvas, repair
from brushwork.qrcode import decode_opencv, decode_zxing, make_code, read_code, sample_modules, to_grey
from cli_util import OUTPUT_BYTES, assert_refused, run_cli

PAYLOAD = "https://example.org/menu"
SHORT = "brushwork"                # fits version 1


def style_image(size: int = 96) -> torch.Tensor:
    """A colourful striped 'painting' (no files needed)."""
    y, x = torch.meshgrid(torch.linspace(0, 6.28, size), torch.linspace(0, 6.28, size), indexing="ij")
    return torch.stack([0.5 + 0.4 * torch.sin(3 * x + y), 0.5 + 0.4 * torch.sin(2 * y), 0.5 + 0.4 * torch.cos(x - 2 * y)])[None]


def test_make_code_versions_levels_and_fixed_patterns():
    code = make_code(PAYLOAD, ec="H")
    assert (code.version, code.ec, code.modules) == (3, "H", 29)
    assert code.fixed[:7, :7].all() and code.fixed[-7:, :7].all() and code.fixed[:7, -7:].all()  # finders
    assert code.fixed[6, 8:-8].all() and code.fixed[8:-8, 6].all()                               # timing
    assert 0.4 < (~code.fixed).mean() < 0.8                                                    # data modules
    big = make_code("x", version=40, ec="L")
    assert big.modules == 177 and big.fixed[-11:-8, :6].all()                                  # version info


@pytest.mark.parametrize("payload, version, ec, words", [
    ("", None, "M", "empty"), ("x" * 30, 1, "H", "too long for version 1 at level H"),
    ("x" * 3000, None, "L", "too long for any QR version"), ("x", 41, "M", "does not exist"),
    ("x", None, "Z", "error-correction level")])
def test_make_code_refuses(payload, version, ec, words):
    with pytest.raises(InputError, match=words):
        make_code(payload, version, ec)


def test_plain_code_reads_back_exactly():
    code = make_code(PAYLOAD, version=3, ec="Q")
    img = code.plain(8 * code.side)
    samples = sample_modules(img[:, :1], code.side)[0]
    assert torch.equal(samples < 0.5, torch.from_numpy(code.padded(code.dark, False)))
    assert decode_zxing(to_grey(img)) == PAYLOAD and decode_opencv(to_grey(img)) == PAYLOAD
    again = read_code(img)
    assert (again.payload, again.version, again.ec) == (PAYLOAD, 3, "Q")
    assert np.array_equal(again.dark, code.dark)


def test_the_area_window_is_the_module_mean():
    code = make_code(SHORT, version=1)
    img = torch.rand(1, 1, 7 * code.side, 7 * code.side)
    means = torch.nn.functional.avg_pool2d(img, 7)[0]
    assert torch.allclose(sample_modules(img, code.side, sigma=None), means, atol=1e-5)


def test_code_loss_judges_only_wrong_modules():
    code = make_code(SHORT, version=1)
    plain = code.plain(6 * code.side)
    loss = code_loss(code)
    assert float(loss(plain, {})) == 0                       # every module reads right: no pull
    grey = torch.full_like(plain, 0.5)
    assert float(loss(grey, {})) > 0
    # a module that reads right takes no part even if far from its target
    free = torch.from_numpy(~(code.padded(code.fixed, True)))
    assert int(loss.wrong(loss.samples(grey))[0].sum()) == int(free.sum())
    assert isinstance(loss, ModuleCodeLoss) and loss.taps == ()


def test_canvas_keeps_the_fixed_patterns_exact():
    code = make_code(PAYLOAD, version=2)
    render = pattern_canvas(code).render
    rng = torch.Generator().manual_seed(0)
    img = render(torch.rand(1, 3, 5 * code.side, 5 * code.side, generator=rng))
    s = sample_modules(brushwork.image.luminance(img), code.side)[0]
    fixed = torch.from_numpy(code.padded(code.fixed, True))
    dark = torch.from_numpy(code.padded(code.dark, False))
    assert (s[fixed & dark] <= DARK_GAIN + 1e-6).all() and (s[fixed & ~dark] >= 1 - LIGHT_GAIN - 1e-6).all()


def test_a_broken_module_is_repaired():
    code = make_code(PAYLOAD, version=2, ec="L")
    side = 8 * code.side
    img = code.plain(side) * 0.8 + 0.1
    free = np.argwhere(~code.fixed)
    i, j = (free[len(free) // 2] + code.quiet).tolist()
    px = side // code.side
    img[..., i * px:(i + 1) * px, j * px:(j + 1) * px] = 1 - img[..., i * px:(i + 1) * px, j * px:(j + 1) * px]
    bad = misread(img, code)
    assert bad.sum() == 1 and bad[i, j]
    fixed = repair(img, code, bad, radius=0.5)
    assert not misread(fixed, code).any()
    changed = (fixed != img).any(1)[0]
    assert changed.any() and not changed[: i * px].any() and not changed[(i + 1) * px:].any()


def test_robustness_battery_of_the_plain_code():
    code = make_code(PAYLOAD, version=2)
    rob = qr_robustness(code.plain(400), PAYLOAD)
    assert rob.decodes and set(rob.cases) == {n for n, _ in QR_BATTERY}
    assert rob.pass_rate > 0.8
    assert qr_robustness(torch.rand(1, 3, 200, 200), PAYLOAD).pass_rate == 0


def test_a_stylized_small_code_decodes_and_the_code_loss_falls(tmp_path):
    codes: list[float] = []

    def watch(p):
        if p.phase == "" and "code" in p.losses:
            codes.append(p.losses["code"])
    made = brushwork.qr(PAYLOAD, style_image(), version=2, ec="M", size=200, steps=12, seed=0, callback=watch)
    assert codes[-1] < codes[0]
    grey = to_grey(made.image)
    assert decode_zxing(grey) == PAYLOAD and decode_opencv(grey) == PAYLOAD
    assert made.robustness.decodes and 0 < made.robustness.pass_rate <= 1
    # it looks like the painting, not like a plain code: nearer to the painting than the code is
    painting = torch.nn.functional.interpolate(style_image(), size=(200, 200), mode="bilinear")
    plain = made.code.plain(200)
    assert float((made.image - painting).abs().mean()) < 0.8 * float((plain - painting).abs().mean())
    out = made.save(tmp_path / "qr.png")
    info = Image.open(out).text
    assert info["qr:payload"] == PAYLOAD and float(info["qr:robustness"]) == pytest.approx(
        made.robustness.pass_rate, abs=1e-3)


@pytest.fixture
def files(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "out.png").write_bytes(OUTPUT_BYTES)
    Image.fromarray((style_image(64)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(tmp_path / "s.png")
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 120), dtype=np.uint8)).save(tmp_path / "noise.png")
    return {"out": str(out_dir / "out.png"), "out_dir": str(out_dir), "style": str(tmp_path / "s.png"),
            "dot": str(tmp_path / "dot.png"), "noise": str(tmp_path / "noise.png")}


@pytest.mark.parametrize("argv, words", [
    (["", "--style", "{style}"], "empty"),
    (["x" * 40, "--version", "1", "--ec", "H", "--style", "{style}"], "too long for version 1 at level H"),
    (["--code", "{noise}", "--style", "{style}"], "does not decode"),
    (["hello", "--style", "{dot}"], "too small"),
    (["hello", "--code", "{noise}", "--style", "{style}"], "not both"),
    (["hello", "--style", "{style}", "--version", "41"], "does not exist"),
])
def test_bad_input_is_one_line_and_writes_nothing(files, capsys, argv, words):
    code, out, err = run_cli(["qr", *[a.format(**files) for a in argv], "-o", files["out"], "--overwrite"], capsys)
    line = assert_refused(code, out, err, files)
    assert words in line


def test_cli_writes_a_verified_code(files, tmp_path, capsys):
    target = tmp_path / "made.png"
    code, _, err = run_cli(["qr", SHORT, "--style", files["style"], "--version", "1", "--size", "160",
                            "--steps", "6", "--seed", "1", "-o", str(target)], capsys)
    assert code == 0, err
    assert "read right in" in err and os.path.exists(target)
    img = brushwork.load_image(target)
    assert decode_zxing(to_grey(img)) == SHORT
