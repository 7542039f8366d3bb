"""Multi-row inserts: the same rows, order and conflict handling as ``executemany``, in far fewer steps."""

from __future__ import annotations

import sqlite3

import pytest

from dunetrace_cli.local.multirow import ROWS, insert_rows

SQL = "INSERT OR IGNORE INTO t(k, v) VALUES (?,?)"
UPSERT = "INSERT INTO t(k, v) VALUES (?,?) ON CONFLICT(k) DO UPDATE SET v = v || '+' || excluded.v"


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t(seq INTEGER PRIMARY KEY, k TEXT UNIQUE, v TEXT)")
    conn.executemany("INSERT INTO t(k, v) VALUES (?,?)", [("k3", "old"), (f"k{ROWS + 2}", "old")])
    return conn


def _rows(n: int) -> list[tuple[str, str]]:
    rows = [(f"k{i}", f"v{i}") for i in range(n)]
    return rows + rows[: n // 3]  # repeats within the same statement and across statements


@pytest.mark.parametrize("n", [0, 1, ROWS - 1, ROWS, ROWS + 1, 3 * ROWS + 5])
@pytest.mark.parametrize("sql", [SQL, UPSERT])
def test_rows_order_and_conflicts_are_those_of_executemany(n: int, sql: str) -> None:
    ours, theirs = _db(), _db()
    rows = _rows(n)
    added = insert_rows(ours, sql, rows)
    theirs.executemany(sql, rows)
    table = "SELECT seq, k, v FROM t ORDER BY seq"
    assert ours.execute(table).fetchall() == theirs.execute(table).fetchall()
    if sql == SQL:
        assert added == len({k for k, _ in rows} - {"k3", f"k{ROWS + 2}"})


def test_full_statements_are_single_steps_and_the_rest_one_per_row() -> None:
    conn = _db()
    steps: list[str] = []
    conn.set_trace_callback(steps.append)
    rows = [(f"n{i}", "v") for i in range(2 * ROWS + 3)]
    assert insert_rows(conn, SQL, rows) == len(rows)
    inserts = [s for s in steps if s.startswith("INSERT")]
    assert len(inserts) == 2 + 3  # executemany alone: one step per row (2 * ROWS + 3)
