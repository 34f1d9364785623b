"""The one progress renderer: any `Progress` (steps, tiles, images, frames, phases) as a bar."""
from __future__ import annotations

import sys
from typing import Any, Callable

from ..progress import Progress


def losses_text(p: Progress) -> str:
    """'content 1.2  style 3.4': the named losses of a report."""
    return "  ".join(f"{k} {v:.4g}" for k, v in p.losses.items())


class ProgressBar:
    """Draws Progress reports as a tqdm bar on stderr: one bar per phase, counting `p.unit`s.

    A bar starts at the first report's step (work resumed from an earlier run is counted, not
    timed) and is drawn only for work of at least two units. `describe` gives the text beside
    the bar (default: the named losses).
    """

    def __init__(self, quiet: bool = False, describe: Callable[[Progress], str] = losses_text):
        self.quiet, self.describe = quiet, describe
        self.bar: Any = None
        self.phase: str | None = None

    def __call__(self, p: Progress) -> None:
        if self.quiet or p.total < 2:
            return
        if self.bar is None or p.phase != self.phase:
            from tqdm import tqdm
            self.close()
            self.phase = p.phase
            self.bar = tqdm(total=p.total, initial=min(p.step, p.total), unit=p.unit, desc=p.phase or None,
                            dynamic_ncols=True, file=sys.stderr)
        self.bar.total = p.total
        text = self.describe(p)
        if text:
            self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(p.step - self.bar.n)

    def note(self, text: str) -> None:
        """Replace the text beside the bar (e.g. the steps within one frame)."""
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def write(self, line: str) -> None:
        """Print a line on stderr without breaking the bar."""
        if self.bar is None:
            print(line, file=sys.stderr)
        else:
            self.bar.write(line, file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
