"""The frame cache that makes a video job resumable.

Stylized frames are saved one by one as PNGs in a folder beside the output (`OUT.frames/`),
with a JSON manifest of the settings that made them. A run that finds the folder with the same
settings continues after the last saved frame; other settings are refused rather than mixed
in. Frames are written under a temporary name and renamed, so a killed run never leaves a
half-written frame; they are 8-bit, exactly what the next frame is made from, so a resumed run
gives the same video as one that was never interrupted.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..files import atomic_path

MANIFEST = "manifest.json"
VERSION = 1
_NAME = re.compile(r"^\d{6}\.png$")
_TMP = re.compile(r"^\..*\.tmp$")


def cache_path(output: str | os.PathLike) -> Path:
    """Where the frames of a job writing `output` are kept: `OUT.frames` beside it."""
    p = Path(output)
    return p.with_name(p.name.rstrip("/") + ".frames")


def _normal(settings: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


class FrameCache:
    """Numbered PNG frames plus a manifest in one folder."""

    def __init__(self, folder: str | os.PathLike, settings: dict[str, Any]):
        self.folder = Path(folder)
        self.settings = _normal(settings)

    def open(self, restart: bool = False) -> int:
        """Create or check the folder; return how many frames (0, 1, ... without a gap) are done.

        A folder made with other settings is an InputError unless `restart`, which empties it.
        A folder that is not a frame cache is never touched.
        """
        f = self.folder
        if f.exists() and not f.is_dir():
            raise InputError(f"{f}: exists and is not a folder (it is where the frames of this job are kept)")
        if f.is_dir() and any(f.iterdir()):
            manifest = f / MANIFEST
            if not manifest.is_file() or not self._only_ours():
                raise InputError(f"{f}: holds other files; move them away (this folder keeps the frames of the job)")
            try:
                saved = json.loads(manifest.read_text())
            except (OSError, ValueError):
                saved = {}
            if saved.get("settings") != self.settings or saved.get("version") != VERSION:
                if not restart:
                    diff = sorted(k for k in set(self.settings) | set(saved.get("settings", {}))
                                  if self.settings.get(k) != saved.get("settings", {}).get(k))
                    raise InputError(f"{f}: holds frames made with other settings ({', '.join(diff) or 'version'}); "
                                     "use --restart to discard them, or give another output")
                self.clear(remove_folder=False)
            elif restart:
                self.clear(remove_folder=False)
        try:
            f.mkdir(exist_ok=True)
            self._write_json(f / MANIFEST, {"version": VERSION, "settings": self.settings})
        except OSError as e:
            raise InputError(f"{f}: cannot write ({e.strerror or e})") from None
        return self.done()

    def _only_ours(self) -> bool:
        return all(p.name == MANIFEST or _NAME.match(p.name) or _TMP.match(p.name) for p in self.folder.iterdir())

    def path(self, index: int) -> Path:
        return self.folder / f"{index:06d}.png"

    def done(self) -> int:
        n = 0
        while self.path(n).is_file():
            n += 1
        return n

    def save(self, index: int, frame: np.ndarray) -> None:
        """Store one (H, W, 3) uint8 frame atomically."""
        from PIL import Image
        with atomic_path(self.path(index)) as tmp:
            Image.fromarray(frame).save(tmp, format="PNG", compress_level=1)

    def load(self, index: int) -> np.ndarray:
        from PIL import Image
        with Image.open(self.path(index)) as im:
            return np.asarray(im.convert("RGB"))

    def clear(self, remove_folder: bool = True) -> None:
        """Delete the frames and manifest (only files this class writes), then the folder."""
        if not self.folder.is_dir():
            return
        for p in self.folder.iterdir():
            if p.name == MANIFEST or _NAME.match(p.name) or _TMP.match(p.name):
                p.unlink(missing_ok=True)
        if remove_folder:
            try:
                self.folder.rmdir()
            except OSError:
                pass

    @staticmethod
    def _write_json(path: Path, data: dict) -> None:
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
