"""Progress reporting for long copies: a no-op by default; the CLI plugs in rich bars on a TTY."""

from __future__ import annotations

import sys
from typing import Protocol


class Reporter(Protocol):
    """Receives notes and byte progress from pack, verify and install."""

    def note(self, message: str) -> None:
        """A one-line message for the operator (stderr)."""

    def start(self, label: str, total_bytes: int) -> None:
        """A phase that will move `total_bytes` begins."""

    def advance(self, nbytes: int) -> None:
        """`nbytes` more were processed."""

    def finish(self) -> None:
        """The phase ended."""


class Silent:
    """Reports nothing (library default)."""

    def note(self, message: str) -> None:
        del message

    def start(self, label: str, total_bytes: int) -> None:
        del label, total_bytes

    def advance(self, nbytes: int) -> None:
        del nbytes

    def finish(self) -> None:
        pass


class StderrReporter(Silent):
    """Notes on stderr; rich progress bars only when stderr is a terminal."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self._bar: object | None = None
        self._task: object | None = None

    def note(self, message: str) -> None:
        if not self.quiet:
            print(f"garrison: {message}", file=sys.stderr)

    def start(self, label: str, total_bytes: int) -> None:
        if self.quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        bar.start()
        self._task = bar.add_task(label, total=total_bytes)
        self._bar = bar

    def advance(self, nbytes: int) -> None:
        from rich.progress import Progress, TaskID

        if isinstance(self._bar, Progress) and self._task is not None:
            self._bar.advance(TaskID(int(str(self._task))), nbytes)

    def finish(self) -> None:
        from rich.progress import Progress

        if isinstance(self._bar, Progress):
            self._bar.stop()
        self._bar = None
        self._task = None
