"""Helpers for CLI tests: run `brushwork.cli.main` in-process and check a one-line refusal."""
from __future__ import annotations

import os
from pathlib import Path

from brushwork.cli import main

OUTPUT_BYTES = b"an earlier result that must survive"


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """brushwork.cli.main in-process: (exit code, stdout, stderr)."""
    try:
        code = main(argv)
    except SystemExit as e:  # argparse errors exit through SystemExit
        code = e.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_refused(code: int, out: str, err: str, files: dict[str, str]) -> str:
    """Exit 2, one non-empty line on stderr, no traceback, output untouched and nothing left beside it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert "Traceback" not in out + err
    assert lines[0].startswith("brushwork"), lines[0]
    assert Path(files["out"]).read_bytes() == OUTPUT_BYTES
    assert os.listdir(files["out_dir"]) == ["out.png"]
    return lines[0]
