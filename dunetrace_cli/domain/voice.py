"""Voice-call filters the server accepts (customer-api.md B.10, `/v1/calls`)."""

from __future__ import annotations

COMPLETION_STATUSES = ("natural", "dropped", "escalated")
COST_BUCKETS = ("low", "medium", "high")  # < $0.10 | $0.10-$1 | > $1
