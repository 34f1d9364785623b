"""Image I/O that doesn't surprise: EXIF, alpha, greyscale, 16-bit, formats, sizes, atomic save, colour."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.errors import InputError
from brushwork.image import (combine_luminance, fit, load_image, load_image_alpha, luminance, match_histogram,
                             parse_size, rgb_to_yiq, save_image, yiq_to_rgb)

ORIENTATION = 0x0112


def pixels(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) float array."""
    return t[0].permute(1, 2, 0).numpy()


def blocks(h: int = 32, w: int = 48) -> np.ndarray:
    """An asymmetric uint8 RGB test card: flat colour blocks (JPEG-friendly), red in the top-left."""
    a = np.zeros((h, w, 3), np.uint8)
    a[: h // 2, : w // 2] = (230, 20, 20)
    a[: h // 2, w // 2:] = (20, 200, 40)
    a[h // 2:, : w // 2] = (30, 40, 220)
    a[h // 2:, w // 2:] = (240, 240, 60)
    return a


def png_header(path: Path) -> tuple[int, int, int, int]:
    """(width, height, bit depth, colour type) from a PNG's IHDR."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">IIBB", data[16:26])


# --- EXIF orientation -------------------------------------------------------------------------

@pytest.mark.parametrize("orientation, turns", [(6, -1), (8, 1), (3, 2)])  # np.rot90 turns (+ = counter-clockwise)
@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_exif_orientation_is_honoured(tmp_path, orientation, turns, ext):
    card = blocks()
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    path = tmp_path / f"rotated{ext}"
    Image.fromarray(card).save(path, exif=exif, **({"quality": 95} if ext == ".jpg" else {}))
    got = pixels(load_image(path))
    want = np.rot90(card, turns) / 255.0
    assert got.shape == want.shape
    assert np.abs(got - want).mean() < (0.02 if ext == ".jpg" else 1e-6)


# --- alpha, greyscale, palette ----------------------------------------------------------------

def rgba_card() -> np.ndarray:
    a = np.zeros((16, 24, 4), np.uint8)
    a[..., :3] = blocks(16, 24)
    a[..., 3] = np.linspace(0, 255, 24).round().astype(np.uint8)[None, :]  # transparent -> opaque
    return a


def test_rgba_alpha_separate_and_rgb_composited_on_white(tmp_path):
    card = rgba_card()
    Image.fromarray(card, "RGBA").save(tmp_path / "a.png")
    rgb, alpha = load_image_alpha(tmp_path / "a.png")
    assert rgb.shape == (1, 3, 16, 24) and alpha.shape == (1, 1, 16, 24)
    a = card[..., 3:] / 255.0
    np.testing.assert_allclose(alpha[0, 0].numpy(), a[..., 0], atol=1e-6)
    np.testing.assert_allclose(pixels(rgb), card[..., :3] / 255.0 * a + (1 - a), atol=1e-6)
    assert np.allclose(pixels(rgb)[:, 0], 1.0)  # fully transparent column is white
    assert load_image(tmp_path / "a.png").shape == (1, 3, 16, 24)


@pytest.mark.parametrize("ext", [".png", ".webp", ".tif"])
def test_alpha_round_trips_through_save(tmp_path, ext):
    Image.fromarray(rgba_card(), "RGBA").save(tmp_path / "a.png")
    rgb, alpha = load_image_alpha(tmp_path / "a.png")
    out = save_image(rgb, tmp_path / f"b{ext}", alpha=alpha)
    assert Image.open(out).mode == "RGBA"
    rgb2, alpha2 = load_image_alpha(out)
    lossy = ext == ".webp"
    np.testing.assert_allclose(alpha2.numpy(), alpha.numpy(), atol=0.05 if lossy else 1 / 255)
    # Saved colour is un-composited, so loading again (composite on white) gives the same picture.
    err = np.abs(pixels(rgb2) - pixels(rgb))
    assert (err.mean() < 0.02) if lossy else (err.max() <= 2 / 255)


def test_alpha_is_dropped_for_jpeg(tmp_path):
    Image.fromarray(rgba_card(), "RGBA").save(tmp_path / "a.png")
    rgb, alpha = load_image_alpha(tmp_path / "a.png")
    out = save_image(rgb, tmp_path / "b.jpg", alpha=alpha)
    assert Image.open(out).mode == "RGB"
    assert np.abs(pixels(load_image(out)) - pixels(rgb)).mean() < 0.02


def test_greyscale_gives_three_equal_channels(tmp_path):
    grey = np.tile(np.arange(0, 256, 8, dtype=np.uint8), (20, 1))
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    img, alpha = load_image_alpha(tmp_path / "g.png")
    assert img.shape == (1, 3, 20, 32) and alpha is None
    assert torch.equal(img[:, 0], img[:, 1]) and torch.equal(img[:, 1], img[:, 2])
    np.testing.assert_allclose(img[0, 0].numpy(), grey / 255.0, atol=1e-6)


def test_greyscale_with_alpha_and_palette_with_transparency(tmp_path):
    la = np.dstack([np.full((8, 8), 0, np.uint8), np.full((8, 8), 0, np.uint8)])  # black, fully transparent
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    rgb, alpha = load_image_alpha(tmp_path / "la.png")
    assert torch.all(alpha == 0) and torch.allclose(rgb, torch.ones_like(rgb))
    p = Image.new("P", (8, 8), 1)
    p.putpalette([0, 0, 0, 255, 0, 0])
    p.save(tmp_path / "p.png", transparency=0)
    rgb, alpha = load_image_alpha(tmp_path / "p.png")
    assert alpha is not None and torch.all(alpha == 1)
    assert torch.allclose(rgb[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))


# --- 16-bit ----------------------------------------------------------------------------------

def test_16bit_greyscale_png_keeps_full_precision(tmp_path):
    ramp = np.tile(np.arange(0, 64 * 1000, 1000, dtype=np.uint16), (8, 1))  # dark steps below one 8-bit level
    ramp[0, 0] = 37
    img = Image.fromarray(ramp)
    assert img.mode == "I;16"
    img.save(tmp_path / "g16.png")
    assert png_header(tmp_path / "g16.png")[2] == 16
    t = load_image(tmp_path / "g16.png")
    np.testing.assert_allclose(t[0, 0].numpy(), ramp / 65535.0, atol=1e-7)
    assert torch.equal(t[:, 0], t[:, 2])
    assert len(np.unique(t[0, 0].numpy())) == len(np.unique(ramp))  # not quantised to 8 bits


def test_dark_16bit_greyscale_is_not_mistaken_for_8bit(tmp_path):
    Image.fromarray(np.full((4, 4), 200, np.uint16)).save(tmp_path / "dark.png")
    assert load_image(tmp_path / "dark.png").max().item() == pytest.approx(200 / 65535)


def test_save_16bit_writes_a_real_16bit_png_that_reloads_exactly(tmp_path):
    torch.manual_seed(0)
    img = torch.rand(1, 3, 20, 30, dtype=torch.float64).float()
    out = save_image(img, tmp_path / "c16.png", bits=16)
    assert png_header(out) == (30, 20, 16, 2)  # 16-bit truecolour
    back = load_image(out)
    assert back.shape == img.shape
    assert (back - img).abs().max().item() <= 2 / 65535
    assert len(torch.unique(back)) > 256  # more levels than 8 bits could hold
    assert Image.open(out).mode == "RGB"  # an ordinary PNG for other readers


def test_16bit_rgba_png_keeps_full_precision(tmp_path):
    """Pillow cannot write 16-bit RGBA, so write the PNG by hand (filter 0)."""
    rng = np.random.default_rng(3)
    q = rng.integers(0, 65536, (6, 5, 4), dtype=np.uint16)
    q[..., 3] = 65535
    rows = np.hstack([np.zeros((6, 1), np.uint8), q.astype(">u2").reshape(6, -1).view(np.uint8)])

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    path = tmp_path / "rgba16.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 5, 6, 16, 6, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b""))
    rgb, alpha = load_image_alpha(path)
    np.testing.assert_allclose(pixels(rgb), q[..., :3] / 65535.0, atol=1e-6)
    assert torch.all(alpha == 1)


def test_save_16bit_refuses_alpha_and_other_formats(tmp_path):
    img = torch.rand(1, 3, 8, 8)
    with pytest.raises(InputError, match="16-bit"):
        save_image(img, tmp_path / "a.jpg", bits=16)
    with pytest.raises(InputError, match="16-bit"):
        save_image(img, tmp_path / "a.png", alpha=torch.ones(1, 1, 8, 8), bits=16)
    with pytest.raises(InputError, match="bits"):
        save_image(img, tmp_path / "a.png", bits=12)
    assert list(tmp_path.iterdir()) == []


# --- formats ----------------------------------------------------------------------------------

@pytest.mark.parametrize("ext, tol", [(".png", 0.5 / 255), (".tif", 0.5 / 255), (".jpg", 0.02), (".jpeg", 0.02),
                                      (".webp", 0.02)])
def test_save_load_round_trip(tmp_path, ext, tol):
    img = torch.from_numpy(blocks()).permute(2, 0, 1)[None].float() / 255.0
    out = save_image(img, tmp_path / f"out{ext}")
    assert out == tmp_path / f"out{ext}"
    assert Image.open(out).format == {".jpg": "JPEG", ".jpeg": "JPEG"}.get(ext, ext[1:].upper().replace("TIF", "TIFF"))
    back = load_image(out)
    assert back.shape == img.shape
    err = (back - img).abs()
    assert (err.max() if tol < 0.01 else err.mean()).item() <= tol + 1e-6


def test_in_memory_sources():
    arr = blocks()
    t = load_image(arr)
    assert t.shape == (1, 3, 32, 48) and t.dtype == torch.float32
    assert torch.equal(load_image(Image.fromarray(arr)), t)
    assert torch.equal(load_image(t), t)
    assert torch.allclose(load_image((arr.astype(np.uint16) * 257)), t)
    with pytest.raises(InputError):
        load_image(np.zeros((4, 4, 2)))
    with pytest.raises(InputError):
        load_image(torch.zeros(1, 1, 4, 4))


def test_save_creates_files_like_any_other_program(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    out = save_image(torch.rand(1, 3, 8, 8), tmp_path / "out.png")
    assert out.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # the umask, not mkstemp's 0600


# --- sizes ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("512", 512), ("640x480", (480, 640)), (" 64X48 ", (48, 64)),
                                         (256, 256), ((100, 200), (100, 200)), (None, None), ("16", 16),
                                         ("16384", 16384)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["0", "100000", "0x10", "10x0", "15", "16385", "-5", "abc", "64x", "16x16x16",
                                  "", 0, (0, 10), (16, 100000)])
def test_parse_size_refuses(text):
    with pytest.raises(InputError) as e:
        parse_size(text)
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)


def test_fit():
    assert fit((300, 400), 200) == (150, 200)  # long side, aspect kept
    assert fit((400, 300), 200) == (200, 150)
    assert fit(torch.Size([30, 40]), 80) == (60, 80)  # upscales too
    assert fit((300, 400), (64, 32)) == (64, 32)  # a tuple is exact (H, W)
    assert fit((1000, 10), 100) == (100, 1)  # never a zero side


# --- atomic save ------------------------------------------------------------------------------

def test_failed_save_leaves_existing_file_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    save_image(torch.zeros(1, 3, 16, 16), out)
    before = out.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half an image")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_image(torch.ones(1, 3, 16, 16), out)
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temp file left behind


def test_os_error_while_saving_is_a_one_line_input_error(tmp_path, monkeypatch):
    out = tmp_path / "out.jpg"
    out.write_bytes(b"precious")

    def full_disk(self, fp, *args, **kwargs):
        fp.write(b"\xff\xd8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(InputError, match="No space left on device") as e:
        save_image(torch.ones(1, 3, 16, 16), out)
    assert "\n" not in str(e.value)
    assert out.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["out.jpg"]


def test_save_refuses_bad_output_paths_before_writing(tmp_path):
    img = torch.zeros(1, 3, 8, 8)
    with pytest.raises(InputError, match="unknown output format"):
        save_image(img, tmp_path / "out.bmpx")
    with pytest.raises(InputError, match="does not exist"):
        save_image(img, tmp_path / "missing" / "out.png")
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(InputError, match="folder"):
        save_image(img, tmp_path / "dir.png")
    assert sorted(os.listdir(tmp_path)) == ["dir.png"]


# --- colour -----------------------------------------------------------------------------------

def smooth(seed: int, mean: tuple[float, float, float], spread: float) -> torch.Tensor:
    """A random colour image whose values stay well inside [0, 1] (so no clamping interferes)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.eye(3) + 0.5 * torch.rand(3, 3, generator=g)
    x = torch.einsum("ij,njhw->nihw", mix, torch.randn(1, 3, 24, 24, generator=g)).tanh()
    return torch.tensor(mean).view(1, 3, 1, 1) + spread * x


def test_yiq_round_trip():
    img = torch.rand(2, 3, 9, 7)
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(img)), img, atol=1e-5)
    assert torch.allclose(rgb_to_yiq(torch.ones(1, 3, 1, 1))[0, :, 0, 0], torch.tensor([1.0, 0, 0]), atol=1e-3)
    assert torch.allclose(luminance(img), rgb_to_yiq(img)[:, :1])


def test_match_histogram_gives_reference_mean_and_covariance():
    source = smooth(1, (0.45, 0.5, 0.55), 0.1)
    reference = smooth(2, (0.6, 0.4, 0.35), 0.15)
    out = match_histogram(source, reference)
    assert out.shape == source.shape

    def stats(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = t[0].reshape(3, -1).double()
        return x.mean(1), torch.cov(x)

    (mo, co), (mr, cr) = stats(out), stats(reference)
    assert torch.allclose(mo, mr, atol=1e-4)
    assert torch.allclose(co, cr, atol=1e-4)


def test_combine_luminance_keeps_chroma_of_second_argument():
    luma_src = smooth(3, (0.5, 0.5, 0.5), 0.1)
    chroma_src = smooth(4, (0.55, 0.45, 0.5), 0.05)
    out = combine_luminance(luma_src, chroma_src)
    yiq_out, yiq_l, yiq_c = rgb_to_yiq(out), rgb_to_yiq(luma_src), rgb_to_yiq(chroma_src)
    assert torch.allclose(yiq_out[:, 0], yiq_l[:, 0], atol=1e-5)
    assert torch.allclose(yiq_out[:, 1:], yiq_c[:, 1:], atol=1e-5)


def test_combine_luminance_resizes_the_chroma_source():
    out = combine_luminance(torch.full((1, 3, 16, 24), 0.5), torch.full((1, 3, 8, 12), 0.3))
    assert out.shape == (1, 3, 16, 24)
