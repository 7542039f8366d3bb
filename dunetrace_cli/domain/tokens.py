"""Token-stat windows (customer-api.md §D.3): the server reports 1, 7 and 30 days."""

from __future__ import annotations

DAY_S = 86400
WINDOWS: dict[str, int] = {"1d": DAY_S, "7d": 7 * DAY_S, "30d": 30 * DAY_S}
WINDOW_LABELS = {"1d": "last 24 h", "7d": "last 7 days", "30d": "last 30 days"}
LONGEST_WINDOW_S = max(WINDOWS.values())
