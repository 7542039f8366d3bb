"""FitTable: one line per row, words never split, the plan applied in order until the table fits."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from dunetrace_cli.render.tables._fit import Col, FitTable, cut_end, cut_keep_suffix


def lines_at(renderable, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None, force_terminal=False, record=True)
    console.print(renderable)
    return [line.rstrip() for line in console.export_text().splitlines()]


def sample(n: int = 5) -> FitTable:
    tbl = FitTable(
        [Col("agent", "AGENT", min_width=12), Col("runs", "RUNS", "right"), Col("top", "TOP FAILURE", min_width=12,
         cut=cut_keep_suffix), Col("spark", "7 DAYS"), Col("seen", "LAST SEEN (UTC)", compact_header="LAST SEEN")],
        plan=[("compact", "seen"), ("drop", "spark"), ("shrink", "top"), ("drop", "seen"), ("shrink", "agent")],
    )
    for i in range(n):
        tbl.add_row(Text(f"langchain-example-agent-{i}"), Text(str(10 * i)), Text(f"UNREAD_TOOL_ERROR ×{i + 9}"),
                    Text("······█"), (Text("11-24 11:49 1h ago"), Text("1h ago")))
    return tbl


@pytest.mark.parametrize("width", [40, 50, 60, 80, 100, 120])
def test_every_row_is_one_line_and_fits(width: int) -> None:
    out = lines_at(sample(), width)
    assert len(out) == 2 + 5  # header, rule, five rows: nothing wrapped
    assert all(len(line) <= width for line in out)


def test_plan_is_applied_in_order() -> None:
    tbl = sample()
    natural = sum(tbl._natural(i, False) for i in range(5)) + 2 * 4
    shown, widths, compact = tbl.layout(natural)
    assert shown == [0, 1, 2, 3, 4] and not compact
    shown, widths, compact = tbl.layout(natural - 1)  # the time goes compact first
    assert compact == {4} and shown == [0, 1, 2, 3, 4]
    shown, _, _ = tbl.layout(natural - 14)  # then the sparkline goes
    assert shown == [0, 1, 2, 4]
    shown, widths, _ = tbl.layout(50)
    assert 3 not in shown and widths[2] >= 12


def test_ids_and_enums_are_never_split_across_lines() -> None:
    out = "\n".join(lines_at(sample(), 60))
    assert "langchain-example-agent-0" in out or "langchain-example-ag…" in out
    for line in out.splitlines()[2:]:
        assert line.startswith("langchain-")  # every row starts with its agent: no continuation lines


def test_cut_keeps_the_count() -> None:
    assert cut_keep_suffix(Text("UNREAD_TOOL_ERROR ×9"), 16).plain == "UNREAD_TOOL_… ×9"
    assert cut_keep_suffix(Text("TOOL_LOOP ×13"), 16).plain == "TOOL_LOOP ×13"
    assert cut_end(Text("run.completed"), 8).plain == "run.com…"
    assert cut_end(Text("abc"), 3).plain == "abc"


def test_rows_must_match_the_columns() -> None:
    with pytest.raises(ValueError):
        sample(0).add_row(Text("only one"))


def test_title_is_its_own_line() -> None:
    tbl = FitTable([Col("a", "A")], title="Spend on runs with each failure type (30 days)")
    tbl.add_row(Text("x"))
    assert lines_at(tbl, 80)[0] == "Spend on runs with each failure type (30 days)"
