"""The `dunetrace` entry point: what happens before a command runs (argument errors, exit codes)."""

from __future__ import annotations

import json

import pytest

from dunetrace_cli.cli.app import run


def test_unknown_option_exits_2_with_usage_and_json_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["agents", "--bogus", "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "No such option: --bogus" in err
    envelope = json.loads(err.strip().splitlines()[-1])
    assert envelope == {"error": {"code": "usage", "exit_code": 2, "message": "No such option: --bogus"}}
    assert "Traceback" not in err


def test_bad_value_without_json_has_no_envelope(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["signal", "not-a-number"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "SIGNAL_ID" in err and '"error"' not in err


def test_version_and_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("dunetrace-cli ")
    assert run(["--help"]) == 0
    assert "summary" in capsys.readouterr().out


def test_command_failure_code_passes_through(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--api-url", "http://127.0.0.1:1", "--timeout", "2", "agents"]) == 5
    err = capsys.readouterr().err
    assert "unreachable at http://127.0.0.1:1" in err
