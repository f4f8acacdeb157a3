"""Progress for long work on stderr: a rich spinner with the elapsed time (and a live detail such as
"412 candidates evaluated"), shown only on a terminal and only once the work has taken a second, so
quick runs, pipes and CI logs stay clean."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

SHOW_AFTER_S = 1.0
REFRESH_S = 0.2


@contextmanager
def working(
    label: str,
    detail: Callable[[], str] | None = None,
    console: Console | None = None,
    show_after_s: float = SHOW_AFTER_S,
) -> Iterator[None]:
    """`with working("planning", lambda: f"{n} candidates"):` shows `⠋ planning: 412 candidates (3.2 s)`
    on stderr while the block runs longer than `show_after_s`; nothing when stderr is not a terminal."""
    con = console or Console(stderr=True)
    if not con.is_terminal:
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def text() -> str:
        extra = ""
        if detail is not None:
            try:
                extra = detail()
            except Exception:  # a detail is decoration: never let it break the work
                extra = ""
        return f"{label}{': ' + extra if extra else ''} ({time.monotonic() - start:.1f} s)"

    def run() -> None:
        if done.wait(show_after_s):
            return
        with con.status(text()) as status:
            while not done.wait(REFRESH_S):
                status.update(text())

    thread = threading.Thread(target=run, name="garrison-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=2)
