"""Pieces every table renderer uses: untrusted cells, severities, scores, bars, sparklines, themes.

Every string that came from the server, the store or a file goes through :func:`t` (one line) or
:func:`para` (newlines kept): both pass it through :func:`dunetrace_cli.render.sanitize.clean`
and wrap it in a literal ``Text`` (never parsed as markup, and the consoles have markup off).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Literal

from rich import box
from rich.console import RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from dunetrace_cli.render.sanitize import clean

# No hard-coded white foreground: CRITICAL is the terminal's own colours reversed on red.
SEVERITY_STYLE = {"CRITICAL": "bold reverse red", "HIGH": "bold red", "MEDIUM": "yellow", "LOW": "cyan"}
SEVERITY_SHORT = {"CRITICAL": "CRIT", "HIGH": "HIGH", "MEDIUM": "MED", "LOW": "LOW"}
SPARK = "▁▂▃▄▅▆▇█"
BOX = box.SIMPLE_HEAD


def t(value: Any, style: str | None = None) -> Text:
    """Untrusted text as one literal line: controls, escapes and bidi shown visibly."""
    return Text("—" if value is None or value == "" else clean(value, newlines=False), style=style or "")


def para(value: Any, style: str | None = None) -> Text:
    """Untrusted text that may span lines (explanations, evidence): newlines kept, the rest escaped."""
    return Text("—" if value is None or value == "" else clean(value), style=style or "")


def sev(severity: str) -> Text:
    return t(severity, SEVERITY_STYLE.get(severity.upper(), ""))


def sev_short(severity: str) -> Text:
    return t(SEVERITY_SHORT.get(severity.upper(), severity), SEVERITY_STYLE.get(severity.upper(), ""))


def heading(text: str, detail: str = "") -> Text:
    line = Text(text, style="bold")
    if detail:
        line.append("  ")
        line.append(detail, style="dim")
    return line


def score_text(score: int | None) -> Text:
    if score is None:
        return Text("n/a", style="dim")
    style = "bold green" if score >= 80 else "bold yellow" if score >= 60 else "bold red"
    return Text(f"{score}/100", style=style)


def bar(score: int, maximum: int, width: int = 20) -> Text:
    filled = 0 if maximum <= 0 else round(width * score / maximum)
    ratio = 0 if maximum <= 0 else score / maximum
    style = "green" if ratio >= 0.8 else "yellow" if ratio >= 0.6 else "red"
    line = Text("█" * filled, style=style)
    line.append("░" * (width - filled), style="dim")
    return line


def sparkline(values: Iterable[float]) -> str:
    values = list(values)
    top = max(values, default=0)
    if top <= 0:
        return "·" * len(values)
    return "".join("·" if v <= 0 else SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))] for v in values)


def pct(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def table(*columns: str, title: str | None = None) -> Table:
    """A small key/value table. Columns: '>' right-aligns, '!' never wraps."""
    tbl = Table(
        box=BOX, title=title, title_justify="left", title_style="bold", pad_edge=False, expand=False,
        show_edge=False, collapse_padding=True,
    )
    for column in columns:
        name = column.lstrip(">!")
        justify: Literal["left", "right"] = "right" if ">" in column[:2] else "left"
        keep = "!" in column[:2]
        tbl.add_column(name, justify=justify, overflow="fold", no_wrap=keep, min_width=len(name) if keep else None)
    return tbl


def notes(lines: list[str]) -> list[RenderableType]:
    return [Text("note: " + clean(line), style="dim") for line in lines]


def syntax_theme() -> str:
    """A code theme readable on light and dark terminals: the terminal's own 16 colours.

    ``COLORFGBG`` ("15;0": light on dark) picks the bright or the plain variant; without it the
    dark variant's default foreground is the terminal's own, so it stays readable either way.
    """
    fgbg = os.environ.get("COLORFGBG", "")
    background = fgbg.rsplit(";", 1)[-1] if fgbg else ""
    if background.isdigit() and int(background) in (7, 15):
        return "ansi_light"
    return "ansi_dark"


def code(text: str, language: str | None) -> Syntax:
    """Untrusted code (fixes, evidence) highlighted with the terminal's colours; controls escaped."""
    lang = (language or "text").lower()
    return Syntax(clean(text), "text" if lang in ("", "text", "none") else clean(lang, newlines=False),
                  theme=syntax_theme(), word_wrap=True, background_color="default")
