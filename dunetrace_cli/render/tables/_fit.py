"""Tables that fit the terminal without breaking a word.

A :class:`FitTable` is laid out when rich renders it, for the width it is given. Every cell is
one line (``no_wrap``): an id, an enum or a failure type is never split across lines. When the
natural width does not fit, the table's ``plan`` is applied step by step until it does:

- ``("compact", KEY)``: the column switches to its compact cells (``11-24 11:49 1h ago`` -> ``1h ago``),
- ``("drop", KEY)``: the column is left out,
- ``("shrink", KEY)``: the column is cut to what is left, never below its ``min_width``, with an
  ellipsis (or the column's own ``cut`` function, e.g. keep the ``×9`` of ``UNREAD_TOOL_ERROR ×9``);
  ``("shrink", "KEY1 KEY2")`` shares the cut evenly.

A title is printed as its own line above the table (never squeezed into the table's width).

What still does not fit after the plan is cut with an ellipsis by rich; nothing folds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Union

from rich import box
from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

GAP = 2  # columns are separated by two spaces (padding 1 each side, edges unpadded)
ELLIPSIS = "…"

Cell = Union[Text, tuple[Text, Text]]  # a cell, or (full, compact)
Step = tuple[Literal["compact", "drop", "shrink"], str]


def cut_end(text: Text, width: int) -> Text:
    """``text`` cut to ``width`` cells, with an ellipsis when anything was cut."""
    if cell_len(text.plain) <= width:
        return text
    if width <= 1:
        return Text(ELLIPSIS[:width])
    out = text.copy()
    out.truncate(width - 1)
    out.plain = set_cell_size(out.plain, width - 1)
    out.append(ELLIPSIS)
    return out


def cut_keep_suffix(text: Text, width: int) -> Text:
    """Cut the part before the last space and keep the suffix: ``UNREAD_TOOL_E… ×9``."""
    plain = text.plain
    head, sep, tail = plain.rpartition(" ")
    if not sep or cell_len(plain) <= width or cell_len(tail) + 3 > width:
        return cut_end(text, width)
    room = width - cell_len(tail) - 1
    kept = cut_end(Text(head, style=text.style), room)
    kept.append(" " + tail)
    return kept


@dataclass
class Col:
    key: str  # the name the plan uses
    header: str
    justify: Literal["left", "right"] = "left"
    min_width: int = 0  # floor when shrinking (never below the header)
    compact_header: str | None = None
    cut: Callable[[Text, int], Text] = cut_end
    style: str = ""


@dataclass
class FitTable:
    """A one-line-per-row table laid out for the width rich gives it."""

    columns: Sequence[Col]
    rows: list[list[Cell]] = field(default_factory=list)
    plan: Sequence[Step] = ()
    title: str | None = None

    def add_row(self, *cells: Cell) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self.rows.append(list(cells))

    # ----------------------------------------------------------------- layout

    def layout(self, width: int) -> tuple[list[int], dict[int, int], set[int]]:
        """(column indexes shown, width by index, indexes using compact cells) for ``width``."""
        keys = {c.key: i for i, c in enumerate(self.columns)}
        shown = list(range(len(self.columns)))
        compact: set[int] = set()
        widths = {i: self._natural(i, False) for i in shown}
        shrunk: list[int] = []

        def total() -> int:
            return sum(widths[i] for i in shown) + GAP * max(0, len(shown) - 1)

        for action, key in self.plan:
            excess = total() - width
            if excess <= 0:
                break
            indexes = [keys[k] for k in key.split() if keys.get(k, -1) in shown]
            if not indexes:
                continue  # a column this variant of the table does not have, or already dropped
            if action == "compact":
                for i in indexes:
                    compact.add(i)
                    widths[i] = self._natural(i, True)
            elif action == "drop":
                for i in indexes:
                    shown.remove(i)
            elif action == "shrink":  # several keys share the cut evenly
                for n, i in enumerate(indexes):
                    share = -(-excess // (len(indexes) - n))
                    floor = max(self.columns[i].min_width, cell_len(self._header(i, i in compact)))
                    cut = min(share, max(0, widths[i] - floor))
                    widths[i] -= cut
                    excess -= cut
                    if cut:
                        shrunk.append(i)
        # a later drop may have freed more than the earlier cuts took: give it back, in plan order
        for i in shrunk:
            slack = width - total()
            if slack <= 0:
                break
            if i in shown:
                widths[i] = min(self._natural(i, i in compact), widths[i] + slack)
        return shown, widths, compact

    def _header(self, i: int, compact: bool) -> str:
        col = self.columns[i]
        return (col.compact_header or col.header) if compact else col.header

    def _cell(self, row: list[Cell], i: int, compact: bool) -> Text:
        cell = row[i]
        if isinstance(cell, tuple):
            return cell[1] if compact else cell[0]
        return cell

    def _natural(self, i: int, compact: bool) -> int:
        cells = (cell_len(self._cell(row, i, compact).plain) for row in self.rows)
        return max([cell_len(self._header(i, compact)), *cells])

    # ----------------------------------------------------------------- rich protocol

    def build(self, width: int) -> Table:
        shown, widths, compact = self.layout(width)
        tbl = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False, collapse_padding=True)
        for i in shown:
            col = self.columns[i]
            tbl.add_column(
                self._header(i, i in compact), justify=col.justify, no_wrap=True, overflow="ellipsis",
                width=widths[i], style=col.style or None,
            )
        for row in self.rows:
            cells = []
            for i in shown:
                text = self._cell(row, i, i in compact)
                cells.append(self.columns[i].cut(text, widths[i]))
            tbl.add_row(*cells)
        return tbl

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.title:
            yield Text(self.title, style="bold")
        yield self.build(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        shown, widths, _ = self.layout(options.max_width)
        width = sum(widths[i] for i in shown) + GAP * max(0, len(shown) - 1)
        return Measurement(min(width, options.max_width), min(width, options.max_width))


