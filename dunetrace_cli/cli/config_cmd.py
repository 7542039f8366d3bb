"""`dunetrace config`: show, set, use, path. The key is masked unless --reveal."""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from dunetrace_cli.cli._options import JsonOpt
from dunetrace_cli.cli._run import guarded, options
from dunetrace_cli.cli.complete import source as complete_source
from dunetrace_cli.config import (
    DEFAULT_PROFILE,
    KEYS,
    ConfigFile,
    config_path,
    load_settings,
    mask_key,
    redact_url,
    validate_profile_name,
    validate_value,
)
from dunetrace_cli.errors import UsageError

app = typer.Typer(help="Show and change settings (api_url, api_key, timeout) and profiles.", no_args_is_help=True)


def _out():
    from dunetrace_cli.render.console import make_console

    return make_console()


@app.command("show")
def show(
    ctx: typer.Context,
    reveal: bool = typer.Option(False, "--reveal", help="Print the API key in full."),
    json_: JsonOpt = False,
) -> None:
    """The settings in effect, where each comes from, and the profiles in the file."""

    def body() -> None:
        opts = options(ctx)
        settings = load_settings(api_url=opts.api_url, timeout=opts.timeout, profile=opts.profile)
        cfg = ConfigFile.load(config_path())
        key = settings.api_key if reveal else mask_key(settings.api_key)
        data: dict[str, Any] = {
            "profile": settings.profile,
            "config_path": str(settings.config_path),
            "settings": {
                "api_url": {"value": settings.display_url, "source": settings.sources["api_url"]},
                "api_key": {"value": key, "source": settings.sources["api_key"], "masked": not reveal},
                "timeout": {"value": settings.timeout, "source": settings.sources["timeout"]},
            },
            "profiles": sorted(cfg.profiles),
            "active_profile": cfg.active_profile or DEFAULT_PROFILE,
        }
        out = _out()
        if json_:
            out.print(json.dumps(data, indent=2, ensure_ascii=False), soft_wrap=True)
            return
        from rich.text import Text

        out.print(Text(f"profile  {settings.profile}"))
        for name in KEYS:
            entry = data["settings"][name]
            out.print(Text(f"{name:<8} {entry['value']}  ({entry['source']})"))
        out.print(Text(f"file     {settings.config_path}", style="dim"))
        if cfg.profiles:
            out.print(Text(f"profiles {', '.join(sorted(cfg.profiles))} (active: {data['active_profile']})", style="dim"))

    guarded(ctx, body, as_json=json_)


FROM_ENV_EXAMPLE = "dunetrace config set api_key --from-env DUNETRACE_API_KEY"
STDIN_EXAMPLE = """printf '%s\\n' "$KEY" | dunetrace config set api_key -"""


def _read_value(key: str, value: str | None, from_env: str | None) -> str:
    """The raw value to store: from argv, stdin (``-``) or a named environment variable.

    An API key is never taken from argv: it would stay in shell history and show in ``ps``.
    """
    import os
    import sys

    if from_env is not None and value is not None:
        raise UsageError(f"give either a value or --from-env {from_env}, not both.")
    if from_env is not None:
        name = from_env.strip()
        if not name:
            raise UsageError("--from-env needs a variable name, e.g. --from-env DUNETRACE_API_KEY.")
        raw = os.environ.get(name, "")
        if not raw.strip():
            raise UsageError(f"the environment variable {name} is not set or empty; export it first.")
        return raw.strip()
    if value is None:
        hint = " (`-` reads stdin, or --from-env VAR)" if key == "api_key" else " (or --from-env VAR)"
        raise UsageError(f"give the new value for {key}{hint}.")
    if value == "-":
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass(f"{key}: ").strip()
        return sys.stdin.readline().strip()
    if key == "api_key":
        raise UsageError(
            "refusing to take the API key from the command line (shell history and `ps` would keep it): "
            f"pipe it in with `{STDIN_EXAMPLE}` or name a variable with `{FROM_ENV_EXAMPLE}`."
        )
    return value


@app.command("set")
def set_(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=f"One of: {', '.join(KEYS)}.", show_default=False, metavar="KEY",
                                       autocompletion=complete_source("config_keys"))],
    value: Annotated[
        Optional[str],
        typer.Argument(
            help="The new value; - reads it from stdin. api_key is taken only from stdin or --from-env.",
            show_default=False, metavar="VALUE",
        ),
    ] = None,
    from_env: Optional[str] = typer.Option(
        None, "--from-env", metavar="VAR", help="Read the value from this environment variable (for api_key)."
    ),
    profile: Optional[str] = typer.Option(None, "--profile", "-p", help="Profile to change (default: the active one)."),
) -> None:
    """Set a value in a profile of config.toml (written with mode 0600, comments kept)."""

    def body() -> None:
        path = config_path()
        cfg = ConfigFile.load(path)
        name = validate_profile_name(profile or options(ctx).profile or cfg.active_profile or DEFAULT_PROFILE)
        raw = _read_value(key, value, from_env) if key in KEYS else (value or "")
        typed = validate_value(key, raw)
        cfg.profiles.setdefault(name, {})[key] = typed
        cfg.save()
        shown = mask_key(str(typed)) if key == "api_key" else redact_url(str(typed)) if key == "api_url" else typed
        from rich.text import Text

        from dunetrace_cli.render.console import make_console

        make_console(stderr=True).print(Text(f"set {key} = {shown} in profile '{name}' ({path})"))

    guarded(ctx, body)


@app.command("use")
def use(
    ctx: typer.Context,
    profile: Annotated[str, typer.Argument(help="Profile to make active.", show_default=False, metavar="PROFILE",
                                           autocompletion=complete_source("profiles"))],
) -> None:
    """Make a profile the active one."""

    def body() -> None:
        path = config_path()
        cfg = ConfigFile.load(path)
        name = validate_profile_name(profile)
        if name not in cfg.profiles and name != DEFAULT_PROFILE:
            known = ", ".join(sorted(cfg.profiles)) or "none yet"
            raise UsageError(
                f"no profile '{name}' (profiles: {known}). Create it with `dunetrace config set api_url URL --profile {name}`."
            )
        cfg.active_profile = name
        cfg.save()
        from rich.text import Text

        from dunetrace_cli.render.console import make_console

        make_console(stderr=True).print(Text(f"active profile is now '{name}'"))

    guarded(ctx, body)


@app.command("path")
def path_(ctx: typer.Context) -> None:
    """Print the config file's path."""
    guarded(ctx, lambda: _out().print(str(config_path()), soft_wrap=True))
