"""The video pipelines: flicker reduction, no ghosts, scene cuts, resuming, the temporal metric."""
from __future__ import annotations

import json

import numpy as np
import pytest

from brushwork.errors import InputError
from brushwork.metrics import temporal_error, temporal_errors
from brushwork.video import read_frames, stylize_video
from brushwork.video.cache import cache_path
from brushwork.video.fast import Consistent
from video_synth import Flicker, identity, moving_square, shifted, texture, write_clip, write_folder


@pytest.fixture
def clip(tmp_path):
    return write_folder(tmp_path / "clip", shifted(8, (64, 96), (2, 1)))


def test_consistency_lowers_the_temporal_error(clip, tmp_path):
    flick = stylize_video(clip, tmp_path / "per_frame", painter=Flicker(), consistency=0)
    steady = stylize_video(clip, tmp_path / "steady", painter=Flicker(), consistency=0.7)
    assert flick.frames == steady.frames == 8
    e_flick = temporal_error(tmp_path / "per_frame", clip)
    e_steady = temporal_error(tmp_path / "steady", clip)
    assert e_steady < 0.35 * e_flick
    # the first frame is the painting itself; the others still follow their own painting
    first = next(read_frames(tmp_path / "steady")).astype(float)
    assert np.abs(first - next(read_frames(tmp_path / "per_frame"))).max() == 0


def test_no_ghost_behind_fast_motion(tmp_path):
    frames = moving_square(8, (64, 96), step=8)
    src = write_folder(tmp_path / "square", frames)
    stylize_video(src, tmp_path / "out", painter=identity, consistency=0.9)
    for t, (out, inp) in enumerate(zip(read_frames(tmp_path / "out"), frames)):
        diff = np.abs(out.astype(float) - inp).max(-1)
        assert (diff > 40).mean() < 0.01, f"frame {t}: the square left a trail"


