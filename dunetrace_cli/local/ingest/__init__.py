"""Ingest of SDK events into the local store: validation, run bookkeeping and writes, JSONL sources.

``validate`` mirrors the latest ingest service's request schema; ``writes`` stores a batch in one
transaction (idempotent by ``event_id``); ``sources`` reads JSON Lines files and streams. The names
below are the package's interface (``local serve``, ``local ingest`` and the tests use them).
"""

from dunetrace_cli.local.ingest.event import (
    KNOWN_EVENT_TYPES,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    MAX_ID_CHARS,
    MAX_LINE_BYTES,
    SIDE_TABLE_TYPES,
    TERMINAL_TYPES,
    Event,
    canonical_event_id,
    dumps_compact,
    loads_strict,
)
from dunetrace_cli.local.ingest.sources import LineProblem, OpenedSource, iter_lines, open_source, parse_line
from dunetrace_cli.local.ingest.validate import ValidationFailed, normalize_event, validate_batch
from dunetrace_cli.local.ingest.writes import WriteOutcome, write_events

__all__ = [
    "KNOWN_EVENT_TYPES", "MAX_BATCH_EVENTS", "MAX_BODY_BYTES", "MAX_ID_CHARS", "MAX_LINE_BYTES", "SIDE_TABLE_TYPES",
    "TERMINAL_TYPES", "Event", "LineProblem", "OpenedSource", "ValidationFailed", "WriteOutcome",
    "canonical_event_id", "dumps_compact", "iter_lines", "loads_strict", "normalize_event", "open_source",
    "parse_line", "validate_batch", "write_events",
]  # fmt: skip
