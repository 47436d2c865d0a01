"""A one-line text progress bar for the command line (stderr, redrawn in place)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from django.core.management.base import OutputWrapper


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._drawn and now - self._last < 0.2 and done < total:
            return
        self._last = now
        share = done / total if total else 1.0
        filled = int(self.width * share)
        bar = "#" * filled + "." * (self.width - filled)
        self._write(f"\r{self.label} [{bar}] {share:4.0%} {done}/{total} rows")
        self.stream.flush()
        self._drawn = True

    def _write(self, text: str) -> None:
        # Django's OutputWrapper ends every write with a newline unless told otherwise.
        if isinstance(self.stream, OutputWrapper):
            self.stream.write(text, ending="")
        else:
            self.stream.write(text)

    def finish(self) -> None:
        if self._drawn:
            self._write("\n")
            self.stream.flush()
