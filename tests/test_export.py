"""ONNX export: free height/width, onnxruntime within 1e-4 of PyTorch, the card as metadata."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from PIL import Image
from skimage import data

from brushwork.cli import main
from brushwork.errors import InputError
from brushwork.feedforward.apply import apply
from brushwork.feedforward.export import INT8_TOLERANCE, export_onnx
from brushwork.feedforward.modelfile import load_model, make_card, save_model
from brushwork.feedforward.networks import AdaINNet, TransformerNet
from brushwork.feedforward.presets import ArbitraryStylizer
from brushwork.feedforward.student import student_network
from brushwork.image import array_to_tensor, resize, save_image


def perturbed(net: torch.nn.Module, scale: float = 0.1) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return net


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("export")
    torch.manual_seed(0)
    fast = perturbed(TransformerNet())
    multi = perturbed(TransformerNet(3))
    adain = AdaINNet()
    with torch.no_grad():
        for p in adain.decoder.parameters():
            p.mul_(2.0)
    student = perturbed(student_network(), 0.05)
    styles = [{"name": n} for n in ("a", "b", "c")]
    photos, paintings = root / "photos", root / "paintings"
    for folder, images in ((photos, (data.astronaut(), data.coffee(), data.chelsea())),
                           (paintings, (data.rocket(), data.coffee()[::-1], data.astronaut()[:, ::-1]))):
        folder.mkdir()
        for i, img in enumerate(images):
            Image.fromarray(np.ascontiguousarray(img)).resize((160, 120)).save(folder / f"{i}.png")
    return {"root": root, "calibration": (photos, paintings),
            "student": save_model(student, root / "student.bw", make_card("student", student)),
            "fast": save_model(fast, root / "fast.bw", make_card("fast", fast, styles[:1])),
            "multistyle": save_model(multi, root / "multi.bw", make_card("multistyle", multi, styles)),
            "adain": save_model(adain, root / "adain.bw", make_card("adain", adain))}


def session(path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("kind", ["fast", "multistyle"])
def test_transformer_export_matches_pytorch_at_any_size(kind, models, content):
    out = models["root"] / f"{kind}.onnx"
    result = export_onnx(models[kind], out)
    assert result.path == out and result.max_error is not None and result.max_error < 1e-4
    model = load_model(models[kind], device="cpu")
    x = content[..., :40, :60]  # not the traced size
    feeds = {"content": x.numpy()}
    if kind == "multistyle":
        feeds["style_weights"] = np.array([0.2, 0.0, 0.8], np.float32)
        want = model.with_weights([0.2, 0.0, 0.8])(x)
    else:
        want = model(x)
    got = session(out).run(None, feeds)[0]
    assert got.shape == (1, 3, 40, 60)
    assert np.abs(got - want.numpy()).max() < 1e-4
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["brushwork_kind"] == kind and meta["brushwork_multiple"] == "4"
    assert json.loads(meta["brushwork_card"])["architecture"]["name"] == "transformer"


def test_adain_export_takes_content_style_and_alpha(models, content, stripes):
    out = models["root"] / "adain.onnx"
    assert export_onnx(models["adain"], out).max_error < 1e-4
    model = load_model(models["adain"], device="cpu")
    x = content[..., :40, :]
    got = session(out).run(None, {"content": x.numpy(), "style": stripes.numpy(),
                                  "alpha": np.array(0.6, np.float32)})[0]
    with torch.no_grad():
        want = model.network(x, stripes, alpha=0.6)
    assert np.abs(got - want.numpy()).max() < 1e-4


def test_cli_export(models, capsys):
    out = models["root"] / "cli.onnx"
    assert main(["export", str(models["fast"]), "--onnx", str(out)]) == 0
    assert out.is_file() and "matches PyTorch" in capsys.readouterr().err


def test_export_refuses_bad_paths(models, capsys):
    with pytest.raises(InputError, match=r"\.onnx"):
        export_onnx(models["fast"], models["root"] / "model.txt")
    assert main(["export", str(models["fast"]), "--onnx", str(models["root"] / "no" / "x.onnx")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    return resize(array_to_tensor(data.astronaut()), (200, 264))


def test_a_student_exports_in_the_place_of_the_onnx_transform_network(models, photo, stripes):
    """NHWC in and out, the predictor's style vector: the arbitrary-style path paints with it as with
    its own network, and matches the student's PyTorch painting."""
    out = models["root"] / "student.onnx"
    assert export_onnx(models["student"], out).max_error < 1e-4
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert (meta["brushwork_kind"], meta["brushwork_multiple"], meta["brushwork_precision"]) == ("student", "8", "float32")
    graph = ArbitraryStylizer(stripes, "cpu", transform=out)
    torch_path = load_model(models["student"], "cpu").with_style(stripes)
    assert graph.multiple == 8 and graph.name.startswith("student")
    got, want = apply(photo, model=graph), apply(photo, model=torch_path)
    assert got.shape == photo.shape and (got - want).abs().mean() < 0.01   # PyTorch paints in bf16 where it can


