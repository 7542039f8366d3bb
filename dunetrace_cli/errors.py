"""Typed errors and the exit codes they map to: the only home of both.

Every failure a user can meet is one of these, carrying one sentence that says
what happened and what to do next. The CLI prints ``message`` on stderr and
exits with ``exit_code``; the MCP server returns the same ``message`` as a tool
error.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1  # reserved for gate commands
    USAGE = 2  # bad flag value, invalid input, ambiguous id, server 422
    AUTH_OR_CONFIG = 3  # 401/403, unreadable config
    NOT_FOUND = 4
    UNAVAILABLE = 5  # unreachable, timed out, 5xx, malformed response
    INTERNAL = 70
    INTERRUPTED = 130


class DunetraceError(Exception):
    """Base of every error meant for a user. ``str(err)`` is the message."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(DunetraceError):
    """The input is wrong: a bad flag value, an id that matches nothing or too much, a 422."""

    exit_code = ExitCode.USAGE


class AmbiguousId(UsageError):
    """A prefix matched more than one id."""

    def __init__(self, message: str, candidates: list[str]) -> None:
        super().__init__(message)
        self.candidates = candidates


class ConfigError(DunetraceError):
    """The configuration file or a setting cannot be used."""

    exit_code = ExitCode.AUTH_OR_CONFIG


class AuthError(DunetraceError):
    """The API rejected the key (401/403)."""

    exit_code = ExitCode.AUTH_OR_CONFIG


class NotFound(DunetraceError):
    """An agent, run or signal does not exist."""

    exit_code = ExitCode.NOT_FOUND


class ApiUnavailable(DunetraceError):
    """The API could not answer: unreachable, timed out, 5xx or a malformed body."""

    exit_code = ExitCode.UNAVAILABLE


class CheckFailed(DunetraceError):
    """A gate command's check did not pass."""

    exit_code = ExitCode.CHECK_FAILED


class InternalError(DunetraceError):
    exit_code = ExitCode.INTERNAL
