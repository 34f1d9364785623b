"""The library's messages as a web user should read them. brushwork's errors speak to a
command-line user (flags, commands, file paths); everything the service passes on to a client
(a refused submission, a failed job) goes through `for_web` first: flags become the form's
fields, commands the service's own pages, and the server's file paths the names of the uploads."""
from __future__ import annotations

import re
from pathlib import Path

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"\(see 'brushwork presets'\)", "(see the styles at /api/presets)"),
    (r"\(--preset, --style, --model\)", "(field 'preset', or upload a painting as 'style')"),
    (r"\(--preset\)", "(field 'preset')"),
    (r"\(--style\)", "(upload a painting as 'style')"),
    (r"use --device cpu", "set BRUSHWORK_DEVICE=cpu on the server"),
    (r"--size ([0-9x]+)", r"size \1"),
    (r"--([a-z][a-z-]*)", lambda m: f"'{m.group(1).replace('-', '_')}'"),   # any other flag: the field's name
))
_PATH = re.compile(r"(?<![\w.:/])/(?:[\w.-]+/)+[\w.-]+")    # an absolute path (not a URL's)


def for_web(text: str, files: dict[str, Path] | None = None) -> str:
    """`text` for a web user: `files` maps what the user calls an upload ("photo", "painting")
    to where the server keeps it; any other absolute path is not shown."""
    for what, path in (files or {}).items():
        text = text.replace(str(path), f"the {what}")
    text = _PATH.sub("a file on the server", text)
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text
