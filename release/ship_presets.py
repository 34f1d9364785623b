"""Turn a trained six-painting multistyle network into brushwork's named presets.

    .venv/bin/python release/ship_presets.py six.bw          # writes brushwork/feedforward/models/paintings.bw

The network must have been trained (`brushwork train multistyle`) on the paintings below, in
this order, from `$BRUSHWORK_DATA/samples/style`. This renames its styles to the preset names,
and writes on its card, per style, the painting's title, painter, date, licence and source (from
`samples/MANIFEST.csv`), so that `brushwork presets` can say what each one is.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from brushwork.feedforward.modelfile import load_model, save_model
from brushwork.feedforward.presets import NAMED_MODEL
from brushwork.training.data import data_dir

# preset name, file in samples/style, title, painter, date
PAINTINGS = (
    ("starry_night", "starry_night.jpg", "The Starry Night", "Vincent van Gogh", "1889"),
    ("wave", "wave.jpg", "The Great Wave off Kanagawa", "Katsushika Hokusai", "c. 1831"),
    ("the_scream", "the_scream.jpg", "The Scream", "Edvard Munch", "1893"),
    ("composition_vii", "composition_vii.jpg", "Composition VII", "Wassily Kandinsky", "1913"),
    ("shipwreck", "shipwreck.jpg", "The Shipwreck of the Minotaur", "J. M. W. Turner", "c. 1810"),
    ("woman_with_hat", "woman_with_hat_matisse.jpg", "Woman with a Hat", "Henri Matisse", "1905"),
)


def manifest() -> dict[str, dict[str, str]]:
    """samples/MANIFEST.csv by file name (style/... rows)."""
    with open(data_dir("samples") / "MANIFEST.csv", newline="") as f:
        return {Path(r["path"]).name: r for r in csv.DictReader(f) if r["path"].startswith("style/")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", type=Path, help="the trained multistyle .bw")
    p.add_argument("-o", "--output", type=Path, default=NAMED_MODEL)
    a = p.parse_args(argv)
    model = load_model(a.model, "cpu")
    card = dict(model.card)
    files = [Path(s).name for s in card["training"]["style_images"]]
    if files != [f for _, f, *_ in PAINTINGS]:
        print(f"error: {a.model} was trained on {files}, not the preset paintings in order", file=sys.stderr)
        return 2
    rows = manifest()
    card["styles"] = [{**old, "name": name, "title": title, "artist": artist, "date": date,
                       "licence": rows[file]["license"], "source": rows[file]["source"]}
                      for old, (name, file, title, artist, date) in zip(card["styles"], PAINTINGS)]
    card["name"] = "paintings"
    save_model(model.network, a.output, card)
    print(f"wrote {a.output}: {', '.join(n for n, *_ in PAINTINGS)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
