"""The .bw file: safetensors weights + a JSON card; exact reloads; one-line refusals."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from brushwork.errors import InputError
from brushwork.feedforward.base import Stylizer
from brushwork.feedforward.modelfile import (FORMAT_VERSION, METADATA_KEY, FastModel, load_model, make_card,
                                             read_card, save_model, thumbnail, thumbnail_image)
from brushwork.feedforward.networks import TransformerNet


@pytest.fixture(scope="module")
def net() -> TransformerNet:
    torch.manual_seed(0)
    n = TransformerNet()
    with torch.no_grad():
        for p in n.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return n.eval()


@pytest.fixture
def saved(tmp_path, net, stripes) -> Path:
    card = make_card("fast", net, [{"name": "stripes", "thumbnail": thumbnail(stripes)}],
                     {"steps": 0, "seed": 0})
    return save_model(net, tmp_path / "stripes.bw", card)


def test_reload_is_bit_identical(saved, net, content, tmp_path):
    model = load_model(saved, device="cpu")
    assert isinstance(model, FastModel) and isinstance(model, Stylizer)
    assert model.multiple == 4 and not model.native_strength and model.styles == ["stripes"]
    out = model(content)
    # the same file gives the same pixels, and so does a file saved from the loaded model
    assert torch.equal(load_model(saved, device="cpu")(content), out)
    again = load_model(save_model(model, tmp_path / "again.bw"), device="cpu")
    assert torch.equal(again(content), out)
    # fp16 storage: close to the fp32 network it was saved from
    with torch.no_grad():
        diff = (net(content) - out).abs()
    assert diff.max() < 2e-2 and diff.mean() < 2e-3
    assert saved.stat().st_size < 0.6 * sum(p.numel() * 4 for p in net.parameters())


def test_the_card_describes_the_model(saved):
    card = read_card(saved)
    assert card["format"] == "brushwork-model" and card["version"] == FORMAT_VERSION
    assert card["kind"] == "fast" and card["architecture"]["name"] == "transformer"
    assert card["architecture"]["channels"] == [32, 64, 128] and card["dtype"] == "float16"
    assert card["brushwork_version"] and card["date"]
    thumb = thumbnail_image(card["styles"][0]["thumbnail"])
    assert max(thumb.shape[-2:]) <= 128


def test_thumbnails_are_small():
    big = torch.rand(1, 3, 300, 500)
    assert tuple(thumbnail_image(thumbnail(big)).shape[-2:]) == (77, 128)


def _write_safetensors(path: Path, card: dict | None, net: torch.nn.Module | None = None) -> Path:
    tensors = {k: v.half() for k, v in net.state_dict().items()} if net is not None else {"x": torch.zeros(2)}
    save_file(tensors, str(path), metadata=None if card is None else {METADATA_KEY: json.dumps(card)})
    return path


def _bad_files(tmp: Path, net: torch.nn.Module) -> dict[str, tuple[Path, str]]:
    good = make_card("fast", net)
    rnd = tmp / "random.bw"
    rnd.write_bytes(np.random.default_rng(0).bytes(4096))
    png = tmp / "picture.bw"
    Image.new("RGB", (8, 8)).save(png, "PNG")
    empty = tmp / "empty.bw"
    empty.write_bytes(b"")
    half = tmp / "half.bw"
    save_model(net, half, good)
    half.write_bytes(half.read_bytes()[: half.stat().st_size // 2])
    return {
        "random bytes": (rnd, "not a brushwork model file"),
        "a PNG renamed": (png, "not a brushwork model file"),
        "empty file": (empty, "not a brushwork model file"),
        "truncated": (half, "not a brushwork model file"),
        "missing": (tmp / "missing.bw", "no such file"),
        "folder": (tmp, "folder"),
        "no card": (_write_safetensors(tmp / "nocard.bw", None), "no model card"),
        "foreign card": (_write_safetensors(tmp / "foreign.bw", {"hello": 1}, net), "not a brushwork model card"),
        "newer version": (_write_safetensors(tmp / "newer.bw", {**good, "version": FORMAT_VERSION + 1}, net),
                          "newer brushwork"),
        "older version": (_write_safetensors(tmp / "older.bw", {**good, "version": 0}, net), "older brushwork"),
        "unknown kind": (_write_safetensors(tmp / "kind.bw", {**good, "kind": "diffusion"}, net), "unknown model kind"),
        "unknown architecture": (_write_safetensors(tmp / "arch.bw", {**good, "architecture": {"name": "unet"}}, net),
                                 "unknown architecture"),
        "wrong weights": (_write_safetensors(tmp / "weights.bw", good), "do not match"),
        "wrong shapes": (_write_safetensors(tmp / "shapes.bw", {**good, "architecture": {
            **good["architecture"], "channels": [16, 32, 64]}}, net), "shape"),
    }


def test_foreign_and_corrupt_files_are_one_line_input_errors(tmp_path, net):
    for what, (path, expected) in _bad_files(tmp_path, net).items():
        with pytest.raises(InputError) as e:
            load_model(path, device="cpu")
        assert expected in str(e.value) and "\n" not in str(e.value), (what, str(e.value))


def test_cli_refuses_a_corrupt_model_in_one_line(tmp_path, net, capsys):
    from brushwork.cli import main
    bad = _bad_files(tmp_path, net)
    for what in ("random bytes", "a PNG renamed", "no card"):
        assert main(["export", str(bad[what][0]), "--onnx", str(tmp_path / "out.onnx")]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and bad[what][1] in err, err
        assert not (tmp_path / "out.onnx").exists()
    # and in a real process: no traceback, exit code 2
    r = subprocess.run([sys.executable, "-m", "brushwork", "export", str(bad["random bytes"][0]), "--onnx",
                        str(tmp_path / "out.onnx")], capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_model_paths_must_end_in_bw(tmp_path, net):
    with pytest.raises(InputError, match=r"\.bw"):
        save_model(net, tmp_path / "model.pt", make_card("fast", net))
    with pytest.raises(InputError, match="does not exist"):
        save_model(net, tmp_path / "nowhere" / "model.bw", make_card("fast", net))


def test_a_trained_network_tiles_like_one_pass(saved):
    """Tiles of our own network use the whole image's instance-norm statistics: no patches."""
    from brushwork.feedforward.apply import apply
    model = load_model(saved, device="cpu")
    torch.manual_seed(1)
    img = torch.nn.functional.interpolate(torch.rand(1, 3, 24, 32), size=(192, 256), mode="bilinear")
    whole, tiles = apply(img, model=model, tile=0), apply(img, model=model, tile=128)
    # inside the first tile, far from seams: identical (own statistics per tile would differ here)
    assert (whole - tiles).abs()[..., :64, :64].max() < 1e-4
    assert (whole - tiles).abs().mean() < 0.01  # near seams the 128-px tiles are narrower than the receptive field


