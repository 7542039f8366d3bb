"""The wall clock, with one override for reproducible output.

``DUNETRACE_NOW`` (epoch seconds or ISO-8601) pins "now" for relative ages and time
windows; tests and documentation examples use it so "3h ago" is stable.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime


def now() -> float:
    pinned = os.environ.get("DUNETRACE_NOW")
    if pinned:
        try:
            return float(pinned)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
            except ValueError:
                return time.time()
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    return time.time()
