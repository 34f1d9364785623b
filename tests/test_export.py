"""ONNX export: free height/width, onnxruntime within 1e-4 of PyTorch, the card as metadata."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from brushwork.cli import main
from brushwork.errors import InputError
from brushwork.feedforward.export import export_onnx
from brushwork.feedforward.modelfile import load_model, make_card, save_model
from brushwork.feedforward.networks import AdaINNet, TransformerNet


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
    styles = [{"name": n} for n in ("a", "b", "c")]
    return {"root": root,
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
