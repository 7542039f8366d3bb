"""Timestamps for people: absolute UTC plus a relative age, against a fixed clock."""

from __future__ import annotations

import pytest

from dunetrace_cli import clock
from dunetrace_cli.render import timefmt
from tests.conftest import FIXED_NOW

NOW = float(FIXED_NOW)  # 2026-11-24 12:50:47 UTC


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (0, "just now"),
        (0.4, "just now"),
        (1, "1s ago"),
        (59, "59s ago"),
        (60, "1m ago"),
        (3599, "59m ago"),
        (3600, "1h ago"),
        (86399, "23h ago"),
        (86400, "1d ago"),
        (86400 * 59, "59d ago"),
        (86400 * 60, "2mo ago"),
        (86400 * 400, "13mo ago"),
        (-300, "in 5m"),
        (-7200, "in 2h"),
    ],
)
def test_relative_ages(delta: float, expected: str) -> None:
    assert timefmt.ago(NOW - delta, NOW) == expected


def test_absolute_and_both() -> None:
    assert timefmt.absolute(NOW) == "2026-11-24 12:50:47 UTC"
    assert timefmt.both(NOW - 3600, NOW) == "2026-11-24 11:50:47 UTC (1h ago)"
    assert timefmt.short(NOW - 90, NOW) == "11-24 12:49 1m ago"


def test_a_real_timestamp(datasets) -> None:
    newest = max(a["last_seen"] for a in datasets["latest"]["agents"])  # retry-agent, 11:50:47.0012
    assert timefmt.both(newest, NOW) == "2026-11-24 11:50:47 UTC (59m ago)"


@pytest.mark.parametrize("fn", [timefmt.absolute, lambda ts: timefmt.ago(ts, NOW), lambda ts: timefmt.both(ts, NOW), lambda ts: timefmt.short(ts, NOW)])
def test_missing_timestamps_show_a_dash(fn) -> None:
    assert fn(None) == "—"


def test_out_of_range_timestamps_do_not_crash() -> None:
    assert timefmt.absolute(1e20) == "—"
    assert timefmt.short(1e20, NOW) == "—"


@pytest.mark.parametrize(
    ("seconds", "expected"), [(None, "—"), (0.0123, "12ms"), (0.999, "999ms"), (1.7, "1.7s"), (119.9, "119.9s"), (150, "2.5m")]
)
def test_durations(seconds, expected: str) -> None:
    assert timefmt.duration(seconds) == expected


def test_the_clock_is_pinned_by_dunetrace_now(monkeypatch: pytest.MonkeyPatch) -> None:
    assert clock.now() == NOW  # the suite pins it
    monkeypatch.setenv("DUNETRACE_NOW", "2026-11-24T12:50:47Z")
    assert clock.now() == NOW
    monkeypatch.setenv("DUNETRACE_NOW", "2026-11-24T12:50:47")  # no zone: UTC
    assert clock.now() == NOW
    monkeypatch.setenv("DUNETRACE_NOW", "not a time")
    assert abs(clock.now() - __import__("time").time()) < 5
