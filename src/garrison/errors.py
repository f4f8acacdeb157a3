"""Errors that carry the field at fault and the fix; the CLI prints them as one line.

Exit codes (the same in every command): 0 ok, 1 a check or target failed, 2 bad input or usage,
3 escalation (the requirement cannot be met as stated).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ESCALATION = 3


class GarrisonError(Exception):
    """Base error: `field` names what is wrong, `fix` says what to do about it."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, field: str, problem: str, fix: str = "") -> None:
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """`field: problem; fix` on one line, as the CLI prints it."""
        text = f"{self.field}: {self.problem}" if self.field else self.problem
        if self.fix:
            text += f"; {self.fix}"
        return " ".join(text.split())


class InputError(GarrisonError):
    """Bad input or usage (exit 2)."""


class CheckFailed(GarrisonError):
    """A check or target failed (exit 1)."""

    exit_code = EXIT_CHECK_FAILED


class Escalation(GarrisonError):
    """The requirement cannot be met as stated (exit 3); carries the trade-off options."""

    exit_code = EXIT_ESCALATION

    def __init__(self, field: str, problem: str, options: list[str]) -> None:
        self.options = options
        super().__init__(field, problem, "options: " + " | ".join(options) if options else "")
