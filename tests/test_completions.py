"""The shipped completion scripts match what the installed CLI generates."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dunetrace_cli.cli.app import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("shell", "name"), [("bash", "dunetrace.bash"), ("zsh", "_dunetrace"), ("fish", "dunetrace.fish")]
)
def test_completion_script_is_current(shell: str, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    result = CliRunner().invoke(app, ["--show-completion", shell], prog_name="dunetrace")
    assert result.exit_code == 0, result.output
    shipped = (ROOT / "completions" / name).read_text()
    assert "_DUNETRACE_COMPLETE" in shipped
    assert result.stdout == shipped, f"completions/{name} is stale: run scripts/gen_completions.sh"
