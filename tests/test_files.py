"""atomic_path: the target is replaced whole or not at all, and nothing is left beside it."""
from __future__ import annotations

import pytest

from brushwork.errors import InputError
from brushwork.files import atomic_path


def test_success_replaces_the_target_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.txt.")
        tmp.write_text("new")
        assert target.read_text() == "old"          # readers see the old file until the rename
    assert target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_failure_keeps_the_target_and_removes_the_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_os_errors_become_one_line_input_errors(tmp_path):
    with pytest.raises(InputError, match=r"missing/out.bin: cannot write checkpoint \("):
        with atomic_path(tmp_path / "missing" / "out.bin", what="checkpoint") as tmp:
            tmp.write_bytes(b"x")


def test_suffix_is_kept_for_writers_that_choose_a_format_by_name(tmp_path):
    with atomic_path(tmp_path / "clip.mp4", suffix=".mp4") as tmp:
        assert tmp.suffix == ".mp4"
        tmp.write_bytes(b"x")
