"""Neural style: the objective falls, the result moves towards the style, and the controls
(colour preservation, masks, blend weights, seeds, callbacks) do what they say."""
import pytest
import torch

import brushwork
from brushwork.image import rgb_to_yiq
from brushwork.metrics import evaluate, gram_distance

FAST = dict(size=64, steps=40, device="cpu", seed=0)


def test_objective_falls_and_result_moves_towards_the_style(content, stripes):
    losses = []
    out = brushwork.stylize(content, stripes, callback=lambda p: losses.append(p.loss), **FAST)
    assert out.shape == (1, 3, *content.shape[-2:]) and 0 <= out.min() and out.max() <= 1
    assert losses[-1] < 0.5 * losses[0]
    assert gram_distance(out, stripes) < 0.5 * gram_distance(content, stripes)


def test_luminance_only_transfer_keeps_the_content_chroma(content, stripes):
    out = brushwork.stylize(content, stripes, preserve_color="luminance", **FAST)
    yiq_out, yiq_content = rgb_to_yiq(out), rgb_to_yiq(content)
    # chroma (I, Q) is the content's, up to clipping to the RGB cube
    assert (yiq_out[:, 1:] - yiq_content[:, 1:]).abs().mean() < 0.01
    # while the luminance did change
    assert (yiq_out[:, :1] - yiq_content[:, :1]).abs().mean() > 0.03


def test_histogram_matching_keeps_the_content_palette(content, stripes):
    plain = brushwork.stylize(content, stripes, **FAST)
    kept = brushwork.stylize(content, stripes, preserve_color="histogram", **FAST)

    def colour_gap(img: torch.Tensor, ref: torch.Tensor) -> float:
        """Distance between the colour means and covariances of two images."""
        a, b = img[0].reshape(3, -1), ref[0].reshape(3, -1)
        return float((a.mean(1) - b.mean(1)).norm() + (torch.cov(a) - torch.cov(b)).norm())

    # the plain result takes on the stripes' red and blue; the recoloured style does not bring them
    assert colour_gap(kept, stripes) > 1.15 * colour_gap(plain, stripes)
    assert colour_gap(kept, content) < colour_gap(plain, content)


