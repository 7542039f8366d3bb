"""Inserts of many rows with a few statements of many ``VALUES`` rows each, instead of one per row.

``executemany`` runs one SQLite step per row, and Python's sqlite3 releases the GIL around every step: in
`local serve`, where the worker thread writes while the server thread parses requests, each step then
waits for the GIL to come back (a convoy: the writer slowed to the other thread's pace). A statement of
``ROWS`` rows is one step (and binds in C). Full statements share one prepared SQL text (the sqlite3
statement cache keeps it); the rest (fewer than ``ROWS``) go through ``executemany`` of the one-row text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Rows per multi-row statement (x the columns: well under SQLite's default limit of 32,766 variables).
ROWS = 128


def insert_rows(conn: Any, sql: str, rows: Sequence[Sequence[object]]) -> int:
    """Run the one-row ``INSERT ... VALUES (?,...) [ON CONFLICT ...]`` ``sql`` for every row; return the rows
    it changed (``OR IGNORE`` skips count as none). Same rows, order and conflict handling as
    ``executemany(sql, rows)``; any other statement goes through ``executemany`` as it is."""
    if not rows:
        return 0
    head, sep, rest = sql.partition(" VALUES (")
    one, close, tail = rest.partition(")")  # the row's placeholders; then e.g. ON CONFLICT ... DO UPDATE
    if not sep or not close or set(one) - set("?, "):
        return int(conn.executemany(sql, rows).rowcount)
    full = len(rows) - len(rows) % ROWS
    added = 0
    if full:
        many = f"{head} VALUES {','.join([f'({one})'] * ROWS)}{tail}"
        for i in range(0, full, ROWS):
            added += conn.execute(many, [v for row in rows[i : i + ROWS] for v in row]).rowcount
    if full < len(rows):
        added += conn.executemany(sql, rows[full:]).rowcount
    return added
