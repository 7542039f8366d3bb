"""The `dunetrace` command (console script and ``python -m dunetrace_cli``): fast paths, then the Typer app.

A fast path recognises a command line from argv and runs it without building the Typer app (typer, click
and rich cost a few hundred ms at every start). It returns an exit code, or None for "not mine", and must
accept only what the Typer app parses the same way: help, usage errors and anything unusual fall through.
"""

from __future__ import annotations

import gc
import os
import sys
from types import ModuleType


def _no_plugins(*args: object, **kwargs: object) -> tuple[()]:
    return ()


# pydantic.plugin._loader as PYDANTIC_DISABLE_PLUGINS=__all__ leaves it: its one name, get_plugins(), finds none.
_NO_PLUGINS = ModuleType("pydantic.plugin._loader", "No pydantic plugins (dunetrace_cli.__main__.prepare).")
_NO_PLUGINS.get_plugins = _no_plugins  # type: ignore[attr-defined]


def run(argv: list[str]) -> int:
    """Run ``dunetrace ARGV`` and return its exit code."""
    if "mcp" in argv:  # `[GLOBAL OPTIONS] mcp serve [OPTIONS]`: the editor's spawn (issue 13)
        from dunetrace_cli.cli.mcp_serve import fast_serve

        code = fast_serve(argv)
        if code is not None:
            return code
    from dunetrace_cli.cli.app import run as run_app

    return run_app(argv)


def prepare() -> None:
    """Process set-up before any command is recognised (the console script and ``python -m``)."""
    # The CLI loads no third-party pydantic plugins: finding them scans every installed package's entry
    # points (tens of ms at each start) the first time typer or a model builds a validator. Unless the
    # user's own PYDANTIC_DISABLE_PLUGINS says otherwise, pydantic's loader is replaced by one that
    # returns what ``__all__`` makes the real one return (none): the environment is left as it was (child
    # processes see the user's), and importlib.metadata, which the real loader imports, is not loaded.
    if "PYDANTIC_DISABLE_PLUGINS" not in os.environ:
        sys.modules.setdefault(_NO_PLUGINS.__name__, _NO_PLUGINS)
    # httpx's own command-line client (httpx._main, which imports click, pygments and rich's progress
    # and syntax modules) never runs in this process: without it, `import httpx` takes ~80 ms less and
    # httpx falls back to its stub `main` (an ImportError is its documented "not installed" case).
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    # Start-up (imports, pydantic model classes, the first request) allocates hundreds of thousands of
    # long-lived objects and no garbage worth collecting: the cyclic GC spends ~7% of `agents --json`
    # scanning them. It is off until the command's own work begins (cli/_run.py: work_begins; a server:
    # cli/mcp_serve.py, once it is built).
    gc.disable()


def main() -> None:
    prepare()
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