@pytest.fixture
def style_set(tmp_path, stripes) -> Path:
    """A three-style network whose styles really differ (random conditional norms)."""
    torch.manual_seed(2)
    n = TransformerNet(3)
    with torch.no_grad():
        for p in n.parameters():
            p.add_(0.3 * torch.randn_like(p))
    card = make_card("multistyle", n, [{"name": nm, "thumbnail": thumbnail(stripes)} for nm in ("wave", "udnie", "kiss")])
    return save_model(n, tmp_path / "set.bw", card)


def test_a_multistyle_model_paints_the_styles_picked_by_number_or_name(style_set, content):
    from brushwork.feedforward.apply import apply, load_stylizer
    model = load_model(style_set, device="cpu")
    assert model.styles == ["wave", "udnie", "kiss"]
    by_name = apply(content, model=load_stylizer(preset="udnie", model=style_set, device="cpu"))
    assert torch.equal(by_name, apply(content, model=load_stylizer(preset=1, model=style_set, device="cpu")))
    assert torch.equal(by_name, apply(content, model=model.with_weights(1)))
    assert not torch.allclose(by_name, apply(content, model=model.with_weights(0)), atol=1e-2)
    blend = load_stylizer(preset="wave:1, kiss:3", model=style_set, device="cpu")
    assert blend.weights == pytest.approx([0.25, 0.0, 0.75])
    assert torch.equal(apply(content, model=blend), apply(content, model=model.with_weights([1, 0, 3])))


@pytest.mark.parametrize("spec, message", [("monet", "not a style number or name"), (3, r"0 to 2 \(wave, udnie, kiss\)"),
                                           ("wave:0", "only zero")])
def test_bad_style_picks_for_a_multistyle_model(style_set, spec, message):
    from brushwork.feedforward.apply import load_stylizer
    with pytest.raises(InputError, match=message):
        load_stylizer(preset=spec, model=style_set, device="cpu")


def test_a_one_style_model_refuses_a_style_pick(saved):
    from brushwork.feedforward.apply import load_stylizer
    with pytest.raises(InputError, match="one style"):
        load_stylizer(preset=0, model=saved, device="cpu")


def test_cli_apply_picks_a_style_of_a_multistyle_model(style_set, tmp_path, capsys):
    from brushwork.cli import main
    from brushwork.image import load_image
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8)).save(photo)
    assert main(["apply", str(photo), "--model", str(style_set), "--preset", "kiss", "-o", str(tmp_path / "k.png")]) == 0
    assert "kiss" in capsys.readouterr().err
    assert main(["apply", str(photo), "--model", str(style_set), "--preset", "van_gogh", "-o",
                 str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a style number or name" in err
    assert not (tmp_path / "x.png").exists()
    kiss = load_model(style_set, device="cpu").with_weights(2)(load_image(photo))
    assert (load_image(tmp_path / "k.png") - kiss).abs().max() < 1 / 255 + 1e-6


def test_cli_lists_and_sheets_the_styles_of_a_multistyle_model(style_set, saved, tmp_path, capsys):
    from brushwork.cli import main
    from brushwork.image import load_image
    assert main(["presets", "--model", str(style_set)]) == 0
    assert capsys.readouterr().out.split() == ["0", "wave", "1", "udnie", "2", "kiss"]
    photo = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(1).random((40, 56, 3)) * 255).astype(np.uint8)).save(photo)
    sheet = tmp_path / "sheet.png"
    assert main(["presets", "--model", str(style_set), "--sheet", str(photo), "-o", str(sheet), "-q"]) == 0
    img = load_image(sheet)[0]
    painted = [bool((img[:, 40:, 6 + n * 262:262 + n * 262] < 0.95).any()) for n in range(7)]
    assert painted == [True] * 4 + [False] * 3        # one row of 256 px tiles: the photo and three styles
    assert main(["presets", "--model", str(saved)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "has one style" in err
