"""Video in and out: round trips, audio, rotation, frame folders, GIFs, variable frame rates."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from brushwork.errors import InputError
from brushwork.video import io as vio
from brushwork.video.io import VideoWriter, check_output, probe, read_frames, write_video
from video_synth import shifted, write_clip, write_folder


def audio_of(path: Path) -> tuple[str, float] | None:
    """(codec, seconds) of the first audio stream, or None."""
    import av
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        a = c.streams.audio[0]
        frames = list(c.decode(a))
        return a.codec_context.name, sum(f.samples for f in frames) / a.rate


def test_mp4_round_trip_keeps_frames_rate_and_pixels(tmp_path):
    frames = shifted(6, (64, 96))
    out = write_video(tmp_path / "a.mp4", frames, Fraction(12))
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames, info.audio) == (96, 64, 12, 6, False)
    back = list(read_frames(out))
    assert len(back) == 6
    luma = np.array([0.299, 0.587, 0.114])
    err = np.mean([np.abs((a.astype(float) - b) @ luma).mean() for a, b in zip(frames, back)])
    bias = np.mean([(b.astype(float) - a).mean(axis=(0, 1)) for a, b in zip(frames, back)], axis=0)
    assert err < 3.0                      # H.264 at crf 18 (colour is 4:2:0, so compare brightness)
    assert np.abs(bias).max() < 2.0       # BT.709 both ways: no colour cast
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]   # no temp files left


def test_frames_are_resized_on_reading(tmp_path):
    out = write_video(tmp_path / "a.mp4", shifted(3, (64, 96)), 12)
    assert next(read_frames(out, (32, 48))).shape == (32, 48, 3)


def test_audio_is_remuxed(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", shifted(12, (64, 96)), fps=12, audio="aac")
    assert probe(clip).audio
    out = write_video(tmp_path / "out.mp4", read_frames(clip), 12, audio_from=clip)
    codec, seconds = audio_of(out)
    assert codec == "aac" and seconds == pytest.approx(audio_of(clip)[1], abs=0.05)


def test_audio_a_container_cannot_hold_is_reencoded(tmp_path):
    clip = write_clip(tmp_path / "in.mkv", shifted(12, (64, 96)), fps=12, audio="pcm_s16le")
    out = write_video(tmp_path / "out.mp4", read_frames(clip), 12, audio_from=clip)
    codec, seconds = audio_of(out)
    assert codec == "aac" and seconds == pytest.approx(1.0, abs=0.1)


def test_audio_the_muxer_turns_down_is_reencoded(tmp_path):
    clip = write_clip(tmp_path / "in.mkv", shifted(12, (64, 96)), fps=12, audio="libopus")
    out = write_video(tmp_path / "out.mov", read_frames(clip), 12, audio_from=clip)   # mov takes no Opus
    codec, seconds = audio_of(out)
    assert codec == "aac" and seconds == pytest.approx(1.0, abs=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mkv", "out.mov"]


def test_audio_is_cut_to_a_shorter_video(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", shifted(12, (64, 96)), fps=12, audio="aac")
    out = write_video(tmp_path / "out.mp4", list(read_frames(clip))[:6], 12, audio_from=clip)
    assert audio_of(out)[1] == pytest.approx(0.5, abs=0.1)


def test_display_rotation_is_applied(tmp_path):
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[:16, :16] = 255                 # a white block top-left
    clip = write_clip(tmp_path / "phone.mp4", [frame] * 3, rotation=90)
    info = probe(clip)
    assert (info.rotation, info.width, info.height) == (90, 64, 96)
    shown = next(read_frames(info))
    assert shown.shape == (96, 64, 3)
    # turned a quarter counter-clockwise: the top-left block ends up bottom-left
    assert shown[-8, 8].mean() > 200 and shown[8, 8].mean() < 50


def test_frame_folders_in_and_out(tmp_path):
    src = write_folder(tmp_path / "frames", shifted(11, (40, 56)))
    (src / "notes.txt").write_text("not a frame")
    info = probe(src, fps=30)
    assert info.is_folder and (info.frames, info.fps, info.width, info.height) == (11, 30, 56, 40)
    frames = list(read_frames(info))
    assert np.array_equal(frames[10], shifted(11, (40, 56))[10])   # natural order: frame10 after frame9
    out = write_video(tmp_path / "out", frames, 30)
    assert sorted(p.name for p in out.iterdir())[:2] == ["000000.png", "000001.png"]
    assert np.array_equal(next(read_frames(out)), frames[0])
    write_video(out, frames[:2], 30)      # a folder of our own frames is replaced
    assert len(list(out.iterdir())) == 2


def test_gif_out(tmp_path):
    out = write_video(tmp_path / "a.gif", shifted(5, (40, 56)), 10)
    info = probe(out)
    assert (info.width, info.height) == (56, 40)
    assert len(list(read_frames(out))) == 5


def test_variable_frame_rate_is_resampled(tmp_path):
    frames = shifted(10, (32, 48))
    times = [0, 40, 80, 200, 240, 280, 400, 440, 480, 600]          # ms: bursts and gaps
    clip = write_clip(tmp_path / "vfr.mkv", frames, fps=25, pts=times)
    info = probe(clip)
    assert info.variable_rate
    out = list(read_frames(info))
    assert len(out) == pytest.approx(0.64 * float(info.fps), abs=2)   # constant rate over the clip's span


def test_odd_sizes_are_padded_for_h264(tmp_path):
    out = write_video(tmp_path / "odd.mp4", shifted(2, (33, 47)), 12)
    assert (probe(out).width, probe(out).height) == (48, 34)


def test_an_aborted_writer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with VideoWriter(tmp_path / "x.mp4", 12, (32, 48)) as w:
            w.write(shifted(1, (32, 48))[0])
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.mp4", "no such file"),
    (lambda d: (d / "text.mp4").write_text("hello") and d / "text.mp4", "not a video"),
    (lambda d: (d / "empty").mkdir() or d / "empty", "no frames"),
])
def test_bad_inputs(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        probe(make(tmp_path))


def test_a_clip_without_video_is_refused(tmp_path):
    import av
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as c:
        a = c.add_stream("aac", rate=22050)
        a.layout = "mono"
        af = av.AudioFrame.from_ndarray(np.zeros((1, 2048), np.float32), format="fltp", layout="mono")
        af.sample_rate, af.pts = 22050, 0
        for p in list(a.encode(af)) + list(a.encode(None)):
            c.mux(p)
    with pytest.raises(InputError, match="no video stream"):
        probe(path)


def test_a_zero_frame_clip_is_refused(tmp_path):
    import av
    path = tmp_path / "zero.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=12)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        c.start_encoding()                # a header, then no frames at all
    with pytest.raises(InputError, match="no video"):
        probe(path)


def test_a_truncated_clip_is_refused(tmp_path):
    clip = write_clip(tmp_path / "in.mp4", shifted(6, (64, 96)))
    data = clip.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError):
        list(read_frames(tmp_path / "cut.mp4"))


def test_outputs_are_checked_before_work(tmp_path):
    with pytest.raises(InputError, match="cannot write .avi"):
        check_output(tmp_path / "x.avi")
    busy = tmp_path / "mine"
    busy.mkdir()
    (busy / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(InputError, match="other files"):
        check_output(busy)
    with pytest.raises(InputError, match="does not exist"):
        check_output(tmp_path / "no" / "x.mp4")
    assert check_output(tmp_path / "x.mp4") == "mp4" and check_output(tmp_path / "v1.5") == "folder"


def test_a_missing_encoder_is_one_line(tmp_path, monkeypatch):
    import av

    real = av.codec.Codec

    def codec(name, mode="r"):
        if name == "libx264" and mode == "w":
            raise av.codec.codec.UnknownCodecError(name)
        return real(name, mode)
    monkeypatch.setattr(av.codec, "Codec", codec)
    with pytest.raises(InputError, match="no libx264 encoder"):
        check_output(tmp_path / "x.mp4")
    assert vio.check_output(tmp_path / "x.gif") == "gif"