def test_mask_confines_the_style_to_its_region(content, stripes):
    mask = torch.zeros(1, 1, *content.shape[-2:])
    w = content.shape[-1]
    mask[..., : w // 2] = 1.0
    out = brushwork.stylize(content, [stripes], masks=[mask], **FAST)
    change = (out - content).abs().mean(dim=(0, 1, 2))  # per column
    left, right = change[: w // 2 - 4].mean(), change[w // 2 + 4:].mean()
    # not more: at 64 px relu5_1 is 4 columns wide, and its taps inside the mask see (and move)
    # pixels well into the other half
    assert left > 1.8 * right


def test_blend_weights_move_the_result_between_two_styles(content, stripes, dots):
    ratios = []
    for wa in (1.0, 0.5, 0.0):
        out = brushwork.stylize(content, [stripes, dots], style_blend=[wa, 1 - wa], **FAST)
        ratios.append(gram_distance(out, stripes) / gram_distance(out, dots))
    assert ratios[0] < ratios[1] < ratios[2]


def test_same_seed_same_result(content, stripes):
    a = brushwork.stylize(content, stripes, init="noise", size=48, steps=5, device="cpu", seed=3)
    b = brushwork.stylize(content, stripes, init="noise", size=48, steps=5, device="cpu", seed=3)
    c = brushwork.stylize(content, stripes, init="noise", size=48, steps=5, device="cpu", seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_callback_reports_and_can_stop(content, stripes):
    seen = []

    def cb(p):
        seen.append(p)
        return p.step == 3

    out = brushwork.stylize(content, stripes, size=64, steps=50, device="cpu", callback=cb)
    assert [p.step for p in seen] == [1, 2, 3]
    assert seen[0].total == 50 and seen[0].image.shape == out.shape
    assert set(seen[0].losses) >= {"content:relu4_2", "style:relu1_1", "tv", "total"}


def test_multiscale_schedule_ends_at_the_requested_size(content, stripes):
    sizes = []
    out = brushwork.stylize(content, stripes, size=(40, 140), steps=2, min_side=64, device="cpu",
                            callback=lambda p: sizes.append(p.size))
    assert out.shape[-2:] == (40, 140)
    assert sizes[0] == (20, 70) and sizes[-1] == (40, 140)


@pytest.mark.parametrize("kwargs, message", [
    (dict(style_weight=-1), "style weight"),
    (dict(style_layers=["relu9_9"]), "unknown layer"),
    (dict(style_blend=[1, 2, 3]), "3 style weights given for 1"),
    (dict(preserve_color="sepia"), "colour preservation"),
    (dict(masks=[torch.ones(1, 1, 10, 10)]), "aspect ratio"),
])
def test_bad_parameters_are_refused_before_work(content, stripes, kwargs, message):
    with pytest.raises(brushwork.InputError, match=message):
        brushwork.stylize(content, stripes, size=64, steps=1, device="cpu",
                          callback=lambda p: pytest.fail("work started"), **kwargs)


def test_style_weight_moves_the_result_from_photo_to_painting(content, stripes):
    """More style weight: monotonically closer to the style's statistics, further from the photo."""
    style, photo = [], []
    for w in (0.3, 3.0, 30.0):   # enough steps that the high weights get where they lead
        out = brushwork.stylize(content, stripes, style_weight=w, **{**FAST, "steps": 100})
        m = evaluate(out, content=content, style=stripes, device="cpu")
        style.append(m["gram_distance"])
        photo.append(m["content_distance"])
    assert style[0] > style[1] > style[2]
    assert photo[0] < photo[1] < photo[2]
    # and the knob has range: 100x the weight brings the style statistics at least 3x closer
    assert style[2] < style[0] / 3


def _edge_jump(img: torch.Tensor) -> float:
    """How much the outermost rows/columns step away from their neighbours, relative to the
    typical step between neighbouring rows/columns inside: a painted border line is well above 1."""
    rows = (img[..., 1:, :] - img[..., :-1, :]).abs().mean(dim=(0, 1, 3))
    cols = (img[..., :, 1:] - img[..., :, :-1]).abs().mean(dim=(0, 1, 2))
    edge = torch.stack([rows[0], rows[-1], cols[0], cols[-1]]).mean()
    inside = torch.cat([rows[2:-2], cols[2:-2]]).median()
    return float(edge / inside)


@pytest.mark.parametrize("style_weight", [1.0, 10.0, 30.0])
def test_no_line_is_painted_along_the_borders(stripes, style_weight):
    flat = torch.empty(1, 3, 48, 64)
    flat[:, 0], flat[:, 1], flat[:, 2] = 0.45, 0.6, 0.85  # a clear sky
    out = brushwork.stylize(flat, stripes, style_weight=style_weight, **FAST)
    assert _edge_jump(out) < 1.5


def test_default_size_never_enlarges_a_small_photo(stripes):
    small = torch.rand(1, 3, 40, 56)
    out = brushwork.stylize(small, stripes, steps=1, device="cpu")
    assert out.shape[-2:] == (40, 56)


def test_default_size_shrinks_only_a_photo_larger_than_the_cap_which_help_states(capsys):
    from brushwork.cli import main
    from brushwork.image import fit
    cap = brushwork.stylize.__kwdefaults__["size"]
    assert fit((600, 900), cap) == (341, 512) and fit((300, 200), cap) == (300, 200)
    with pytest.raises(SystemExit):
        main(["stylize", "--help"])
    assert "at most 512 px" in " ".join(capsys.readouterr().out.split())


def test_a_mask_of_another_size_is_resized_with_a_note(content, stripes):
    h, w = content.shape[-2:]
    small = torch.zeros(1, 1, h // 2, w // 2)
    small[..., : w // 4] = 1.0  # the left half, at half the content's size
    with pytest.warns(brushwork.InputWarning, match="resized"):
        out = brushwork.stylize(content, [stripes], masks=[small], **FAST)
    change = (out - content).abs().mean(dim=(0, 1, 2))
    assert change[: w // 2 - 4].mean() > 1.8 * change[w // 2 + 4:].mean()


def test_a_mask_of_another_aspect_ratio_is_refused(content, stripes):
    h, w = content.shape[-2:]
    with pytest.raises(brushwork.InputError, match="aspect ratio"):
        brushwork.stylize(content, [stripes], masks=[torch.ones(1, 1, h, w // 2)], size=64, steps=1,
                          device="cpu", callback=lambda p: pytest.fail("work started"))
