"""Terminal output: tables fit the width (grid or stacked, names never cut) and progress shows only for
work longer than a second, only on a terminal."""

from __future__ import annotations

import io
import time

from rich.console import Console

from garrison.cli.progress import working
from garrison.cli.tables import fits, print_table

HEADERS = (
    "server",
    "count",
    "GPUs",
    "CPU",
    "RAM GiB",
    "NVMe TB",
    "PSU W",
    "max W",
    "BTU/h",
    "U",
    "price USD",
)
ROWS = [
    (
        "overnight-document-summarisation-rtx-pro-6000-blackwell",
        "2",
        "1x rtx-pro-6000-blackwell",
        "1x epyc-9124",
        "192",
        "1.92",
        "1900",
        "1,450",
        "4,948",
        "4",
        "22,543-32,834",
    ),
    ("gateway", "2", "-", "1x epyc-9124", "64", "1.92", "500", "370", "1,262", "1", "4,339-7,531"),
]


def _render(width: int, headers=HEADERS, rows=ROWS) -> str:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    print_table(Console(file=buf, width=width, force_terminal=False), "Servers", headers, rows)
    return buf.getvalue()


def _joined(text: str) -> str:
    """The output with line breaks and box characters removed, to find folded names."""
    return "".join(ch for ch in text if ch not in "\n │┃┏┓┗┛━┡┩└┘─┬┴┼╇╈┳┻ ")


def test_wide_terminal_gets_a_grid_with_every_name_whole() -> None:
    out = _render(220)
    assert "┃ server" in out or "server" in out.splitlines()[1]
    assert "…" not in out
    assert ROWS[0][0] in out
    assert max(len(line) for line in out.splitlines()) <= 220


def test_80_columns_stacks_and_never_truncates() -> None:
    out = _render(80)
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert not fits(HEADERS, ROWS, 80)
    for row in ROWS:
        for cell in row:
            assert cell.replace(" ", "") in _joined(out), cell


def test_narrow_table_that_fits_folds_long_words_instead_of_cutting() -> None:
    rows = [("qwen3-coder-480b-a35b-instruct-fp8-on-sglang", "1"), ("chat", "2")]
    out = _render(40, ("deployment", "replicas"), rows)
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 40
    first_column = "".join(line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│"))
    assert rows[0][0] in first_column  # folded over lines, every character kept


def test_progress_only_after_a_second_and_only_on_a_terminal() -> None:
    buf = io.StringIO()
    con = Console(file=buf, force_terminal=True, width=80)
    with working("planning", lambda: "12 candidates", console=con, show_after_s=1.0):
        pass  # quick work: nothing shown
    assert buf.getvalue() == ""
    with working("planning", lambda: "12 candidates", console=con, show_after_s=0.1):
        time.sleep(1.0)
    assert "planning: 12 candidates" in buf.getvalue()
    piped = io.StringIO()
    with working("planning", console=Console(file=piped, force_terminal=False), show_after_s=0.0):
        time.sleep(0.3)
    assert piped.getvalue() == ""
