"""Tables that fit the terminal: a grid when every column can show its longest word, otherwise one block
per row ("stacked"). Cells wrap or fold; nothing is ever cut to "qwen…"."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from rich.text import Text

# A column narrower than this folds long words rather than forcing the table into stacked form.
FOLD_ABOVE = 24


def _min_width(header: str, cells: Sequence[str]) -> int:
    """The narrowest a column can be without breaking a word: its longest word (capped at FOLD_ABOVE:
    longer words, like server names, may fold)."""
    words = [w for c in (header, *cells) for w in str(c).split()] or [""]
    return min(max(len(w) for w in words), FOLD_ABOVE)


def fits(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> bool:
    """Whether a boxed grid of these columns fits `width` (rich draws 3 characters per column + 1)."""
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in headers]
    need = sum(_min_width(h, c) for h, c in zip(headers, cols, strict=True)) + 3 * len(headers) + 1
    return need <= width


def print_table(
    console: Console,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Sequence[int] = (),
) -> None:
    """Print rows as a grid when it fits the console, else stacked: the first column as a heading and
    `header: value` lines under it. `right` are the indexes of numeric (right-aligned) columns."""
    if fits(headers, rows, console.width):
        t = Table(title=title, title_justify="left")
        for i, h in enumerate(headers):
            t.add_column(h, overflow="fold", justify="right" if i in right else "left")
        for r in rows:
            t.add_row(*(Text(str(c)) for c in r))
        console.print(t)
        return
    console.print(Text(title, style="bold"))
    label = max(len(h) for h in headers[1:]) if len(headers) > 1 else 0
    for r in rows:
        console.print(Text(f"  {r[0]}", style="bold"), overflow="fold")
        for h, c in zip(headers[1:], r[1:], strict=True):
            line = Text(f"    {h:<{label}}  ")
            line.append(str(c))
            console.print(line, overflow="fold")
