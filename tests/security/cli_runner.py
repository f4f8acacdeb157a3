"""Run `garrison` commands in this process, as the console script does, with a hang limit.

In-process so that a thousand fuzz cases take minutes, not an interpreter start each; the entry
point is the real one (`garrison.cli.main`), so exit codes and stderr are what a user sees.
"""

from __future__ import annotations

import contextlib
import io
import signal
from dataclasses import dataclass
from types import FrameType

from garrison.cli import main

HANG_S = 60  # the definition of a hang


class Hang(BaseException):  # a BaseException, so the CLI's `except Exception` cannot hide it
    """The command ran longer than HANG_S."""


@dataclass(frozen=True)
class Outcome:
    argv: tuple[str, ...]
    code: int | None  # None: it hung
    stdout: str
    stderr: str

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr or "internal error" in self.stderr

    def ok(self) -> bool:
        """Exit 0, 2 or 3 and no traceback; garrison's own errors are one line."""
        if self.code not in (0, 2, 3) or self.traceback:
            return False
        own = [line for line in self.stderr.splitlines() if line.startswith("garrison: ")]
        return len(own) <= 1


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Hang()


def run_cli(*argv: str, hang_s: int = HANG_S) -> Outcome:
    """`garrison ARGV` in-process: its exit code (None when it hung), stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(hang_s)
    code: int | None
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(argv))
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Hang:
        code = None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return Outcome(tuple(argv), code, out.getvalue(), err.getvalue())
