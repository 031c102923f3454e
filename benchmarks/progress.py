"""Progress on stderr: a rich progress bar when rich is installed (the `bench` extra),
plain lines otherwise, so that the quick smoke run needs nothing beyond `[test]`."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any


def say(message: str, style: str = "") -> None:
    """One line on stderr, coloured when rich is there."""
    try:
        from rich.console import Console
    except ImportError:
        print(message, file=sys.stderr, flush=True)
        return
    Console(stderr=True).print(f"[{style}]{message}" if style else message, highlight=False)


class Progress:
    """`with Progress(total) as p: p.step("..."); ...; p.done()`."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0
        self.started = time.monotonic()
        self._rich: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress
        except ImportError:
            return self
        self._rich = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self._rich.__enter__()
        self._task = self._rich.add_task("starting", total=self.total)
        return self

    def step(self, description: str) -> None:
        """A measurement begins."""
        if self._rich is not None:
            self._rich.update(self._task, description=description)
        else:
            elapsed = time.monotonic() - self.started
            print(
                f"[{self.count + 1}/{self.total} {elapsed:5.0f}s] {description}",
                file=sys.stderr,
                flush=True,
            )

    def done(self) -> None:
        """A measurement ended (measured, skipped or failed)."""
        self.count += 1
        if self._rich is not None:
            self._rich.advance(self._task)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._rich is not None:
            self._rich.__exit__(exc_type, exc, tb)
