"""ONNX export of our networks, with free height/width, checked against PyTorch with onnxruntime.

    fast        content (N, 3, H, W) -> stylized            H, W multiples of 4
    multistyle  content, style_weights (n_styles,) -> stylized
    adain       content (1, 3, H, W), style (1, 3, h, w), alpha () -> stylized   multiples of 8
    student     content_image (1, H, W, 3), style_vector (1, 1, 1, 100) -> stylized (1, H, W, 3)
                                                                         multiples of 8

A student takes and gives images as Magenta's transform network does (NHWC, the predictor's
style vector), so the arbitrary-style path runs it in that network's place; its instance norms
are spelt out as spatial means, so painting in tiles can share the whole image's statistics
(runtime.inject_statistics). With `int8` a student is quantized (static, per-channel weights,
calibrated on photos with paintings' style vectors): the fast CPU graph, `apply --style S --model FILE.onnx`.

Inputs and outputs are RGB in [0, 1]; the caller pads to the multiple (the `brushwork_multiple`
metadata entry says which). The model card is stored as ONNX metadata too. torch's legacy
(TorchScript) exporter is used: it needs no package beyond torch and onnx.
"""
from __future__ import annotations

import copy
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import BrushworkError, InputError
from ..files import atomic_path
from .modelfile import AdaINModel, FastModel, MultiStyleModel, TrainedModel, load_model
from .networks import AdaINNet, StyleNorm, TransformerNet, mean_std
from .student import VECTOR, StudentModel

OPSET = 17
TOLERANCE = 1e-4
INT8_TOLERANCE = 0.02   # mean absolute difference, RGB in [0, 1]
CALIBRATION_IMAGES = 17  # the first checks the graph, the rest calibrate it
CALIBRATION_SIDE = 512


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


def _spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """(N, C, 1, 1) means over space, as a GlobalAveragePool: onnxruntime's ReduceMean over the
    spatial axes of a tensor it holds channels-last is several times slower."""
    return torch.nn.functional.adaptive_avg_pool2d(x, 1)


class _AffineNorm(nn.Module):
    """A style norm as x·a + b, with per-channel a and b from the spatial means of x and x²: two
    full-size operations where the textbook form takes five (and the means are what runtime's
    tiling finds and shares)."""

    def __init__(self, norm: StyleNorm):
        super().__init__()
        self.gamma, self.beta = norm.gamma, norm.beta

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        mean = _spatial_mean(x)
        var = (_spatial_mean(x * x) - mean * mean).clamp_min(0.0)
        a = (weights @ self.gamma)[:, :, None, None] * torch.rsqrt(var + 1e-5)
        return x * a + ((weights @ self.beta)[:, :, None, None] - mean * a)


def _affine_norms(module: nn.Module) -> None:
    """Every style norm inside `module` as an `_AffineNorm`."""
    for name, child in module.named_children():
        if isinstance(child, StyleNorm):
            setattr(module, name, _AffineNorm(child))
        else:
            _affine_norms(child)


class _Student(nn.Module):
    def __init__(self, network: nn.Module):
        super().__init__()
        self.net = copy.deepcopy(network)
        _affine_norms(self.net)

    def forward(self, content_image: torch.Tensor, style_vector: torch.Tensor) -> torch.Tensor:
        x = content_image.permute(0, 3, 1, 2)
        v = style_vector.reshape(1, VECTOR)
        weights = torch.cat([v, torch.ones_like(v[:, :1])], dim=1)  # student.conditioning, in the graph
        return self.net.body(x, weights).permute(0, 2, 3, 1)


@dataclass
class Exported:
    """Where the ONNX file went and how far onnxruntime's output was from PyTorch's (None: not checked)."""

    path: Path
    max_error: float | None
    int8_mean_error: float | None = None


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
    if isinstance(model, StudentModel):
        return image(h, w).permute(0, 2, 3, 1), torch.randn(1, 1, 1, VECTOR, generator=g)
    return (image(h, w),)


