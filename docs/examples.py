"""Render the pictures in docs/images from public-domain samples in $BRUSHWORK_DATA.

    .venv/bin/python docs/examples.py            # about 10 minutes on a quiet 2-core CPU
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

import brushwork
from brushwork.image import load_image, resize, save_image

DATA = Path(os.environ.get("BRUSHWORK_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SAMPLES = DATA / "samples"
OUT = Path(__file__).parent / "images"


def sample(kind: str, name: str) -> Path:
    path = SAMPLES / kind / name
    if not path.is_file():
        sys.exit(f"missing {path}: set BRUSHWORK_DATA to the shared data folder")
    return path


def side_by_side(images: list[torch.Tensor], height: int = 256) -> torch.Tensor:
    row = [resize(i, (height, round(i.shape[-1] * height / i.shape[-2]))) for i in images]
    return torch.cat(row, dim=3)


def timed(name: str, fn):
    t = time.perf_counter()
    out = fn()
    print(f"{name}: {time.perf_counter() - t:.0f} s", flush=True)
    return out


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cat, hopper = sample("content", "chelsea.png"), sample("content", "grace_hopper.jpg")
    starry, wave, scream = (sample("style", n) for n in ("starry_night.jpg", "wave.jpg", "the_scream.jpg"))

    out = timed("stylize", lambda: brushwork.stylize(cat, starry, size=384, seed=0))
    save_image(side_by_side([load_image(cat), load_image(starry), out]), OUT / "stylize_cat_starry.png")

    plain = timed("wave", lambda: brushwork.stylize(hopper, wave, size=256, seed=0))
    kept = timed("wave-luminance", lambda: brushwork.stylize(hopper, wave, size=256, seed=0,
                                                            preserve_color="luminance"))
    save_image(side_by_side([load_image(hopper), plain, kept]), OUT / "preserve_color.png")

    left = torch.zeros(1, 1, *load_image(cat).shape[-2:])
    left[..., : left.shape[-1] // 2] = 1
    masked = timed("masks", lambda: brushwork.stylize(cat, [starry, scream], masks=[left, 1 - left],
                                                      size=256, seed=0))
    blend = timed("blend", lambda: brushwork.stylize(cat, [starry, scream], style_blend=[0.5, 0.5],
                                                     size=256, seed=0))
    save_image(side_by_side([masked, blend]), OUT / "masks_and_blend.png")

    tex = timed("texture", lambda: brushwork.texture(starry, size=(192, 384), steps=150, seed=0))
    save_image(tex, OUT / "texture_starry.png")

    recs = [timed(f"reconstruct {t}", lambda t=t: brushwork.reconstruct(hopper, layer=t, size=160, steps=200, seed=0))
            for t in ("relu2_2", "relu3_2", "relu4_2", "relu5_2")]
    save_image(side_by_side([load_image(hopper)] + recs, height=192), OUT / "reconstruct_layers.png")

    mrf = timed("mrf", lambda: brushwork.mrf(cat, starry, size=256, seed=0))
    save_image(side_by_side([load_image(cat), mrf]), OUT / "mrf_cat_starry.png")


if __name__ == "__main__":
    main()
