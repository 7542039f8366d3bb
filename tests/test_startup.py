"""Start-up: the root builds only the command being run, and parsing needs no pydantic.

The lazy root (cli/lazy.py) lists the commands it has not built from their entries: each line
here is held to the built command's own help. The plain value converter (cli/coerce.py) is held
to typer's pydantic converter on the same values: same result, or the same error sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer._click.exceptions import BadParameter
from typer.core import TyperArgument, TyperOption

from dunetrace_cli.cli import app as app_module
from dunetrace_cli.cli.app import RootGroup, app
from dunetrace_cli.cli.coerce import PlainArgument, PlainOption


def root_group() -> RootGroup:
    root = typer.main.get_command(app)
    assert isinstance(root, RootGroup)
    return root


# ---------------------------------------------------------------- the lazy root


def test_every_entry_line_is_the_built_commands_help() -> None:
    root = root_group()
    for name, entry in root.entries().items():
        built = root.get_command(None, name)  # type: ignore[arg-type]
        assert built is not None and built.name == name
        assert entry.help == built.help, name


def test_the_listing_order_is_the_registration_order() -> None:
    root = root_group()
    names = root.list_commands(None)  # type: ignore[arg-type]
    assert names[:3] == ["agents", "summary", "health"]
    assert names.index("check") < names.index("help") < names.index("signal") < names.index("config")
    assert names[-3:] == ["config", "mcp", "local"]
    assert len(names) == len(set(names)) == 28


def test_a_hand_written_command_needs_no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from dunetrace_cli.cli import commands

    def no_registry() -> Any:
        raise AssertionError("the registry was loaded for `config`")

    monkeypatch.setattr(commands, "entries", no_registry)
    assert set(root_group().entries("config")) == {"config"}


def test_root_help_lists_every_command_without_building_one(invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    from dunetrace_cli.cli import lazy

    def no_build(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("--help built a command")

    monkeypatch.setattr(lazy, "build", no_build)
    result = invoke(["--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    listed = [line.split()[0] for line in result.stdout.split("Commands:", 1)[1].splitlines() if line.strip()]
    assert listed == root_group().list_commands(None)  # type: ignore[arg-type]
    assert "  check      The deploy gate: exit 0 if every agent passes every rule" in result.stdout


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["runs", "--limit", "x"], "Invalid value for '--limit' / '-n': Input should be a valid integer, unable to parse"),
        (["runs", "a", "--limit", "0"], "Invalid value for '--limit' / '-n': Input should be greater than or equal to 1"),
        (["signal", "nope"], "Invalid value for 'SIGNAL_ID'"),
        (["--timeout", "0", "agents"], "Invalid value for '--timeout': Input should be greater than or equal to 0.1"),
        (["agents", "--timeout", "x"], "Invalid value for '--timeout': Input should be a valid number"),
        (["agnets"], "No such command 'agnets'. Did you mean 'agents'?"),
        (["check", "--min-score", "101"], "Invalid value for '--min-score': Input should be less than or equal to 100"),
        (["config", "nope"], "No such command 'nope'."),
    ],
)
def test_bad_arguments_on_lazily_built_commands(invoke, args: list[str], sentence: str) -> None:
    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and sentence in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_help_of_a_group_subcommand(invoke) -> None:
    result = invoke(["help", "local", "ingest"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: dunetrace local ingest ")
    assert "Examples:" in result.stdout


# ---------------------------------------------------------------- the plain converter


def _params() -> dict[str, Any]:
    """Real parameters of the built commands, by '<command> <param name>'."""
    root = root_group()
    found: dict[str, Any] = {}
    for name in ("runs", "signals", "check", "export", "guide", "help", "signal"):
        command = root.get_command(None, name)  # type: ignore[arg-type]
        subs = [command, *getattr(command, "commands", {}).values()]
        for sub in subs:
            for param in sub.params:
                found.setdefault(f"{name} {param.name}", param)
    for param in root.get_params(root.context_class(root, info_name="dunetrace")):  # the help option included
        found[f"root {param.name}"] = param
    return found


PARAMS = _params()
CASES = [
    ("runs limit", ["5", "007", "1", "10000", "0", "10001", "-3", "+5", " 5", "5.0", "1_0", "1e2", "x", "", 20, 7.0, True]),
    ("runs interval", ["1", "1.5", "0.5", "3600", "0.4", "3601", ".5", "5.", "1e1", "nan", "inf", "-0", "x", 5, 5.0]),
    ("root timeout", ["15", "0.1", "600", "0.05", "601", "x", 15, 2.5]),
    ("signal signal_id", ["87", "-1", "0", "x", "8.0", 87]),
    ("runs agent_id", ["rag-agent", "", " spaced ", "é", 5, b"bytes", None]),
    ("signals severity", ["HIGH", "high", "x"]),
    ("check agents", [("a", "b"), ["a"], (), "a", ("a", 5), None]),
    ("help command", [("local", "ingest"), ()]),
    ("export to", ["./out", "/tmp", "", "rel/dir", "-", __file__, "a\x00b", None]),
    ("check min_score", ["0", "100", "101", "-1", "x"]),
    ("root help", [False, None]),  # click's help option (True prints the help and exits)
    ("root debug", [True, False, None, "yes"]),
]


def _outcome(process: Any, param: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", process(param, None, value)
    except BadParameter as exc:
        return "error", exc.message


def _typers_own(param: Any) -> Any:
    """Typer's own ``process_value`` for ``param`` (its pydantic converter)."""
    return next(c for c in type(param).__mro__ if c in (TyperOption, TyperArgument)).process_value


