"""Matplotlib charts as accessible, deterministic inline SVG (Agg backend, no external resources)."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

_RC: Any = {
    "svg.hashsalt": "garrison",  # fixed ids: the same design renders byte-identical SVG
    "svg.fonttype": "none",  # text stays text: searchable, read by screen readers, no embedded fonts
    "text.parse_math": False,  # "$" in labels is a dollar sign, not TeX
    # tick labels as plain numbers: no mathtext ("$\\mathdefault{10^{3}}$" printed raw when parse_math is
    # off), no "1e6" offset text, no scientific notation
    "axes.formatter.use_mathtext": False,
    "axes.formatter.useoffset": False,
    "axes.formatter.limits": (-9, 12),
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
COLOURS = ("#1f5aa6", "#d9731a", "#2e8b57", "#b03a48", "#6a4c93", "#5f6b73", "#c9a227")


@dataclass(frozen=True)
class Series:
    """One line or bar group: a label and its x/y values."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    dashed: bool = False


def _plain_number(v: float, _pos: object = None) -> str:
    """A tick label without mathtext: 1,000 / 20 / 0.5."""
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


def _svg(fig: Figure, chart_id: str, title: str, desc: str) -> str:
    """The figure as an inline <svg role="img"> with <title>/<desc>; ids prefixed per chart."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: it is inlined in HTML
    svg = re.sub(r'id="([^"]+)"', rf'id="{chart_id}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{chart_id}-\1)", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', rf'xlink:href="#{chart_id}-\1"', svg)
    head = f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" '
    svg = svg.replace("<svg ", head, 1)
    first_close = svg.index(">") + 1
    return (
        svg[:first_close]
        + f'<title id="{chart_id}-title">{html.escape(title)}</title>'
        + f'<desc id="{chart_id}-desc">{html.escape(desc)}</desc>'
        + svg[first_close:]
    )


def line_chart(
    chart_id: str,
    title: str,
    desc: str,
    xlabel: str,
    ylabel: str,
    series: Sequence[Series],
    hline: tuple[float, str] | None = None,
    vline: tuple[float, str] | None = None,
    logy: bool = False,
    money: bool = False,
) -> str:
    """Lines with markers; optional horizontal target and vertical marker; `money` formats y as $."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.0, 3.6))
        for i, s in enumerate(series):
            ax.plot(
                list(s.x),
                list(s.y),
                marker="o" if len(s.x) < 30 else None,
                markersize=3,
                linestyle="--" if s.dashed else "-",
                color=COLOURS[i % len(COLOURS)],
                label=s.label,
            )
        if hline is not None:
            ax.axhline(hline[0], color="#b03a48", linestyle=":", linewidth=1.2, label=hline[1])
        if vline is not None:
            ax.axvline(vline[0], color="#5f6b73", linestyle=":", linewidth=1.2, label=vline[1])
        if logy:
            ax.set_yscale("log")
            # LogFormatterSciNotation writes mathtext; plain "1,000" / "0.5" labels at 1-2-5 steps instead
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(_plain_number))
            ax.yaxis.set_minor_formatter(NullFormatter())
        if money:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"${v:,.0f}"))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8, loc="best")
        return _svg(fig, chart_id, title, desc)


def stacked_bars(
    chart_id: str, title: str, desc: str, xlabel: str, categories: Sequence[str], stacks: Sequence[Series]
) -> str:
    """Horizontal stacked bars: one bar per category, one colour per stack (x is unused)."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.55 * len(categories)))
        left = [0.0] * len(categories)
        for i, s in enumerate(stacks):
            ax.barh(list(categories), list(s.y), left=left, color=COLOURS[i % len(COLOURS)], label=s.label)
            left = [a + b for a, b in zip(left, s.y, strict=True)]
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.invert_yaxis()
        ax.legend(fontsize=8, ncol=min(len(stacks), 4), loc="upper center", bbox_to_anchor=(0.5, -0.45))
        return _svg(fig, chart_id, title, desc)


def grouped_bars(
    chart_id: str, title: str, desc: str, ylabel: str, categories: Sequence[str], groups: Sequence[Series]
) -> str:
    """Vertical bars side by side per category (e.g. predicted vs measured)."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.0, 3.6))
        width = 0.8 / max(len(groups), 1)
        for i, g in enumerate(groups):
            xs = [j + (i - (len(groups) - 1) / 2) * width for j in range(len(categories))]
            ax.bar(xs, list(g.y), width=width, color=COLOURS[i % len(COLOURS)], label=g.label)
        ax.set_xticks(list(range(len(categories))), list(categories), rotation=15, ha="right")
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel("metric")
        ax.legend(fontsize=8)
        return _svg(fig, chart_id, title, desc)
