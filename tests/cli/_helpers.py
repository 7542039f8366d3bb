"""Assertions shared by the CLI tests."""

from __future__ import annotations

import json
from typing import Any


def ok(result: Any) -> str:
    """Assert a clean success and return stdout."""
    assert result.exit_code == 0, (result.exit_code, result.stderr)
    assert result.stderr == "", result.stderr
    return result.stdout


def failed(result: Any, code: int) -> str:
    """Assert a clean failure with ``code``: nothing on stdout, no traceback. Returns stderr."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()
    return result.stderr


def envelope(stderr: str) -> dict[str, Any]:
    """The one-line JSON error envelope printed after the message under --json."""
    last = stderr.strip().splitlines()[-1]
    return json.loads(last)["error"]
