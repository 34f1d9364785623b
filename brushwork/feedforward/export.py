"""ONNX export of our networks, with free height/width, checked against PyTorch with onnxruntime.

    fast        content (N, 3, H, W) -> stylized            H, W multiples of 4
    multistyle  content, style_weights (n_styles,) -> stylized
    adain       content (1, 3, H, W), style (1, 3, h, w), alpha () -> stylized   multiples of 8

Inputs and outputs are RGB in [0, 1]; the caller pads to the multiple (the `brushwork_multiple`
metadata entry says which). The model card is stored as ONNX metadata too. torch's legacy
(TorchScript) exporter is used: it needs no package beyond torch and onnx.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import BrushworkError, InputError
from ..files import atomic_path
from .modelfile import AdaINModel, FastModel, MultiStyleModel, TrainedModel, load_model
from .networks import AdaINNet, TransformerNet, mean_std

OPSET = 17
TOLERANCE = 1e-4


class _Fast(nn.Module):
    def __init__(self, net: TransformerNet):
        super().__init__()
        self.net = net

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        w = torch.ones(content.shape[0], 1, dtype=content.dtype, device=content.device)
        return self.net.body(content, w)


class _Multi(_Fast):
    def forward(self, content: torch.Tensor, style_weights: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        w = style_weights.reshape(1, -1).expand(content.shape[0], -1)
        return self.net.body(content, w)


class _AdaIN(nn.Module):
    def __init__(self, net: AdaINNet):
        super().__init__()
        self.net = net
        self.encoder = net.encoder(torch.device("cpu"))

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        from .networks import FEATURE_SCALE
        s = FEATURE_SCALE["relu4_1"]
        f = self.encoder(content)["relu4_1"] / s
        fs = self.encoder(style)["relu4_1"] / s
        t = self.net.transfer(f, [mean_std(fs)])
        return self.net.decode(alpha * t + (1.0 - alpha) * f)


@dataclass
class Exported:
    """Where the ONNX file went and how far onnxruntime's output was from PyTorch's (None: not checked)."""

    path: Path
    max_error: float | None


def _example(model: TrainedModel, h: int, w: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    # smooth random images: closer to photos than per-pixel noise, and just as deterministic
    def image(hh: int, ww: int) -> torch.Tensor:
        small = torch.rand(1, 3, max(1, hh // 8), max(1, ww // 8), generator=g)
        return torch.nn.functional.interpolate(small, size=(hh, ww), mode="bilinear", align_corners=False)
    if isinstance(model, MultiStyleModel):
        n = model.network.n_styles
        weights = torch.rand(n, generator=g)
        return image(h, w), weights / weights.sum()
    if isinstance(model, AdaINModel):
        return image(h, w), image(w, h), torch.tensor(0.75)
    return (image(h, w),)


def _wrapper(model: TrainedModel) -> tuple[nn.Module, list[str], dict[str, dict[int, str]]]:
    spatial = {2: "height", 3: "width"}
    if isinstance(model, MultiStyleModel):
        return (_Multi(model.network), ["content", "style_weights"],
                {"content": {0: "batch", **spatial}, "stylized": {0: "batch", **spatial}})
    if isinstance(model, AdaINModel):
        return (_AdaIN(model.network), ["content", "style", "alpha"],
                {"content": spatial, "style": {2: "style_height", 3: "style_width"}, "stylized": spatial})
    if isinstance(model, FastModel):
        return (_Fast(model.network), ["content"],
                {"content": {0: "batch", **spatial}, "stylized": {0: "batch", **spatial}})
    raise InputError(f"cannot export a {type(model).__name__} to ONNX")


def check_onnx(model: TrainedModel, path: str | os.PathLike, size: tuple[int, int] = (48, 80)) -> float:
    """Largest absolute difference between onnxruntime and PyTorch on a test input of `size`
    (a size other than the one the export was traced at, to exercise the free axes)."""
    import onnxruntime as ort

    module, names, _ = _wrapper(model)
    module = module.cpu().eval()
    inputs = _example(model, *size, seed=1)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = sess.run(None, {n: x.numpy() for n, x in zip(names, inputs)})[0]
    with torch.no_grad():
        want = module(*inputs).numpy()
    if got.shape != want.shape:
        raise BrushworkError(f"{path}: onnxruntime gave shape {got.shape}, PyTorch {want.shape}")
    return float(np.abs(got - want).max())


def export_onnx(model: TrainedModel | str | os.PathLike, path: str | os.PathLike, *, check: bool = True,
                tolerance: float = TOLERANCE, opset: int = OPSET) -> Exported:
    """Export a `.bw` model (or a loaded one) to an ONNX file with free height and width.

    With `check`, onnxruntime runs the file on a test image and its output must be within
    `tolerance` of PyTorch's; otherwise a BrushworkError is raised and no file is left.
    """
    if not isinstance(model, TrainedModel):
        model = load_model(model, device="cpu")
    out = Path(path)
    if out.suffix.lower() != ".onnx":
        raise InputError(f"{out}: an ONNX file's name must end in .onnx")
    if out.is_dir() or not out.parent.is_dir():
        raise InputError(f"{out}: is a folder" if out.is_dir() else f"{out.parent}: output folder does not exist")
    module, names, axes = _wrapper(model)
    module = module.cpu().eval()
    with atomic_path(out) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
            torch.onnx.export(module, _example(model, 64, 96), str(tmp), dynamo=False, input_names=names,
                              output_names=["stylized"], dynamic_axes=axes, opset_version=opset)
        _add_metadata(tmp, model)
        error = check_onnx(model, tmp) if check else None
        if error is not None and not error <= tolerance:
            raise BrushworkError(f"ONNX export does not match PyTorch: max difference {error:.3g} > {tolerance:g}")
    return Exported(out, error)


def _add_metadata(path: Path, model: TrainedModel) -> None:
    import onnx
    proto = onnx.load(str(path))
    card = {k: v for k, v in model.card.items() if k != "styles"}
    card["styles"] = model.styles
    for key, value in (("brushwork_kind", model.kind), ("brushwork_multiple", str(model.multiple)),
                       ("brushwork_card", json.dumps(card, separators=(",", ":")))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
