"""Feed-forward `apply`: presets, any style image, models; strength, colour, tiling; the CLI.

Tiny images only (<= 256 px): the preset networks take milliseconds at that size.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import brushwork
from cli_util import OUTPUT_BYTES, assert_refused, run_cli
from brushwork.batch import list_images
from brushwork.errors import InputError, MissingWeightsError
from brushwork.feedforward import NUM_PRESETS, apply, preset_sheet, preset_weights, presets
from brushwork.feedforward.apply import ADAIN_MODEL, load_stylizer
from brushwork.feedforward.presets import NAMED_MODEL, ArbitraryStylizer, check_preset
from brushwork.image import array_to_tensor, luminance, resize, rgb_to_yiq

NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """A 128x96 photo (scikit-image's astronaut, cropped to 4:3)."""
    return resize(array_to_tensor(data.astronaut())[..., 64:448, :], (96, 128))


@pytest.fixture(scope="module")
def painting() -> torch.Tensor:
    return resize(array_to_tensor(data.chelsea()), (60, 90))


# --- the API ------------------------------------------------------------------------------------

OURS = ["starry_night", "wave", "the_scream", "composition_vii", "shipwreck", "woman_with_hat"]


def test_presets_are_listed():
    listed = presets()
    assert [p.key for p in listed] == OURS + [str(i) for i in range(NUM_PRESETS)]
    onnx = listed[len(OURS):]
    assert [p.index for p in onnx] == list(range(NUM_PRESETS)) == list(range(26))
    assert all(p.name == f"preset {p.index}" and p.look for p in onnx)
    assert [p.index for p in listed[:len(OURS)]] == list(range(len(OURS)))
    assert listed[1].name == "The Great Wave off Kanagawa" and "Hokusai" in listed[1].look
    assert brushwork.presets() == listed


def test_the_named_presets_ship_with_their_card():
    """The installed package holds our network, and its card names each painting and its licence."""
    from importlib.resources import files

    from brushwork.feedforward.modelfile import read_card
    shipped = files("brushwork.feedforward") / "models" / "paintings.bw"
    assert shipped.is_file() and (files("brushwork.feedforward") / "models" / "README.md").is_file()
    card = read_card(NAMED_MODEL)
    assert [s["name"] for s in card["styles"]] == OURS
    assert all(s["title"] and s["artist"] and "ublic domain" in s["licence"] for s in card["styles"])
    assert card["training"]["steps"] > 1000 and card["training"]["seconds"] > 0


def test_a_named_preset_paints_deterministically(photo):
    one = apply(photo, preset="wave")
    assert one.shape == photo.shape and not torch.allclose(one, photo, atol=0.05)
    assert torch.equal(apply(photo, preset="wave"), one)
    assert not torch.allclose(apply(photo, preset="the_scream"), one, atol=0.02)
    half = apply(photo, preset="wave:1,the_scream:1")
    assert torch.equal(apply(photo, preset={"wave": 0.5, "the_scream": 0.5}), half)
    assert not torch.equal(half, one)


@pytest.mark.parametrize("spec, message", [("wav", "did you mean wave?"), ("woman", "did you mean woman_with_hat?"),
                                           ("zzz", "ours are starry_night, wave"), ("wave,7", "mixes named"),
                                           ("3:1,the_scream:1", "mixes named"), ("wave:x", "not a number")])
def test_bad_named_presets(photo, spec, message):
    with pytest.raises(InputError, match=message):
        check_preset(spec)
    with pytest.raises(InputError, match=message):
        apply(photo, preset=spec)


@pytest.mark.parametrize("spec, expected", [(7, {7: 1.0}), ("7", {7: 1.0}), (" 3:1, 12:3 ", {3: 0.25, 12: 0.75}),
                                            ({3: 0.5, 12: 0.5}, {3: 0.5, 12: 0.5}), ("4:2,4:2", {4: 1.0}),
                                            ("0:1,25:0", {0: 1.0})])
def test_preset_specs(spec, expected):
    w = preset_weights(spec)
    assert w.shape == (26,) and w.sum() == pytest.approx(1)
    assert {i: pytest.approx(v) for i, v in expected.items()} == {i: float(v) for i, v in enumerate(w) if v}


@pytest.mark.parametrize("spec, message", [(26, "does not exist"), (-1, "does not exist"), ("3:x", "not a number"),
                                           ("3:-1", "zero or positive"), ("", "no style"), ("3,", "empty item"),
                                           ("x", "not a preset number"), ("2.5", "not a preset number"),
                                           ("3:0", "only zero"), ({}, "no style"), ("3:nan", "zero or positive"),
                                           (True, "not a preset number")])
def test_bad_preset_specs(spec, message):
    with pytest.raises(InputError, match=message):
        preset_weights(spec)


@pytest.mark.parametrize("kw, message", [
    (dict(style=["a.png", "b.png"]), "need --engine adain or an AdaIN --model"),
    (dict(style="s.png", masks=["m.png"]), "need --engine adain or an AdaIN --model"),
    (dict(preset="wave", style_weights=[1.0]), "need --engine adain or an AdaIN --model")])
def test_blends_and_masks_of_style_images_need_adain(kw, message):
    with pytest.raises(InputError, match=message):
        load_stylizer(**kw)


@pytest.mark.parametrize("kw, message", [
    (dict(style="s.png", engine="turbo"), "unknown engine 'turbo'; the engines for --style: magenta, adain"),
    (dict(preset=7, engine="magenta"), "engine magenta paints a --style image, and a preset was given"),
    (dict(engine="magenta"), "and no style image was given"),
    (dict(style="s.png", model="m.bw", engine="magenta"), "--engine or --model, not both")])
def test_bad_engines(kw, message):
    with pytest.raises(InputError, match=message):
        load_stylizer(**kw)


def test_the_magenta_engine_is_the_default_for_a_style_image(photo, painting):
    assert torch.equal(apply(photo, style=painting, engine="magenta"), apply(photo, style=painting))


def test_the_adain_decoder_ships_with_its_card():
    from importlib.resources import files

    from brushwork.feedforward.modelfile import read_card
    assert (files("brushwork.feedforward") / "models" / "adain.bw").is_file()
    card = read_card(ADAIN_MODEL)
    assert card["kind"] == "adain" and card["training"]["steps"] > 1000 and card["training"]["seconds"] > 0


def test_the_adain_engine_paints_deterministically_with_alpha(photo, painting):
    one = apply(photo, style=painting, engine="adain")
    assert one.shape == photo.shape and torch.equal(apply(photo, style=painting, engine="adain"), one)
    assert (one - apply(photo, style=painting)).abs().mean() > 0.02      # not the Magenta network
    other = apply(photo, style=painting.flip(1), engine="adain")       # the painting's colours swapped
    assert (one - other).abs().mean() > 0.02
    faint = apply(photo, style=painting, engine="adain", strength=0.0)  # alpha 0: the photo, decoded
    assert (faint - photo).abs().mean() < (one - photo).abs().mean()


def test_the_adain_engine_blends_styles_and_paints_them_into_masks(photo, painting):
    a, b = painting, painting.flip(1)
    blend = apply(photo, model=load_stylizer(style=[a, b], style_weights=[1, 1], engine="adain"))
    only_a, only_b = apply(photo, style=a, engine="adain"), apply(photo, style=b, engine="adain")
    assert 0.01 < (blend - only_a).abs().mean() < (only_b - only_a).abs().mean()
    top = torch.zeros(1, 1, *photo.shape[-2:])
    top[..., : photo.shape[-2] // 2, :] = 1
    placed = apply(photo, model=load_stylizer(style=[a, b], masks=[top, 1 - top], engine="adain"))
    rows = slice(0, photo.shape[-2] // 4)                             # well inside the top region
    assert (placed[..., rows, :] - only_a[..., rows, :]).abs().mean() < \
        (placed[..., rows, :] - only_b[..., rows, :]).abs().mean()


def test_all_of_one_preset_in_a_blend_is_that_preset(photo):
    one = apply(photo, preset=3)
    assert one.shape == photo.shape and not torch.allclose(one, photo, atol=0.05)
    assert torch.equal(apply(photo, preset="3:1,12:0"), one)
    assert torch.equal(apply(photo, preset={3: 2.5}), one)
    half = apply(photo, preset="3:0.5,12:0.5")
    assert not torch.allclose(half, one, atol=0.02) and not torch.allclose(half, apply(photo, preset=12), atol=0.02)


@pytest.mark.parametrize("kw", [dict(preset=7), dict(preset=7, preserve_color=True), dict(style="painting")])
def test_strength_zero_returns_the_photo(photo, painting, kw):
    kw = {k: painting if v == "painting" else v for k, v in kw.items()}
    assert torch.equal(apply(photo, strength=0, **kw), photo)


def test_preset_strength_blends_pixels(photo):
    full = apply(photo, preset=7)
    assert torch.allclose(apply(photo, preset=7, strength=0.25), torch.lerp(photo, full, 0.25), atol=1e-6)


def test_style_strength_moves_the_style_vector_and_blends(photo, painting):
    """Half strength: a painting with a style vector halfway from the photo's own, half blended in."""
    stylizer = load_stylizer(style=painting)
    full, half = apply(photo, model=stylizer), apply(photo, model=stylizer, strength=0.5)
    halfway_vector = stylizer.painter(photo, 0.5)(photo).clamp(0, 1)   # 96x128: the network's multiple
    assert torch.allclose(half, torch.lerp(photo, halfway_vector, 0.5), atol=1e-5)
    assert not torch.allclose(half, torch.lerp(photo, full, 0.5), atol=0.02)


@pytest.mark.parametrize("source", ["preset", "style"])
def test_strength_is_perceptually_even(photo, painting, source):
    """Style and content distances move evenly: at strength 0.5 the result is about half-way from
    the photo to the full painting (the mean of the two fractions), and they move monotonically."""
    from brushwork.metrics import content_distance, gram_distance
    kw = dict(preset=7) if source == "preset" else dict(style=painting)
    outs = [apply(photo, strength=s, **kw) for s in (0, 0.25, 0.5, 0.75, 1)]
    ref = outs[-1] if source == "preset" else painting
    g = [gram_distance(o, ref, device="cpu") for o in outs]
    c = [content_distance(o, photo, device="cpu") for o in outs]
    assert all(a < b for a, b in zip(c, c[1:]))
    # nearer the style at every step (the full painting's Gram statistics may overshoot a little)
    assert all(b < a + 0.1 * (g[0] - g[-1]) for a, b in zip(g, g[1:]))
    style_fraction = (g[0] - g[2]) / (g[0] - g[-1])
    content_fraction = c[2] / c[-1]
    assert 0.35 < (style_fraction + content_fraction) / 2 < 0.65


@pytest.fixture(scope="module")
def smooth_photo() -> torch.Tensor:
    """A 256x256 photo without fine detail of its own (the astronaut at 64 px, enlarged), so
    that the painted strokes dominate its spectrum."""
    return resize(resize(array_to_tensor(data.astronaut()), (64, 64)), (256, 256))


def test_stroke_scale_paints_larger_strokes(smooth_photo):
    """Twice the stroke scale: about half the stroke frequency (cycles per image width)."""
    from brushwork.metrics import stroke_frequency
    native = stroke_frequency(apply(smooth_photo, preset=7, stroke_scale=1))
    bold = stroke_frequency(apply(smooth_photo, preset=7, stroke_scale=2))
    assert bold < 0.7 * native
    assert apply(smooth_photo, preset=7, stroke_scale=2).shape == smooth_photo.shape


def test_auto_stroke_scale_keeps_strokes_relative_to_the_picture(smooth_photo, monkeypatch):
    """'auto' paints above 1.25 x STROKE_WORK px at STROKE_WORK: the same stroke frequency at twice
    the size (a fixed stroke size would double it); below that, the photo is painted as it is."""
    from brushwork.metrics import stroke_frequency
    import sys
    monkeypatch.setattr(sys.modules["brushwork.feedforward.apply"], "STROKE_WORK", 128)
    small, near = resize(smooth_photo, (128, 128)), resize(smooth_photo, (150, 150))
    assert torch.equal(apply(small, preset=7), apply(small, preset=7, stroke_scale=1))
    assert torch.equal(apply(near, preset=7), apply(near, preset=7, stroke_scale=1))
    f_small, f_big = stroke_frequency(apply(small, preset=7)), stroke_frequency(apply(smooth_photo, preset=7))
    f_fixed = stroke_frequency(apply(smooth_photo, preset=7, stroke_scale=1))
    assert abs(f_big / f_small - 1) < 0.2 < f_fixed / f_small - 1


@pytest.mark.parametrize("scale, message", [(0.1, "between 0.25 and 16"), (100, "between 0.25 and 16"),
                                            ("big", "not 'auto' or a number")])
def test_bad_stroke_scales(photo, scale, message):
    with pytest.raises(InputError, match=message):
        apply(photo, preset=7, stroke_scale=scale)


def test_preserve_color_keeps_the_photo_chroma(photo):
    out = apply(photo, preset=7, preserve_color=True)
    plain = apply(photo, preset=7)
    iq_out, iq_photo = rgb_to_yiq(out)[:, 1:], rgb_to_yiq(photo)[:, 1:]
    assert (iq_out - iq_photo).abs().mean() < 0.01 < (rgb_to_yiq(plain)[:, 1:] - iq_photo).abs().mean()
    assert (luminance(out) - luminance(plain)).abs().mean() < 0.01  # (out-of-gamut pixels are clipped)


@pytest.mark.parametrize("h, w", [(70, 100), (37, 53), (96, 128)])
def test_any_style_at_any_size(painting, h, w):
    """The arbitrary network is declared at 384x384; it runs at the photo's own size."""
    img = torch.rand(1, 3, h, w)
    assert apply(img, style=painting).shape == (1, 3, h, w)
    assert apply(img, preset=1).shape == (1, 3, h, w)


def test_size_resizes_first(photo):
    assert apply(photo, preset=0, size=64).shape == (1, 3, 48, 64)
    assert apply(photo, preset=0, size="40x32").shape == (1, 3, 32, 40)


@pytest.mark.parametrize("kw", [dict(preset=7), dict(style="painting")])
def test_tiled_matches_untiled_away_from_seams(kw, painting):
    img = resize(array_to_tensor(data.astronaut()), (192, 256))
    kw = {k: painting if v == "painting" else v for k, v in kw.items()}
    whole, tiles = apply(img, tile=0, **kw), apply(img, tile=128, **kw)
    diff = (whole - tiles).abs()
    assert diff.mean() < 0.01
    assert diff[..., :64, :64].max() < 1e-4  # inside the first tile, 64 px from any seam: identical


def test_tiles_are_reported(photo):
    seen = []
    apply(photo, preset=2, tile=64, callback=lambda p: seen.append((p.step, p.total)))
    assert seen and seen[-1][0] == seen[-1][1] == len(seen) > 1


def test_sheet_has_the_photo_and_every_preset(photo):
    sheet = preset_sheet(photo, tile=32, columns=7, work=64)
    th, tw = 24, 32                        # the photo's 4:3 thumbnail
    pad, label = 6, 20
    n = 1 + len(OURS) + 26
    rows = -(-n // 7)
    assert sheet.shape == (1, 3, rows * (th + label + pad) + pad, 7 * (tw + pad) + pad)
    cells = [sheet[..., pad + r * (th + label + pad) + label:, pad + c * (tw + pad):][..., :th, :tw]
             for r in range(rows) for c in range(7)]
    painted = [bool((cell < 0.99).any()) for cell in cells]
    assert sum(painted) == n and painted == [True] * n + [False] * (rows * 7 - n)
    assert (cells[0] - resize(photo, (th, tw))).abs().mean() < 0.02  # the first tile is the photo


@pytest.mark.parametrize("call, message", [
    (lambda p: apply(p), "got none"),
    (lambda p: apply(p, preset=1, style=p), "got preset and style"),
    (lambda p: apply(p, preset=1, model=torch.nn.Identity()), "has one style"),
    (lambda p: apply(p, preset=40), "does not exist"),
    (lambda p: apply(p, preset=1, strength=1.5), "between 0"),
    (lambda p: apply(p, preset=1, strength=-0.1), "between 0"),
    (lambda p: apply(p, preset=1, strength=float("nan")), "between 0"),
    (lambda p: apply(p, preset=1, tile=10), "tile"),
    (lambda p: apply(p, preset=1, size=0), "too small"),
    (lambda p: apply(torch.rand(1, 3, 8, 8), preset=1), "too small"),
    (lambda p: apply(p, style=torch.rand(1, 3, 1, 1)), "too small for a style"),
    (lambda p: apply(p, style=torch.rand(1, 3, 12, 40)), "too small for a style"),
    (lambda p: apply(p, preset=1, device="tpu"), "unknown device"),
])
def test_api_refusals(photo, call, message):
    with pytest.raises(InputError, match=message):
        call(photo)


@NO_CUDA
def test_api_refuses_cuda_without_cuda(photo):
    with pytest.raises(InputError, match="CUDA"):
        apply(photo, preset=1, device="cuda")


def test_missing_networks_say_where_they_were_looked_for(photo, tmp_path, monkeypatch):
    monkeypatch.setenv("BRUSHWORK_PRESET_MODELS", str(tmp_path))
    with pytest.raises(MissingWeightsError, match=str(tmp_path / "multistyle26.onnx")):
        apply(photo, preset=1)


def test_a_style_image_goes_only_with_a_model_that_takes_one(photo, painting):
    with pytest.raises(InputError, match="paints its own style"):
        load_stylizer(style=painting, model=torch.nn.Identity())


def test_a_torch_network_is_a_model(photo):
    assert torch.allclose(apply(photo, model=torch.nn.Identity()), photo)
    stylizer = load_stylizer(preset=5)
    assert torch.equal(apply(photo, model=stylizer), apply(photo, preset=5))


def test_style_vectors_come_from_a_centre_square(painting):
    st = ArbitraryStylizer(painting, "cpu")
    assert st.vector.shape == (1, 1, 1, 100)
    wide = torch.cat([torch.zeros(1, 3, 60, 200), painting[..., :60, :60].expand(1, 3, 60, 60),
                      torch.zeros(1, 3, 60, 200)], 3)
    assert np.allclose(st.style_vector(wide), st.style_vector(painting[..., :60, :60]), atol=1e-4)


# --- the command line ---------------------------------------------------------------------------

def _png(path: Path, w: int, h: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    ins = tmp_path / "in"
    ins.mkdir()
    photos = ins / "photos"
    photos.mkdir()
    Image.fromarray(data.astronaut()[::8, ::8]).save(photos / "astronaut.jpg")
    Image.fromarray(data.coffee()[::8, ::8]).save(photos / "coffee.png")
    (photos / "notes.txt").write_text("not a photo, ignored\n")
    (photos / ".hidden.png").write_bytes(b"ignored")
    content = _png(ins / "content.png", 48, 40, 1)
    data_bytes = content.read_bytes()
    f = {
        "content": content, "photos": photos,
        "style": _png(ins / "style.png", 40, 40, 2),
        "tiny": _png(ins / "tiny.png", 1, 1, 3),
        "small": _png(ins / "small.png", 8, 8, 4),
        "text": ins / "notes.png", "half": ins / "half.png", "missing": ins / "missing.png",
        "empty_dir": ins / "empty", "bad_dir": ins / "bad", "clash_dir": ins / "clash",
        "out": tmp_path / "out" / "out.png", "out_dir": tmp_path / "out",
    }
    f["text"].write_text("this is not an image\n")
    f["half"].write_bytes(data_bytes[: len(data_bytes) // 2])
    f["empty_dir"].mkdir()
    (f["empty_dir"] / "readme.txt").write_text("no photos here\n")
    f["bad_dir"].mkdir()
    _png(f["bad_dir"] / "good.png", 32, 32)
    (f["bad_dir"] / "bad.jpg").write_text("not a jpeg\n")
    f["clash_dir"].mkdir()
    _png(f["clash_dir"] / "a.png", 32, 32)
    Image.open(f["clash_dir"] / "a.png").save(f["clash_dir"] / "a.jpg")
    f["out_dir"].mkdir()
    f["out"].write_bytes(OUTPUT_BYTES)
    return {k: str(v) for k, v in f.items()}


APPLY = ["apply", "{content}", "-q", "-o", "{out}"]
CASES = {
    "preset out of range": (APPLY + ["--preset", "26"], "preset 26 does not exist"),
    "preset weight not a number": (APPLY + ["--preset", "3:x"], "not a number"),
    "negative preset weight": (APPLY + ["--preset=3:-1"], "zero or positive"),
    "empty preset": (APPLY + ["--preset", ""], "no style"),
    "neither preset nor style": (APPLY, "got none"),
    "preset and style": (APPLY + ["--preset", "3", "--style", "{style}"], "got preset and style"),
    "preset, style and model": (APPLY + ["--preset", "3", "--style", "{style}", "--model", "{style}"],
                                "got preset and style and model"),
    "strength above 1": (APPLY + ["--preset", "3", "--strength", "1.5"], "between 0"),
    "negative strength": (APPLY + ["--preset", "3", "--strength=-0.5"], "between 0"),
    "strength not a number": (APPLY + ["--preset", "3", "--strength", "lots"], "--strength"),
    "tile too small": (APPLY + ["--preset", "3", "--tile", "10"], "at least 64"),
    "stroke scale not a number": (APPLY + ["--preset", "3", "--stroke-scale", "bold"], "--stroke-scale"),
    "stroke scale too large": (APPLY + ["--preset", "3", "--stroke-scale", "40"], "between 0.25 and 16"),
    "size 0": (APPLY + ["--preset", "3", "--size", "0"], "too small"),
    "1x1 style": (APPLY + ["--style", "{tiny}"], "too small for a style"),
    "text as style": (APPLY + ["--style", "{text}"], "not an image"),
    "missing style": (APPLY + ["--style", "{missing}"], "no such file"),
    "missing model": (APPLY + ["--model", "{missing}"], "no such file"),
    "corrupt photo": (["apply", "{half}", "--preset", "3", "-o", "{out}"], "truncated"),
    "text as photo": (["apply", "{text}", "--preset", "3", "-o", "{out}"], "not an image"),
    "missing photo": (["apply", "{missing}", "--preset", "3", "-o", "{out}"], "no such file"),
    "8x8 photo": (["apply", "{small}", "--preset", "3", "-o", "{out}"], "too small"),
    "empty folder": (["apply", "{empty_dir}", "--preset", "3", "-o", "{out_dir}/new"], "no images"),
    "folder with a non-image": (["apply", "{bad_dir}", "--preset", "3", "-o", "{out_dir}/new"], "bad.jpg"),
    "two photos, one name": (["apply", "{clash_dir}", "--preset", "3", "-o", "{out_dir}/new"], "rename one"),
    "folder into an image file": (["apply", "{photos}", "--preset", "3", "-o", "{out}"], "output folder"),
    "folder into a new .png": (["apply", "{photos}", "--preset", "3", "-o", "{out_dir}/x.png"], "output folder"),
    "folder into the same folder": (["apply", "{clash_dir}", "--preset", "3", "-o", "{clash_dir}"], "rename one"),
    "unknown output extension": (APPLY[:-1] + ["{out_dir}/out.xyz", "--preset", "3"], "output format"),
    "output is a folder": (["apply", "{content}", "--preset", "3", "-o", "{out_dir}"], "folder"),
    "cuda without cuda": (APPLY + ["--preset", "3", "--device", "cuda"], "CUDA"),
    "sheet without -o": (["presets", "--sheet", "{content}"], "-o"),
    "-o without sheet": (["presets", "-o", "{out}"], "--sheet"),
    "sheet of a corrupt photo": (["presets", "--sheet", "{half}", "-o", "{out}"], "truncated"),
}


@pytest.mark.parametrize("argv, expected", [pytest.param(*v, id=k, marks=[NO_CUDA] if "CUDA" in v[1] else [])
                                            for k, v in CASES.items()])
def test_cli_refuses_bad_input(argv, expected, files, capsys):
    code, out, err = run_cli([a.format(**files) for a in argv], capsys)
    assert expected in assert_refused(code, out, err, files)
    assert not Path(files["out_dir"], "new").exists()


def test_cli_apply_replaces_the_output(files, capsys):
    code, out, err = run_cli(["apply", files["content"], "--preset", "3:0.5,12:0.5", "--strength", "0.6",
                              "--preserve-color", "--stroke-scale", "1.5", "-o", files["out"]], capsys)
    assert code == 0, err
    assert Image.open(files["out"]).size == (48, 40)
    assert os.listdir(files["out_dir"]) == ["out.png"]
    assert "wrote" in err and "Traceback" not in err


def test_cli_apply_any_style(files, capsys):
    code, _, err = run_cli(["apply", files["content"], "--style", files["style"], "-q", "-o", files["out"]], capsys)
    assert code == 0, err
    assert Image.open(files["out"]).size == (48, 40)


def test_cli_folder_writes_one_output_per_photo(files, capsys, tmp_path):
    out = tmp_path / "stylized"
    code, _, err = run_cli(["apply", files["photos"], "--preset", "19", "-o", str(out)], capsys)
    assert code == 0, err
    assert sorted(os.listdir(out)) == ["astronaut.png", "coffee.png"]
    assert Image.open(out / "astronaut.png").size == (64, 64)
    assert "wrote 2 images" in err


def test_cli_folder_skips_a_photo_damaged_inside_and_says_so(files, capsys, tmp_path):
    """The header reads fine, the data is cut: that photo is skipped, the others written, exit 2."""
    photos = Path(files["photos"])
    whole = (photos / "coffee.png").read_bytes()
    (photos / "coffee.png").write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "stylized"
    code, _, err = run_cli(["apply", str(photos), "--preset", "1", "-q", "-o", str(out)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and "Traceback" not in err
    assert lines[0].startswith("brushwork apply: skipped coffee.png") and "1 of 2 images" in lines[-1]
    assert os.listdir(out) == ["astronaut.png"]


def test_cli_lists_presets(capsys):
    code, out, err = run_cli(["presets"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(OURS) + 26 and lines[1].split()[:2] == ["wave", "The"]
    assert lines[len(OURS) + 7].split()[0] == "7"


def test_cli_applies_a_named_preset(tmp_path, capsys):
    src = tmp_path / "p.png"
    Image.fromarray(data.astronaut()[::8, ::8]).save(src)
    code, _, err = run_cli(["apply", str(src), "--preset", "wave", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 0 and "paintings: wave" in err and Image.open(tmp_path / "o.png").size == (64, 64)
    code, _, err = run_cli(["apply", str(src), "--preset", "wavy", "-o", str(tmp_path / "x.png")], capsys)
    assert code == 2 and err.strip().endswith("did you mean wave? (see 'brushwork presets')")
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x.png").exists()


def test_list_images_ignores_other_files(files):
    assert [p.name for p in list_images(files["photos"])] == ["astronaut.jpg", "coffee.png"]
