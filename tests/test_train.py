"""Training loops on a few generated images: losses fall, runs are deterministic and resumable,
the saved model is the returned one, bad input is refused in one line before any work."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import brushwork
from brushwork.cli import main
from brushwork.errors import InputError
from brushwork.feedforward import recipes as recipes_mod
from brushwork.training import loop as loop_mod
from brushwork.training.data import Augment, Batches, ImageFolder
from brushwork.feedforward.modelfile import load_model, read_card
from brushwork.feedforward.train import checkpoint_path, train_adain, train_fast, train_multistyle

TINY = dict(size=32, batch_size=2, style_size=48, device="cpu", workers=0)


def smooth_image(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """Blurry colour blobs: photo-like at 32 px, unlike per-pixel noise."""
    small = rng.random((max(2, h // 8), max(2, w // 8), 3))
    return Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("train")
    photos = root / "photos"
    (photos / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(40, 48), (48, 36), (36, 52), (44, 44)]):
        folder = photos / "sub" if i % 2 else photos
        smooth_image(rng, h, w).save(folder / f"p{i}.{('png', 'jpg', 'webp', 'png')[i]}")
    (photos / "notes.txt").write_text("not an image")
    yy, xx = np.mgrid[0:64, 0:64]
    band = ((xx + yy) // 6) % 2
    stripes = np.where(band[..., None] == 1, [230, 40, 25], [25, 50, 220]).astype(np.uint8)
    Image.fromarray(stripes).save(root / "stripes.png")
    dots = ((xx % 8 - 4) ** 2 + (yy % 8 - 4) ** 2) < 6
    Image.fromarray(np.where(dots[..., None], [240, 230, 50], [10, 80, 25]).astype(np.uint8)).save(root / "dots.png")
    paintings = root / "paintings"
    paintings.mkdir()
    Image.fromarray(stripes).save(paintings / "stripes.png")  # one style: its loss is not noisy from batch to batch
    Image.new("RGB", (1, 1)).save(root / "tiny.png")
    (root / "empty").mkdir()
    (root / "out").mkdir()
    return {"root": root, "photos": photos, "paintings": paintings, "stripes": root / "stripes.png",
            "dots": root / "dots.png", "tiny": root / "tiny.png", "empty": root / "empty", "out": root / "out"}


def recorder() -> tuple[list, callable]:
    seen: list = []
    return seen, lambda p: seen.append(p)


def test_dataset_is_recursive_and_batches_are_deterministic(data):
    folder = ImageFolder(data["photos"])
    assert len(folder) == 4
    a = Batches(folder, Augment(32), 3, seed=5)
    b = Batches(folder, Augment(32), 3, seed=5, workers=2)
    assert a[7].shape == (3, 3, 32, 32)
    assert torch.equal(a[7], a[7]) and not torch.equal(a[7], a[8])
    assert all(torch.equal(x, y) for x, y in zip(b.iterate(2, 6), (a[k] for k in range(2, 6))))


def test_fast_training_lowers_the_loss_and_saves_what_it_returns(data, tmp_path, content):
    seen, cb = recorder()
    out = tmp_path / "stripes.bw"
    model = train_fast(data["stripes"], out, data["photos"], steps=12, seed=0, preview_every=6, callback=cb, **TINY)
    first = np.mean([p.loss for p in seen[:2]])
    last = np.mean([p.loss for p in seen[-2:]])
    assert last < 0.8 * first, [round(p.loss, 1) for p in seen]
    assert set(seen[0].losses) == {"content", "style", "tv"} and seen[-1].step == seen[-1].total == 12
    # the returned model is the file's, bit for bit
    assert torch.equal(load_model(out, device="cpu")(content), model(content))
    card = read_card(out)
    t = card["training"]
    assert card["kind"] == "fast" and card["styles"][0]["name"] == "stripes" and card["styles"][0]["thumbnail"]
    assert t["steps"] == 12 and t["seed"] == 0 and t["data"]["count"] == 4
    assert t["data"]["augmentation"]["crop"] == 32 and t["data"]["augmentation"]["hflip"]
    assert t["data"]["quality_note"].startswith("4 images, each drawn about 6 times: a random 32 px crop")
    assert set(t["final_losses"]) == {"content", "style", "tv"}
    assert (tmp_path / "stripes.step000006.png").is_file() and (tmp_path / "stripes.step000012.png").is_file()
    assert checkpoint_path(out).is_file() and seen[5].image is not None


def test_adain_training_lowers_the_loss(data, tmp_path, content, stripes):
    seen, cb = recorder()
    model = train_adain(tmp_path / "adain.bw", data["photos"], data["paintings"], steps=12, seed=0, lr=1e-3,
                        scale_jitter=(1.0, 1.0), callback=cb, size=32, batch_size=2, device="cpu", workers=0)
    first = np.mean([p.loss for p in seen[:2]])
    last = np.mean([p.loss for p in seen[-2:]])
    assert last < 0.8 * first, [round(p.loss, 3) for p in seen]
    out = model.with_style(stripes)(content[..., :40, :])
    assert out.shape == (1, 3, 40, 64)
    assert read_card(tmp_path / "adain.bw")["training"]["style_data"]["count"] == 1
    # from the CLI: two styles blended, or one per region of the photo
    photo, out = data["photos"] / "p0.png", tmp_path / "o.png"
    mask = tmp_path / "top.png"
    Image.fromarray(np.r_[np.full((20, 48), 255), np.zeros((20, 48))].astype(np.uint8)).save(mask)
    inv = tmp_path / "bottom.png"
    Image.fromarray(255 - np.asarray(Image.open(mask))).save(inv)
    common = ["apply", str(photo), "--model", str(tmp_path / "adain.bw"), "--style", str(data["stripes"]),
              "--style", str(data["dots"]), "-q", "-o", str(out)]
    assert main(common + ["--blend", "3,1"]) == 0
    blended = np.asarray(Image.open(out))
    assert main(common + ["--mask", str(mask), "--mask", str(inv)]) == 0
    assert blended.shape == (40, 48, 3) and not np.array_equal(np.asarray(Image.open(out)), blended)


def test_adain_decoder_starts_from_a_trained_one(data, tmp_path, content, stripes):
    """`init`: the shipped PhotoWCT relu4_1 decoder's convolutions, or another AdaIN decoder's weights."""
    from brushwork.feedforward.networks import AdaINNet
    from brushwork.feedforward.train import init_decoder
    from brushwork.photoreal.decoders import shipped_decoders
    net = AdaINNet()
    init_decoder(net, "photowct")
    theirs = shipped_decoders("cpu").network.decoders["relu4_1"].convs
    assert torch.equal(net.decoder.convs[3][1].weight, theirs[3][1].weight)
    assert torch.allclose(net.decoder.convs[-1][1].weight, 4 * theirs[-1][1].weight)
    with torch.no_grad():   # it starts as a (blurred) photo, not as noise
        photo = content[..., :40, :64]
        recon = net.decode(net.encode(photo)["relu4_1"])
        assert torch.corrcoef(torch.stack([recon.flatten(), photo.flatten()]))[0, 1] > 0.3
    kw = dict(steps=2, seed=0, size=32, batch_size=2, device="cpu", workers=0)
    a = train_adain(tmp_path / "a.bw", data["photos"], data["paintings"], init="photowct", **kw)
    assert a.card["training"]["init"] == "photowct"
    b = AdaINNet()
    init_decoder(b, tmp_path / "a.bw")
    assert all(torch.equal(x, y) for x, y in zip(b.state_dict().values(), a.network.state_dict().values()))
    train_multistyle([data["stripes"], data["dots"]], tmp_path / "m.bw", data["photos"], steps=1, seed=0, **TINY)
    with pytest.raises(InputError, match="starts from an adain or photowct model"):
        train_adain(tmp_path / "c.bw", data["photos"], data["paintings"], init=tmp_path / "m.bw", **kw)


def test_multistyle_trains_and_blends(data, tmp_path, content):
    model = train_multistyle([data["stripes"], data["dots"]], tmp_path / "set.bw", data["photos"], steps=2,
                             seed=0, **TINY)
    assert model.styles == ["stripes", "dots"] and model.network.n_styles == 2
    a = model.with_weights("stripes")(content)
    b = model.with_weights("dots")(content)
    assert a.shape == content.shape and not torch.equal(a, b)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint_path(path), weights_only=True)["networks"]["net"]


def test_resume_continues_bit_exactly(data, tmp_path):
    kw = dict(steps=4, seed=3, checkpoint_every=2, **TINY)
    train_fast(data["stripes"], tmp_path / "straight.bw", data["photos"], **kw)
    train_fast(data["stripes"], tmp_path / "again.bw", data["photos"], **kw)
    train_fast(data["stripes"], tmp_path / "split.bw", data["photos"], **{**kw, "steps": 2})
    resumed = train_fast(data["stripes"], tmp_path / "split.bw", data["photos"], resume=True, **kw)
    straight, again, split = (_weights(tmp_path / n) for n in ("straight.bw", "again.bw", "split.bw"))
    for k in straight:
        assert torch.equal(straight[k], again[k]), k   # same seed, same weights
        assert torch.equal(straight[k], split[k]), k   # 2 + 2 steps == 4 steps
    assert resumed.card["training"]["resumed_at"] == 2 and resumed.card["training"]["steps"] == 4
    # resuming with other settings is refused
    with pytest.raises(InputError, match="different settings"):
        train_fast(data["stripes"], tmp_path / "split.bw", data["photos"], resume=True, **{**kw, "batch_size": 3})


def test_a_checkpoint_of_the_old_one_network_format_resumes(data, tmp_path):
    """Checkpoints written before recipes (version 1: `model`, `optimizer`) still resume, bit-exactly."""
    kw = dict(steps=3, seed=4, **TINY)
    train_fast(data["stripes"], tmp_path / "straight.bw", data["photos"], **kw)
    train_fast(data["stripes"], tmp_path / "old.bw", data["photos"], **{**kw, "steps": 2})
    ck = torch.load(checkpoint_path(tmp_path / "old.bw"), weights_only=True)
    v1 = {k: ck[k] for k in ("format", "kind", "config", "seed", "step", "recent")}
    v1.update(version=1, model=ck["networks"]["net"], optimizer=ck["optimizers"]["adam"])
    torch.save(v1, checkpoint_path(tmp_path / "old.bw"))
    resumed = train_fast(data["stripes"], tmp_path / "old.bw", data["photos"], resume=True, **kw)
    assert resumed.card["training"]["resumed_at"] == 2
    straight, old = _weights(tmp_path / "straight.bw"), _weights(tmp_path / "old.bw")
    assert all(torch.equal(straight[k], old[k]) for k in straight)


def test_a_callback_can_stop_training(data, tmp_path):
    model = train_fast(data["stripes"], tmp_path / "stop.bw", data["photos"], steps=50, seed=0,
                       callback=lambda p: p.step >= 2, **TINY)
    assert model.card["training"]["steps"] == 2


def test_a_time_limit_stops_training_and_resume_goes_on(data, tmp_path, monkeypatch):
    clock = iter(range(0, 10_000, 10))            # every reading of the clock is 10 s later
    monkeypatch.setattr(loop_mod, "time", type("Clock", (), {"perf_counter": staticmethod(lambda: next(clock))}))
    model = train_fast(data["stripes"], tmp_path / "timed.bw", data["photos"], steps=50, seed=0, minutes=0.5, **TINY)
    t = model.card["training"]
    assert 1 <= t["steps"] < 10 and t["planned_steps"] == 50
    monkeypatch.undo()
    done = train_fast(data["stripes"], tmp_path / "timed.bw", data["photos"], steps=t["steps"] + 2, seed=0,
                      resume=True, **TINY)
    assert done.card["training"]["resumed_at"] == t["steps"] and done.card["training"]["steps"] == t["steps"] + 2


def test_python_api_exports():
    for name in ("train_fast", "train_multistyle", "train_adain", "load_model", "save_model", "export_onnx"):
        assert callable(getattr(brushwork, name)), name


# --- bad input: one line, exit 2, before any network is built ---------------------------------

@pytest.fixture
def no_vgg(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("VGG-19 was built: the input was not refused before the work started")
    monkeypatch.setattr(recipes_mod, "vgg19", refuse)


BAD = {
    "empty data folder": (["fast", "--style", "{stripes}", "--data", "{empty}"], "no images"),
    "missing data folder": (["fast", "--style", "{stripes}", "--data", "{root}/nope"], "does not exist"),
    "unreadable style": (["fast", "--style", "{photos}/notes.txt", "--data", "{photos}"], "not an image"),
    "missing style": (["fast", "--style", "{root}/nope.png", "--data", "{photos}"], "no such file"),
    "1x1 style": (["fast", "--style", "{tiny}", "--data", "{photos}"], "too small"),
    "negative style weight": (["fast", "--style", "{stripes}", "--style-weight", "-1"], "zero or positive"),
    "negative steps": (["fast", "--style", "{stripes}", "--steps", "-5"], "at least 1"),
    "zero batch": (["fast", "--style", "{stripes}", "--batch-size", "0"], "at least 1"),
    "size not a multiple": (["fast", "--style", "{stripes}", "--data", "{photos}", "--size", "30"], "multiple of 4"),
    "bad jitter": (["fast", "--style", "{stripes}", "--scale-jitter", "2,1"], "LO <= HI"),
    "one multistyle style": (["multistyle", "--styles", "{stripes}", "--data", "{photos}"], "at least two"),
    "adain empty styles": (["adain", "--content", "{photos}", "--styles", "{empty}"], "no images"),
    "zero minutes": (["fast", "--style", "{stripes}", "--data", "{photos}", "--minutes", "0"], "positive number"),
    "resume without checkpoint": (["fast", "--style", "{stripes}", "--data", "{photos}", "--resume"], "no checkpoint"),
    "no kind": ([], "KIND"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_cli_refuses_bad_training_input(case, data, capsys, no_vgg):
    argv, expected = BAD[case]
    out_arg = ["-o", str(data["out"] / "model.bw")] if argv else []
    argv = ["train", *[a.format(**{k: str(v) for k, v in data.items()}) for a in argv], *out_arg]
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, err
    assert expected in lines[0] and "Traceback" not in err, lines[0]
    assert os.listdir(data["out"]) == []


def test_cli_refuses_an_output_that_is_not_a_model_file(data, capsys, no_vgg):
    code = main(["train", "fast", "--style", str(data["stripes"]), "--data", str(data["photos"]),
                 "-o", str(data["out"] / "model.png")])
    assert code == 2 and ".bw" in capsys.readouterr().err


def test_cli_trains_and_reports(data, tmp_path, capsys):
    out = tmp_path / "cli.bw"
    code = main(["train", "fast", "--style", str(data["stripes"]), "--data", str(data["photos"]), "-o", str(out),
                 "--steps", "2", "--size", "32", "--batch-size", "1", "--style-size", "48", "--seed", "0",
                 "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 0 and out.is_file() and "wrote" in err and "2 steps" in err


def test_bf16_autocast_trains_like_fp32(data, tmp_path):
    """The tolerance bf16 training is held to (BENCHMARKS.md "Training speed"): from the same
    weights a step's losses agree within 1%; over a few steps, the totals within 10% (the two
    runs drift apart like two runs of different machines do)."""
    runs = {}
    for dtype in ("float32", "bfloat16"):
        seen, cb = recorder()
        model = train_fast(data["stripes"], tmp_path / f"{dtype}.bw", data["photos"], steps=4, seed=0, dtype=dtype,
                           callback=cb, **TINY)
        assert model.card["training"]["precision"] == dtype
        runs[dtype] = seen
    fp32, bf16 = runs["float32"], runs["bfloat16"]
    for k, v in fp32[0].losses.items():
        assert abs(bf16[0].losses[k] - v) <= 0.01 * v, (k, v, bf16[0].losses[k])
    for a, b in zip(fp32, bf16):
        assert abs(a.loss - b.loss) <= 0.1 * a.loss, (a.step, a.loss, b.loss)
