"""`brushwork` command line: one subcommand per capability, a thin layer over the Python API.

Each command family is a module with `register(subparsers)` that adds its subcommands (each
with `func` set to its handler); `COMMANDS` lists them in the order `--help` shows. Handlers
parse nothing themselves: they call the API and render its result and progress. Errors in what
the user gave (files, sizes, weights, layers) print one line and exit with 2.
"""
from __future__ import annotations

import sys
import warnings
from typing import Any, Sequence

from .. import __version__
from ..errors import BrushworkError, InputWarning
from . import audio, fashion, iterate, oneshot, photo, qr, service, train, translate, video
from .args import EXIT_USAGE, Parser

COMMANDS = (iterate, train, oneshot, photo, video, audio, service, qr, fashion, translate)


def build_parser() -> Parser:
    p = Parser(prog="brushwork", description="Neural style transfer: keep the shape of a photo, paint it "
               "in the style you want.", epilog="Run 'brushwork COMMAND --help' for each command's options.")
    p.add_argument("--version", action="version", version=f"brushwork {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in COMMANDS:
        module.register(sub)
    return p


def _note(command: str) -> Any:
    """A `warnings.showwarning` that prints an `InputWarning` as one line (others as usual)."""
    default = warnings.showwarning

    def show(message: Any, category: type, *rest: Any, **kw: Any) -> None:
        if issubclass(category, InputWarning):
            print(f"brushwork {command}: note: {message}", file=sys.stderr)
        else:
            default(message, category, *rest, **kw)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", InputWarning)
            warnings.showwarning = _note(args.command)
            return args.func(args)
    except BrushworkError as e:
        print(f"brushwork {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print(f"brushwork {args.command}: error: out of memory; try a smaller --size", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"brushwork {args.command}: interrupted", file=sys.stderr)
        return 130