def _wrapper(model: TrainedModel) -> tuple[nn.Module, list[str], dict[str, dict[int, str]]]:
    spatial = {2: "height", 3: "width"}
    if isinstance(model, MultiStyleModel):
        return (_Multi(model.network), ["content", "style_weights"],
                {"content": {0: "batch", **spatial}, "stylized": {0: "batch", **spatial}})
    if isinstance(model, AdaINModel):
        return (_AdaIN(model.network), ["content", "style", "alpha"],
                {"content": spatial, "style": {2: "style_height", 3: "style_width"}, "stylized": spatial})
    if isinstance(model, StudentModel):
        nhwc = {1: "height", 2: "width"}
        return _Student(model.network), ["content_image", "style_vector"], {"content_image": nhwc, "stylized": nhwc}
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
                tolerance: float = TOLERANCE, opset: int = OPSET, int8: bool = False,
                calibration: tuple[str | os.PathLike, str | os.PathLike] | None = None) -> Exported:
    """Export a `.bw` model (or a loaded one) to an ONNX file with free height and width.

    With `check`, onnxruntime runs the file on a test image and its output must be within
    `tolerance` of PyTorch's; otherwise a BrushworkError is raised and no file is left. `int8`
    (students only) then quantizes the graph, calibrated on `calibration` = (photo folder,
    painting folder; default the shared data's), and checks it on a photo (mean difference to
    PyTorch at most INT8_TOLERANCE).
    """
    if not isinstance(model, TrainedModel):
        model = load_model(model, device="cpu")
    out = Path(path)
    if out.suffix.lower() != ".onnx":
        raise InputError(f"{out}: an ONNX file's name must end in .onnx")
    if out.is_dir() or not out.parent.is_dir():
        raise InputError(f"{out}: is a folder" if out.is_dir() else f"{out.parent}: output folder does not exist")
    if calibration is not None and not int8:
        raise InputError("calibration folders are for an int8 export (--int8)")
    if int8 and not isinstance(model, StudentModel):
        raise InputError(f"int8 export is for student models; this is a {model.kind} model")
    module, names, axes = _wrapper(model)
    module = module.cpu().eval()
    with atomic_path(out) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
            torch.onnx.export(module, _example(model, 64, 96), str(tmp), dynamo=False, input_names=names,
                              output_names=["stylized"], dynamic_axes=axes, opset_version=opset)
        error = check_onnx(model, tmp) if check else None
        if error is not None and not error <= tolerance:
            raise BrushworkError(f"ONNX export does not match PyTorch: max difference {error:.3g} > {tolerance:g}")
        int8_error = None
        if int8:
            int8_error = _quantize(model, tmp, calibration, check)
        _add_metadata(tmp, model, "int8" if int8 else "float32")
    return Exported(out, error, int8_error)


def _calibration_feeds(model: StudentModel, photos: Any, paintings: Any, count: int) -> list[dict[str, np.ndarray]]:
    """Photos (long side CALIBRATION_SIDE) with paintings' style vectors, as the graph's inputs."""
    from ..image import fit, resize
    from .networks import pad_to_multiple
    from .student import Teacher
    from .train import photos_and_paintings
    photo_folder, painting_folder = photos_and_paintings(photos, paintings)
    vectors = Teacher().vectors(painting_folder, count)
    feeds = []
    for i, v in enumerate(vectors):
        img = photo_folder.load(round(i * len(photo_folder.files) / len(vectors)))
        img = pad_to_multiple(resize(img, fit(img.shape[-2:], CALIBRATION_SIDE)), model.multiple)[0]
        feeds.append({"content_image": img.permute(0, 2, 3, 1).contiguous().numpy(),
                      "style_vector": v.reshape(1, 1, 1, VECTOR).numpy()})
    return feeds


def _quantize(model: StudentModel, path: Path, calibration: tuple[Any, Any] | None, check: bool) -> float | None:
    """Quantize the student graph at `path` in place (int8 convolutions, QDQ); its mean error on a photo."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    photos, paintings = calibration if calibration is not None else (None, None)
    feeds = _calibration_feeds(model, photos, paintings, CALIBRATION_IMAGES)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter(feeds[1:])

        def get_next(self):
            return next(self.items, None)

    quantized = path.with_name(path.stem + ".int8.onnx")
    try:
        quantize_static(str(path), str(quantized), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
        quantized.replace(path)
    finally:
        quantized.unlink(missing_ok=True)
        path.with_name(path.stem + "-inferred.onnx").unlink(missing_ok=True)
    if not check:
        return None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    got = sess.run(None, feeds[0])[0]
    module, _, _ = _wrapper(model)
    with torch.no_grad():
        want = module.eval()(*(torch.from_numpy(feeds[0][k]) for k in ("content_image", "style_vector"))).numpy()
    error = float(np.abs(got - want).mean())
    if not error <= INT8_TOLERANCE:
        raise BrushworkError(f"int8 export is too far from PyTorch: mean difference {error:.3g} > {INT8_TOLERANCE:g}")
    return error


def _add_metadata(path: Path, model: TrainedModel, precision: str) -> None:
    import onnx
    proto = onnx.load(str(path))
    card = {k: v for k, v in model.card.items() if k != "styles"}
    card["styles"] = model.styles
    for key, value in (("brushwork_kind", model.kind), ("brushwork_multiple", str(model.multiple)),
                       ("brushwork_precision", precision),
                       ("brushwork_card", json.dumps(card, separators=(",", ":")))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
