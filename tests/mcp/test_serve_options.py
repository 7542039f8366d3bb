"""One option table (cli/serve_options.py) for `dunetrace mcp serve`: the Typer command is built from it, the
fast path parses argv with it, `dunetrace-mcp` takes the same options; every case here is generated from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from dunetrace_cli.cli import mcp_cmd, mcp_serve
from dunetrace_cli.cli.serve_options import ROOT, SERVE, Opt, defaults

SAMPLE = {"api_url": "http://127.0.0.1:9", "profile": "staging", "host": "localhost", "token_env": "MY_TOKEN"}
BY_KIND = {"str": "x.test", "int": "7", "float": "2.5", "list": "a.test"}


def _command(*path: str) -> Any:
    from dunetrace_cli.cli.app import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.get_command(None, name)  # type: ignore[attr-defined]
    return command


def _by_name(command: Any) -> dict[str, Any]:
    return {p.name: p for p in command.params}


def _check_param(param: Any, opt: Opt) -> None:
    assert set(param.opts + param.secondary_opts) == set(opt.decls), opt.name
    assert param.default == opt.default, opt.name
    assert (param.is_flag, param.multiple) == (opt.kind == "flag", opt.kind == "list"), opt.name
    assert (param.min, param.max) == (opt.min, opt.max), opt.name
    element = param.type_descriptor.annotation
    assert element == (list[str] if opt.kind == "list" else opt.python_type), opt.name


def test_the_typer_serve_command_is_the_table() -> None:
    params = _by_name(_command("mcp", "serve"))
    assert list(params) == [opt.name for opt in SERVE]  # nothing more, in the table's order (its --help)
    for opt in SERVE:
        _check_param(params[opt.name], opt)
        assert params[opt.name].metavar == opt.metavar and params[opt.name].help == opt.help


def test_the_root_callback_declares_the_tables_root_options() -> None:
    """cli/app.py declares the root options itself (every command reads them); they must be ROOT's."""
    params = _by_name(_command())
    for opt in ROOT:
        _check_param(params[opt.name], opt)


def _forms(opt: Opt) -> list[list[str]]:
    """Every spelling of ``opt`` with a sample value: ``--x v``, ``--x=v``, ``-xv``; a list option twice."""
    if opt.kind == "flag":
        return [[decl] for decl in opt.decls]
    value = SAMPLE.get(opt.name, BY_KIND[opt.kind])
    forms = []
    for decl in opt.decls:
        forms += [[decl, value], [f"{decl}={value}" if decl.startswith("--") else f"{decl}{value}"]]
        if opt.kind == "list":
            forms.append([decl, value, decl, "b.test"])
    return forms


def _expected(opt: Opt, form: list[str]) -> Any:
    if opt.kind == "flag":
        return True
    value = SAMPLE.get(opt.name, BY_KIND[opt.kind])
    if opt.kind == "list":
        return [value, "b.test"][: (len(form) + 1) // 2]
    return {"int": int, "float": float, "str": str}[opt.kind](value)


CASES = [("root", opt, form) for opt in ROOT for form in _forms(opt)] + [
    ("serve", opt, form) for opt in SERVE for form in _forms(opt)
]


def _parse_both(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    from dunetrace_cli.cli.app import run

    seen: list[tuple[Any, Any]] = []
    monkeypatch.setattr(mcp_serve, "serve_with", lambda settings, opts: seen.append((settings, opts)))
    monkeypatch.setattr(mcp_cmd, "serve_with", lambda settings, opts: seen.append((settings, opts)))
    assert mcp_serve.parse_fast(argv) is not None, argv  # the fast path takes it, and so does Typer
    assert mcp_serve.fast_serve(argv) == 0
    assert run(argv) == 0
    assert len(seen) == 2
    return seen[0], seen[1]


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[profiles.staging]\napi_url = "http://127.0.0.1:6"\n')
    monkeypatch.setenv("DUNETRACE_CONFIG_DIR", str(tmp_path))
    monkeypatch.delenv("DUNETRACE_DEBUG", raising=False)


@pytest.mark.parametrize(("where", "opt", "form"), CASES, ids=[f"{w} {' '.join(f)}" for w, _, f in CASES])
def test_fast_path_and_typer_take_each_option_alike(where: str, opt: Opt, form: list[str], config: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    argv = [*form, "mcp", "serve"] if where == "root" else ["mcp", "serve", *form]
    fast, full = _parse_both(argv, monkeypatch)
    assert fast == full
    settings, opts = fast
    if where == "serve":
        assert getattr(opts, opt.name) == _expected(opt, form)
    elif opt.name == "debug":
        assert opts.debug is True
    else:
        assert opts.settings_overrides[opt.name] == _expected(opt, form)
        assert getattr(settings, opt.name) == (SAMPLE["api_url"] if opt.name == "api_url" else _expected(opt, form))


def test_the_defaults_are_the_tables(config: None, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, full = _parse_both(["mcp", "serve"], monkeypatch)
    assert fast == full
    _, opts = fast
    assert {opt.name: getattr(opts, opt.name) for opt in SERVE} == defaults(SERVE, {})
    assert opts.settings_overrides == {opt.name: None for opt in ROOT if opt.name != "debug"}


@pytest.mark.parametrize(("opt", "form"), [(o, f) for o in SERVE for f in _forms(o)],
                         ids=[" ".join(f) for o in SERVE for f in _forms(o)])
def test_dunetrace_mcp_takes_the_same_options(opt: Opt, form: list[str], config: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    monkeypatch.setattr(mcp_serve, "serve_with", lambda settings, opts: seen.append(opts))
    mcp_serve.legacy_main(form)
    mcp_serve.fast_serve(["mcp", "serve", *form])
    legacy, fast = seen
    assert {o.name: getattr(legacy, o.name) for o in SERVE} == {o.name: getattr(fast, o.name) for o in SERVE}
    assert getattr(legacy, opt.name) == _expected(opt, form)
