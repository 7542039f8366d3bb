"""Typed errors: one class per failure kind, one documented exit code each."""

from __future__ import annotations

import pytest

from dunetrace_cli.client import RouteMissing
from dunetrace_cli.errors import (
    AmbiguousId,
    ApiUnavailable,
    AuthError,
    CheckFailed,
    ConfigError,
    DunetraceError,
    ExitCode,
    InternalError,
    NotFound,
    UsageError,
)


def test_exit_codes_are_the_documented_ones() -> None:
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "CHECK_FAILED": 1,
        "USAGE": 2,
        "AUTH_OR_CONFIG": 3,
        "NOT_FOUND": 4,
        "UNAVAILABLE": 5,
        "INTERNAL": 70,
        "INTERRUPTED": 130,
    }


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (UsageError, 2),
        (ConfigError, 3),
        (AuthError, 3),
        (NotFound, 4),
        (ApiUnavailable, 5),
        (CheckFailed, 1),
        (InternalError, 70),
        (DunetraceError, 70),
    ],
)
def test_each_error_class_carries_its_exit_code(cls: type[DunetraceError], code: int) -> None:
    err = cls("something happened. Do this next.")
    assert err.exit_code == code
    assert str(err) == err.message == "something happened. Do this next."
    assert isinstance(err, DunetraceError)


def test_ambiguous_id_is_a_usage_error_with_candidates() -> None:
    err = AmbiguousId("run prefix 'ab' matches 2 runs", ["ab1", "ab2"])
    assert isinstance(err, UsageError)
    assert err.exit_code == ExitCode.USAGE
    assert err.candidates == ["ab1", "ab2"]


def test_route_missing_is_not_found_and_says_what_to_check() -> None:
    err = RouteMissing("http://localhost:8002", "/v1/nope")
    assert isinstance(err, NotFound)
    assert err.exit_code == ExitCode.NOT_FOUND
    assert err.path == "/v1/nope"
    assert "http://localhost:8002" in err.message and "/v1/nope" in err.message
    assert "DUNETRACE_API_URL" in err.message
