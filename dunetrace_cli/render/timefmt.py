"""Timestamps for people: absolute UTC plus a relative age."""

from __future__ import annotations

from datetime import UTC, datetime


def absolute(ts: float | None) -> str:
    if ts is None:
        return "—"
    try:
        return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return "—"


def ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "—"
    delta = now - ts
    future = delta < 0
    delta = abs(delta)
    if delta < 60:
        text = f"{int(delta)}s"
    elif delta < 3600:
        text = f"{int(delta // 60)}m"
    elif delta < 86400:
        text = f"{int(delta // 3600)}h"
    elif delta < 86400 * 60:
        text = f"{int(delta // 86400)}d"
    else:
        text = f"{int(delta // (86400 * 30))}mo"
    if text == "0s":
        return "just now"
    return f"in {text}" if future else f"{text} ago"


def both(ts: float | None, now: float) -> str:
    if ts is None:
        return "—"
    return f"{absolute(ts)} ({ago(ts, now)})"


def short(ts: float | None, now: float) -> str:
    """Compact form for table cells: '11-24 11:50 3h ago' (UTC)."""
    if ts is None:
        return "—"
    try:
        stamp = datetime.fromtimestamp(ts, tz=UTC).strftime("%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "—"
    return f"{stamp} {ago(ts, now)}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}m"