@pytest.mark.parametrize(("key", "values"), CASES, ids=[key for key, _ in CASES])
def test_plain_converter_agrees_with_typers(key: str, values: list[Any]) -> None:
    param = PARAMS[key]
    assert isinstance(param, (PlainOption, PlainArgument)), key  # the root hands out adopted commands
    for value in values:
        mine, theirs = _outcome(type(param).process_value, param, value), _outcome(_typers_own(param), param, value)
        assert mine == theirs, (key, value)
        assert type(mine[1]) is type(theirs[1]), (key, value)


def test_plain_converter_takes_the_common_values_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pydantic(self: Any, ctx: Any, value: Any) -> Any:
        raise AssertionError(f"typer's converter was used for {self.name}={value!r}")

    monkeypatch.setattr(TyperOption, "process_value", no_pydantic)
    monkeypatch.setattr(TyperArgument, "process_value", no_pydantic)
    for key, value, expected in [
        ("runs limit", "40", 40), ("root timeout", "2.5", 2.5), ("runs agent_id", "rag-agent", "rag-agent"),
        ("check agents", ("a", "b"), ["a", "b"]), ("export to", "./out", Path("./out")), ("runs failing", True, True),
        ("root api_url", None, None), ("check agents", None, ()),
    ]:
        assert PARAMS[key].process_value(None, value) == expected, key


def test_typer_itself_is_not_patched() -> None:
    """The plain converter is typer's public option classes subclassed, not a typer method replaced."""
    import typer.core

    root_group()
    assert typer.core._TyperParameter.get_runtime_param.__module__ == "typer.core"
    assert typer.core._TyperParameter.process_value.__module__ == "typer.core"


def test_the_hand_written_entries_are_in_app() -> None:
    names = [entry.name for entry in (*app_module.LATE_COMMANDS, *app_module.GROUPS)]
    assert names == ["check", "doctor", "export", "demo", "help", "config", "mcp", "local"]


# ---------------------------------------------------------------- the cyclic GC during start-up


@pytest.mark.parametrize("args", [["config", "path"], ["guide", "python"], ["agents", "--json"]])
def test_the_gc_is_back_on_once_the_command_works(served, args: list[str], capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """main() turns the cyclic GC off for start-up; every command turns it back on before its work."""
    import gc

    from dunetrace_cli.cli.app import run

    url, _ = served("latest")
    monkeypatch.setenv("DUNETRACE_API_URL", url)
    monkeypatch.setenv("DUNETRACE_CONFIG_DIR", str(tmp_path))
    gc.disable()
    try:
        assert run(args) == 0
        assert gc.isenabled(), args
        assert gc.get_freeze_count() > 0, args  # start-up's objects are out of later collections
    finally:
        gc.unfreeze()
        gc.enable()
    assert capsys.readouterr().out


def test_work_begins_freezes_start_up_only_when_the_gc_was_off() -> None:
    import gc

    from dunetrace_cli.cli._run import work_begins

    gc.unfreeze()
    work_begins()  # on already (a test, an embedding program): nothing frozen, nothing changed
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        work_begins()
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()


def test_main_turns_the_gc_off_for_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from dunetrace_cli.cli import app as app_module

    seen: list[bool] = []
    monkeypatch.setattr(app_module, "run", lambda argv: seen.append(gc.isenabled()) or 0)
    try:
        with pytest.raises(SystemExit) as exit_:
            app_module.main()
    finally:
        gc.enable()
    assert seen == [False] and exit_.value.code == 0
