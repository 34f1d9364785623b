"""What every feed-forward stylizer offers `apply`: one pass from a content image to a painting.

A stylizer is a preset network (ONNX), one of our own trained networks (a `.bw` file) or the
arbitrary-style network. `apply` does the loading, resizing, tiling, padding to `multiple`,
strength and colour preservation around it, so a stylizer only has to paint one tile.

Its one method, `painter(whole, strength, tiled)`, sees the whole photo once before any tile is
painted: what must not vary from tile to tile (a style vector computed from the photo, the
instance-norm statistics of the whole image) is computed there, and the returned function
paints tiles. Networks with instance norm that paint tiles with each tile's own statistics
give every tile its own tonality: visible patches (see `runtime.ImageNetwork`, which avoids it).
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

# Paints one tile: (1, 3, h, w) RGB in [0, 1], h and w multiples of the stylizer's `multiple`,
# on the CPU -> the stylized tile, same shape, in [0, 1] (on any device).
Painter = Callable[[torch.Tensor], torch.Tensor]


@runtime_checkable
class Stylizer(Protocol):
    name: str            # for messages and file names, e.g. "preset 7" or "style starry_night.jpg"
    multiple: int        # tiles given to the painter have sides that are multiples of this
    native_strength: bool  # True: the painter applies `strength` itself (AdaIN's alpha); False:
    #                        `apply` blends the pixels with the photo (the painter may use it too:
    #                        the any-style network also moves its style vector)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        """Get ready to stylize an image at `strength` in (0, 1]; return the function that paints it.

        Untiled, `whole` is the image and the painter is called once, on it (padded). Tiled, the
        painter is called on overlapping tiles, and `whole` is the image downscaled to fit the
        memory budget: compute from it whatever all tiles must share (`shared_norms` does it for
        torch networks).
        """
        ...


class TorchStylizer:
    """A torch network (an nn.Module mapping (N, 3, H, W) in [0, 1] to the same) as a Stylizer.

    The module may set `multiple` (its total downsampling; default 4) and `native_strength`
    (then it is called as `module(x, strength=...)`). In tiles, its instance-norm layers
    (`nn.InstanceNorm2d` and anything built on it) use the statistics of the whole image,
    recorded in a first pass over `whole` (see `shared_norms`).

    On CUDA it paints in float16 (autocast) with channels-last images and lets cuDNN pick its
    fastest kernels for each image size: the speed video needs. Elsewhere it paints in float32,
    or with `cpu_bf16` in bf16 (autocast) on a CPU that computes bf16 natively.
    """

    def __init__(self, module: Any, device: str | torch.device = "auto", name: str | None = None,
                 network: nn.Module | None = None, cpu_bf16: bool = False):
        from ..device import resolve_device
        from ..training.precision import native_bf16
        self.device = resolve_device(device)
        self.bf16 = cpu_bf16 and self.device.type == "cpu" and native_bf16()
        self.module = module.to(self.device).eval() if hasattr(module, "to") else module
        self.network = network if network is not None else (self.module if isinstance(self.module, nn.Module)
                                                             else None)
        self.name = name or getattr(module, "name", type(module).__name__)
        self.multiple = int(getattr(module, "multiple", 4))
        self.native_strength = bool(getattr(module, "native_strength", False))
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            torch.backends.cudnn.benchmark = True
            if self.network is not None:
                self.network.to(memory_format=torch.channels_last)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        kw = {"strength": strength} if self.native_strength else {}
        layout = torch.channels_last if self.cuda else torch.contiguous_format

        @torch.inference_mode()
        def paint(tile: torch.Tensor) -> torch.Tensor:
            x = tile.to(self.device, non_blocking=True).contiguous(memory_format=layout)
            with torch.autocast("cuda", torch.float16, enabled=self.cuda), \
                    torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
                return self.module(x, **kw).float().clamp(0, 1)
        if tiled and self.network is not None:
            return shared_norms(paint, whole, self.network)
        return paint


def shared_norms(paint: Painter, whole: torch.Tensor, network: nn.Module) -> Painter:
    """Wrap a painter so that, in every tile, each instance-norm layer of `network` normalises with
    the statistics it saw in one run of `paint` on `whole`. Without this each tile is normalised
    by its own statistics and gets its own tonality: patches.

    The statistics are swapped in by forward hooks on `network`'s own layers, present only while
    a tile is painted: nothing global changes, but one network must not paint two images at once.
    """
    norms = [m for m in network.modules() if isinstance(m, nn.modules.instancenorm._InstanceNorm)]
    if not norms:
        return paint
    stats: dict[nn.Module, list[tuple[torch.Tensor, torch.Tensor]]] = {m: [] for m in norms}

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        x = inputs[0].float()
        dims = tuple(range(2, x.ndim))
        stats[module].append((x.mean(dims)[0], x.var(dims, unbiased=False)[0]))

    with _hooked(norms, record):
        paint(whole)

    def painted(tile: torch.Tensor) -> torch.Tensor:
        calls = {m: iter(v) for m, v in stats.items()}

        def replay(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            mean, var = next(calls[module], (None, None))
            if mean is None:
                raise RuntimeError("a tile ran a norm layer more often than the whole image did")
            x = inputs[0]
            # statistics in the affine parameters' dtype: float32 beside a float16 input (CUDA autocast)
            dt = module.weight.dtype if module.weight is not None else x.dtype
            return F.instance_norm(x, mean.to(dt), var.to(dt), module.weight, module.bias,
                                   use_input_stats=False, eps=module.eps)

        with _hooked(norms, replay):
            return paint(tile)
    return painted


@contextlib.contextmanager
def _hooked(modules: list[nn.Module], hook: Callable) -> Iterator[None]:
    handles = [m.register_forward_hook(hook) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def as_stylizer(obj: Any, device: str | torch.device = "auto", name: str | None = None) -> Stylizer:
    """A Stylizer as is; a torch network wrapped in `TorchStylizer`."""
    if isinstance(obj, Stylizer):
        return obj
    if callable(obj):
        return TorchStylizer(obj, device, name)
    from ..errors import InputError
    raise InputError(f"{type(obj).__name__} is not a stylizer or a network")
