"""The any-style student: distilled from the ONNX arbitrary-style network (its int8 export: tests/test_export.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from brushwork.errors import InputError
from brushwork.feedforward import apply
from brushwork.feedforward.modelfile import load_model
from brushwork.feedforward.networks import StudentNet
from brushwork.feedforward.student import (StudentModel, Teacher, conditioning, student_network,
                                           train_student)
from brushwork.training import ImageFolder

TINY = dict(size=32, batch_size=2, device="cpu", workers=0, seed=0)


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("student")
    photos, paintings = root / "photos", root / "paintings"
    photos.mkdir()
    paintings.mkdir()
    for i, img in enumerate((data.astronaut(), data.coffee(), data.chelsea())):
        Image.fromarray(img).resize((48, 40)).save(photos / f"p{i}.png")
    yy, xx = np.mgrid[0:64, 0:64]
    stripes = np.where((((xx + yy) // 6) % 2)[..., None] == 1, [230, 40, 25], [25, 50, 220]).astype(np.uint8)
    Image.fromarray(stripes).save(paintings / "stripes.png")
    Image.fromarray(data.rocket()).resize((64, 48)).save(paintings / "rocket.png")
    return {"photos": photos, "paintings": paintings, "root": root}


def test_an_untrained_student_passes_the_photo_through_its_norms():
    """γ = 1, β = 0 for every style vector: the vector has no effect until training."""
    net = student_network().eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a, b = net(x, conditioning(np.zeros((1, 100)))), net(x, conditioning(np.ones((1, 100))))
    assert torch.equal(a, b) and isinstance(net, StudentNet) and net.n_styles == 101
    assert (a - x).abs().mean() < 0.12   # the photo through a gentle S-curve


def test_distillation_moves_the_student_to_the_teacher(folders, tmp_path):
    seen = []
    model = train_student(tmp_path / "s.bw", folders["photos"], folders["paintings"], steps=16, lr=3e-3,
                          callback=seen.append, preview_every=16, **TINY)
    first, last = (np.mean([p.loss for p in part]) for part in (seen[:3], seen[-3:]))
    assert last < 0.8 * first, [round(p.loss, 3) for p in seen]
    assert isinstance(model, StudentModel) and model.card["training"]["style_data"]["count"] == 2
    assert any("painting" in p.losses for p in seen)          # the paintings' own Gram matrices count too
    assert not torch.equal(model.network.weight_scale[:100], torch.ones(100))  # the vectors are standardised
    assert (tmp_path / "s.step000016.png").is_file()
    again = load_model(tmp_path / "s.bw", "cpu")
    out = apply(folders["photos"] / "p0.png", model=again.with_style(folders["paintings"] / "stripes.png"))
    assert out.shape == (1, 3, 40, 48)
    with pytest.raises(InputError, match="one style image"):
        again.with_style([folders["paintings"] / "stripes.png"] * 2)
    with pytest.raises(InputError, match="needs a style image"):
        apply(folders["photos"] / "p0.png", model=again)


def test_the_teacher_paints_at_any_size(folders):
    teacher = Teacher()
    v = teacher.vectors(ImageFolder(folders["paintings"]))
    assert v.shape == (2, 100)
    out = teacher.paint(torch.rand(2, 3, 36, 44), v)
    assert out.shape == (2, 3, 36, 44) and 0 <= out.min() and out.max() <= 1


def test_the_student_can_copy_its_teacher_alone(folders, tmp_path):
    seen = []
    train_student(tmp_path / "s.bw", folders["photos"], folders["paintings"], steps=2, painting_weight=0,
                  callback=seen.append, **TINY)
    assert seen and not any("painting" in p.losses for p in seen)
    with pytest.raises(InputError, match="painting weight"):
        train_student(tmp_path / "t.bw", folders["photos"], folders["paintings"], steps=2, painting_weight=-1, **TINY)


def test_a_student_trains_on_from_a_trained_one(folders, tmp_path):
    """`init` starts from the saved weights (not a fresh network) and records where they came from."""
    first = train_student(tmp_path / "a.bw", folders["photos"], folders["paintings"], steps=4, lr=3e-3, **TINY)
    after = train_student(tmp_path / "b.bw", folders["photos"], folders["paintings"], steps=1, lr=1e-6,
                          init=tmp_path / "a.bw", **TINY)
    fresh = student_network()
    a, b = first.network.float().state_dict(), after.network.float().state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-3) for k in a)
    assert not all(torch.allclose(a[k], fresh.state_dict()[k], atol=1e-3) for k in a)
    assert after.card["training"]["init"] == str(tmp_path / "a.bw")


def test_only_a_student_can_start_a_student(folders, tmp_path):
    from brushwork.feedforward.modelfile import make_card, save_model
    from brushwork.feedforward.networks import TransformerNet
    net = TransformerNet()
    save_model(net, tmp_path / "fast.bw", make_card("fast", net, [{"name": "a"}]))
    with pytest.raises(InputError, match="a fast model; --init needs a student .bw"):
        train_student(tmp_path / "s.bw", folders["photos"], folders["paintings"], steps=1,
                      init=tmp_path / "fast.bw", **TINY)
    with pytest.raises(InputError):
        train_student(tmp_path / "s.bw", folders["photos"], folders["paintings"], steps=1,
                      init=tmp_path / "missing.bw", **TINY)


def test_a_student_of_one_painting_trains(folders, tmp_path):
    """One painting has no spread to standardise its vector by: the scale stays 1 (no nan)."""
    one = tmp_path / "one"
    one.mkdir()
    (one / "stripes.png").write_bytes((folders["paintings"] / "stripes.png").read_bytes())
    model = train_student(tmp_path / "s.bw", folders["photos"], one, steps=2, **TINY)
    assert torch.equal(model.network.weight_scale, torch.ones(101))
    assert torch.isfinite(model.network.weight_mean).all()


def test_a_student_with_a_style_layer_trains_saves_and_exports(folders, tmp_path):
    """`style_hidden`: the vector through a learnt layer before the norms; the layer is saved,
    it shapes the painting, and the ONNX graph computes it."""
    from brushwork.feedforward.export import export_onnx
    model = train_student(tmp_path / "h.bw", folders["photos"], folders["paintings"], steps=3, lr=3e-3,
                          style_hidden=8, **TINY)
    net = load_model(tmp_path / "h.bw", "cpu").network.float().eval()
    assert net.config["style_hidden"] == 8 and net.stem.norm.gamma.shape[0] == 9
    assert model.card["training"]["style_hidden"] == 8
    x, v = torch.rand(1, 3, 32, 32), conditioning(np.random.default_rng(0).normal(size=(2, 100)))
    with torch.no_grad():
        a, b = net(x, v[:1]), net(x, v[1:])
        net.style_code.weight.zero_()          # a layer that ignores the vector paints alike for all
        c, d = net(x, v[:1]), net(x, v[1:])
    assert not torch.equal(a, b) and torch.equal(c, d)
    assert export_onnx(tmp_path / "h.bw", tmp_path / "h.onnx").max_error < 1e-4
    with pytest.raises(InputError, match="style_hidden"):
        train_student(tmp_path / "x.bw", folders["photos"], folders["paintings"], steps=1, style_hidden=-1, **TINY)


def test_init_keeps_the_style_layer_it_was_trained_with(folders, tmp_path):
    train_student(tmp_path / "a.bw", folders["photos"], folders["paintings"], steps=1, style_hidden=4, **TINY)
    again = train_student(tmp_path / "b.bw", folders["photos"], folders["paintings"], steps=1,
                          init=tmp_path / "a.bw", **TINY)
    assert again.network.config["style_hidden"] == 4
    with pytest.raises(InputError, match="a style layer of 4, not 0"):
        train_student(tmp_path / "c.bw", folders["photos"], folders["paintings"], steps=1, style_hidden=0,
                      init=tmp_path / "a.bw", **TINY)