def test_the_student_graph_computes_the_network_itself(models):
    """The exported form (norms as x·a + b from spatial means) is the network, not an approximation."""
    from brushwork.feedforward.export import _Student
    net = load_model(models["student"], "cpu").network.float().eval()
    g = torch.Generator().manual_seed(3)
    x, v = torch.rand(1, 40, 56, 3, generator=g), torch.randn(1, 1, 1, 100, generator=g)
    with torch.no_grad():
        want = net.body(x.permute(0, 3, 1, 2), torch.cat([v.reshape(1, 100), torch.ones(1, 1)], 1))
        got = _Student(net).eval()(x, v).permute(0, 3, 1, 2)
    assert (got - want).abs().max() < 1e-5


def test_an_int8_student_stays_close_and_paints_in_tiles_without_seams(models, photo, stripes):
    out = models["root"] / "student_int8.onnx"
    result = export_onnx(models["student"], out, int8=True, calibration=models["calibration"])
    assert result.int8_mean_error is not None and result.int8_mean_error <= INT8_TOLERANCE
    model = onnx.load(str(out))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["brushwork_precision"] == "int8" and any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    graph = ArbitraryStylizer(stripes, "cpu", transform=out)
    fp32 = ArbitraryStylizer(stripes, "cpu", transform=models["root"] / "student.onnx")
    whole = apply(photo, model=graph)
    assert (whole - apply(photo, model=fp32)).abs().mean() < 2 * INT8_TOLERANCE
    tiles = apply(photo, model=graph, tile=128)
    assert (tiles - whole).abs().mean() < 0.01     # the tiles share the whole photo's norm statistics


def test_int8_export_is_for_students_with_calibration_folders(models, capsys):
    with pytest.raises(InputError, match="int8 export is for student models; this is a fast model"):
        export_onnx(models["fast"], models["root"] / "f8.onnx", int8=True)
    with pytest.raises(InputError, match="calibration folders are for an int8 export"):
        export_onnx(models["student"], models["root"] / "s.onnx", calibration=models["calibration"])
    assert not (models["root"] / "f8.onnx").exists()
    out = models["root"] / "cli8.onnx"
    photos, paintings = models["calibration"]
    assert main(["export", str(models["student"]), "--onnx", str(out), "--int8",
                 "--calibration", str(photos), str(paintings)]) == 0
    assert out.is_file() and "int8, a mean difference of" in capsys.readouterr().err


def test_cli_apply_paints_with_a_students_onnx_export_and_one_style_only(models, photo, tmp_path, capsys):
    onnx_file, style, out = models["root"] / "cli_apply.onnx", tmp_path / "style.png", tmp_path / "o.png"
    export_onnx(models["student"], onnx_file)
    Image.fromarray(data.rocket()).resize((96, 64)).save(style)
    save_image(photo, tmp_path / "photo.png")
    assert main(["apply", str(tmp_path / "photo.png"), "--style", str(style), "--model", str(onnx_file), "-q",
                 "-o", str(out)]) == 0
    assert Image.open(out).size == (264, 200)
    assert main(["apply", str(tmp_path / "photo.png"), "--style", str(style), "--style", str(style),
                 "--model", str(onnx_file), "-o", str(tmp_path / "two.png")]) == 2
    err = capsys.readouterr().err
    assert "paints one style image" in err and err.count("\n") == 1 and not (tmp_path / "two.png").exists()