def test_a_scene_cut_resets_the_history(tmp_path):
    a = shifted(4, (64, 96), (2, 0), seed=1)
    b = [texture(64, 96, seed=9)[:, ::-1] // 3 + 150] * 4
    src = write_folder(tmp_path / "cut", a + b)
    painter = Flicker()
    result = stylize_video(src, tmp_path / "out", painter=painter, consistency=0.8)
    assert result.cuts == [4]
    out4 = list(read_frames(tmp_path / "out"))[4]
    from video_synth import Flicker as F
    from brushwork.video.fast import to_tensor
    fresh = (F()(to_tensor(b[0]))[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert np.abs(out4.astype(int) - fresh).max() <= 1      # painted afresh, nothing carried over


def test_a_killed_run_resumes_without_redoing_frames(clip, tmp_path):
    whole = tmp_path / "whole"
    stylize_video(clip, whole, painter=Flicker())
    out = tmp_path / "out"
    killed = Flicker(fail_at=5)
    with pytest.raises(KeyboardInterrupt):
        stylize_video(clip, out, painter=killed)
    assert not out.exists()                                   # no partial output
    cache = cache_path(out)
    assert sorted(p.name for p in cache.glob("*.png")) == [f"{i:06d}.png" for i in range(5)]
    assert json.loads((cache / "manifest.json").read_text())["settings"]["method"] == "fast"
    again = Flicker()
    result = stylize_video(clip, out, painter=again)
    assert again.calls == 3 and result.resumed == 5
    assert not cache.exists()
    for a, b in zip(read_frames(out), read_frames(whole)):
        assert np.array_equal(a, b)                           # as if never interrupted


def test_a_stopped_run_writes_nothing_and_keeps_its_frames(clip, tmp_path):
    seen = []

    def stop(p):
        seen.append((p.step, p.total, p.phase, p.fps > 0, p.eta is not None))
        return p.step == 3
    out = tmp_path / "out.mp4"
    assert stylize_video(clip, out, painter=Flicker(), callback=stop) is None
    assert not out.exists() and len(list(cache_path(out).glob("*.png"))) == 3
    assert seen[0] == (0, 8, "paint", False, False)          # the start, before any frame
    assert seen[1] == (1, 8, "paint", True, True)


def test_other_settings_do_not_mix_with_cached_frames(clip, tmp_path):
    out = tmp_path / "out"
    stylize_video(clip, out, painter=Flicker(), callback=lambda p: p.step == 2)
    with pytest.raises(InputError, match="other settings.*consistency"):
        stylize_video(clip, out, painter=Flicker(), consistency=0.5)
    painter = Flicker()
    stylize_video(clip, out, painter=painter, consistency=0.5, restart=True)
    assert painter.calls == 8


def test_keep_frames_and_max_frames(clip, tmp_path):
    out = tmp_path / "out.gif"
    result = stylize_video(clip, out, painter=identity, max_frames=4, keep_frames=True)
    assert result.frames == 4 and out.exists()
    assert len(list(cache_path(out).glob("*.png"))) == 4


def test_video_file_with_audio_end_to_end(tmp_path):
    src = write_clip(tmp_path / "in.mp4", shifted(12, (48, 64)), fps=12, audio="aac")
    result = stylize_video(src, tmp_path / "out.mp4", painter=Flicker())
    assert result.audio and result.frames == 12 and result.size == (48, 64)


def test_temporal_error_of_a_steady_video_is_small(clip):
    frames = list(read_frames(clip))
    assert temporal_error(frames, frames) < 1e-3
    noisy = [np.clip(f.astype(int) + np.random.default_rng(i).integers(-30, 30, f.shape), 0, 255).astype(np.uint8)
             for i, f in enumerate(frames)]
    assert temporal_error(noisy, frames) > 10 * temporal_error(frames, frames)
    assert len(temporal_errors(frames, clip)) == 7


def test_bad_arguments(clip, tmp_path):
    with pytest.raises(InputError, match="consistency"):
        stylize_video(clip, tmp_path / "o", painter=identity, consistency=1.0)
    with pytest.raises(InputError, match="unknown method"):
        stylize_video(clip, tmp_path / "o", painter=identity, method="magic")
    with pytest.raises(InputError, match="not both"):
        stylize_video(clip, tmp_path / "o", painter=identity, preset=3)
    with pytest.raises(InputError, match="needs a style"):
        stylize_video(clip, tmp_path / "o", method="optimize")
    with pytest.raises(InputError, match="is the input"):
        src = write_clip(tmp_path / "in.mp4", shifted(2, (32, 48)))
        stylize_video(src, src, painter=identity)


def test_large_inputs_need_a_size(tmp_path):
    from PIL import Image
    big = tmp_path / "big"
    big.mkdir()
    Image.new("RGB", (3840, 2160), "gray").save(big / "0.png")
    with pytest.raises(InputError, match="larger than Full HD.*--size 1920"):
        stylize_video(big, tmp_path / "o", painter=identity)
    result = stylize_video(big, tmp_path / "o", painter=identity, size=64)
    assert result.size == (36, 64)


def test_consistent_producer_directly():
    frames = shifted(3, (48, 64))
    producer = Consistent(Flicker(), alpha=0.7)
    out0, note0 = producer(frames[0], [])
    assert note0 == {} and out0.shape == (48, 64, 3)
    out1, note1 = producer(frames[1], [(frames[0], (out0 * 255).astype(np.uint8))])
    assert 0.5 < note1["reliable"] <= 1 and not note1.get("cut")


def test_optimize_method_runs_with_a_temporal_loss(tmp_path, stripes):
    src = write_folder(tmp_path / "clip", shifted(3, (32, 48), (2, 1)))
    losses = []
    result = stylize_video(src, tmp_path / "out", style=stripes, method="optimize", steps=4, later_steps=3,
                           long_term=(1, 2), device="cpu", dtype="float32",
                           step_callback=lambda p: losses.append(sorted(p.losses)))
    assert result.frames == 3
    assert "temporal" not in losses[0]                       # the first frame has no past
    assert "temporal" in losses[-1] and "temporal2" in losses[-1]


def still_background(n: int = 8, size: tuple[int, int] = (64, 96), seed: int = 0) -> list[np.ndarray]:
    """A still texture with faint per-frame noise (+-1 level, as a still camera gives), and a bright
    square crossing it at 6 px a frame."""
    rng = np.random.default_rng(seed)
    base = texture(*size, seed=5).astype(np.int16)
    frames = []
    for t in range(n):
        f = np.clip(base + rng.integers(-1, 2, base.shape), 0, 255).astype(np.uint8)
        f[20:36, 4 + 6 * t: 20 + 6 * t] = 250
        frames.append(f)
    return frames


def test_still_areas_stay_still(tmp_path):
    """A painter that answers every input with new strokes: where the input is still, the output
    changes no more than the input does; where the square moves, it is painted afresh."""
    from brushwork.metrics import static_changes
    clip = write_folder(tmp_path / "clip", still_background())
    stylize_video(clip, tmp_path / "out", painter=Flicker(), consistency=0.7)
    rows = static_changes(tmp_path / "out", clip)
    assert all(still > 0.8 for _, _, still in rows)
    assert max(out for out, _, _ in rows) <= 1.5 * max(inp for _, inp, _ in rows)
    frames = [f.astype(float) / 255 for f in read_frames(tmp_path / "out")]
    assert all(np.abs(b[20:36, 4 + 6 * t: 20 + 6 * t] - a[20:36, 4 + 6 * t: 20 + 6 * t]).mean() > 0.05
               for t, (a, b) in enumerate(zip(frames, frames[1:]), start=1))


def test_keep_texture_restores_stroke_energy_without_amplifying_static_areas():
    import cv2
    from brushwork.video.fast import keep_texture
    rng = np.random.default_rng(0)
    a = cv2.GaussianBlur(rng.random((96, 128, 3), dtype=np.float32), (3, 3), 0)
    b = cv2.GaussianBlur(rng.random((96, 128, 3), dtype=np.float32), (3, 3), 0)
    assert np.allclose(keep_texture(a, a), np.clip(a, 0, 1), atol=1e-5)  # the painting agrees: unchanged

    def detail(x):
        return float(((x - cv2.GaussianBlur(x, (5, 5), 0)) ** 2).mean())
    blend = 0.5 * (a + b)  # two unaligned stroke patterns averaged: softer
    assert detail(blend) < 0.7 * detail(a)
    assert detail(keep_texture(blend, a)) > 0.8 * detail(a)  # most of it back
