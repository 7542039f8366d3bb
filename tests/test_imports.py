"""Table commands and --help never import `mcp` (it is slow to import and only `mcp serve` needs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

# Run the real entry point in a fresh interpreter, then report which heavy modules got imported.
PROBE = """
import sys
from dunetrace_cli.cli.app import run
code = run(sys.argv[1:])
sys.stdout.flush()
loaded = sorted({name.split('.')[0] for name in sys.modules})
print('PROBE ' + __import__('json').dumps({'code': code, 'mcp': 'mcp' in loaded}), file=sys.stderr)
print('MODULES ' + ' '.join(sorted(sys.modules)), file=sys.stderr)
"""
HEAVY = ("httpx", "httpcore", "anyio", "pydantic", "pydantic_core", "mcp", "pygments", "markdown_it")


def loaded_by(args: list[str], env: dict[str, str] | None = None) -> set[str]:
    """The modules a real `dunetrace ARGS` process imported (it must exit 0)."""
    report, proc = probe(args, env)
    assert report["code"] == 0, proc.stderr
    line = next(line for line in proc.stderr.splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:])


def heavy(modules: set[str]) -> set[str]:
    return {name for name in modules if name.split(".")[0] in HEAVY}


def probe(args: list[str], env: dict[str, str] | None = None) -> tuple[dict, subprocess.CompletedProcess]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )
    line = next(line for line in proc.stderr.splitlines() if line.startswith("PROBE "))
    return json.loads(line[len("PROBE "):]), proc


def test_help_does_not_import_mcp() -> None:
    report, proc = probe(["--help"])
    assert report == {"code": 0, "mcp": False}
    assert "agents" in proc.stdout and "summary" in proc.stdout


def test_agents_json_does_not_import_mcp(served) -> None:
    url, fake = served("latest")
    report, proc = probe(["agents", "--json"], env={"DUNETRACE_API_URL": url})
    assert report == {"code": 0, "mcp": False}, proc.stderr
    assert json.loads(proc.stdout)["total"] == len(fake.data["agents"])


def test_the_console_script_help_per_importtime() -> None:
    """The same check through `python -X importtime` on the installed `dunetrace` script."""
    script = os.path.join(os.path.dirname(sys.executable), "dunetrace")
    if not os.path.exists(script):
        pytest.skip("the dunetrace console script is not installed next to this interpreter")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", script, "--help"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    assert "dunetrace_cli.cli.app" in modules  # the probe saw the CLI load
    assert not [m for m in modules if m == "mcp" or m.startswith("mcp.")]


def _imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(proc.stdout.split())


def test_the_guide_query_needs_neither_httpx_nor_pydantic() -> None:
    loaded = _imported_after("from dunetrace_cli.queries.guides import get_guide; get_guide(framework='python')")
    assert not {"httpx", "pydantic", "mcp"} & loaded


def test_one_query_module_loads_only_its_own_models() -> None:
    loaded = _imported_after("import dunetrace_cli.queries.agents")
    models = {m for m in loaded if m.startswith("dunetrace_cli.models.")}
    assert models == {"dunetrace_cli.models.agents", "dunetrace_cli.models.common"}
    assert not {m for m in loaded if m.startswith("dunetrace_cli.queries.")} - {
        "dunetrace_cli.queries.agents", "dunetrace_cli.queries._common",
    }


def test_plain_http_loads_no_ca_bundle() -> None:
    """No SSL context work for an http:// API: the context trusts nothing, so it verifies no https peer."""
    from dunetrace_cli.client import ApiClient
    from tests.conftest import settings_for

    def ca_count(url: str) -> int:
        client = ApiClient(settings_for(url))
        context = client._http._transport._pool._ssl_context  # type: ignore[attr-defined]
        return context.cert_store_stats()["x509_ca"]

    assert ca_count("http://127.0.0.1:8002") == 0
    assert ca_count("https://api.example.com") > 0


@pytest.mark.parametrize("args", [["--help"], ["config", "show"], ["config", "path"], ["guide", "python"],
                                  ["guide", "ts", "--json"], ["runs", "--help"], ["help", "signals"]])
def test_offline_commands_import_no_http_pydantic_or_mcp(args: list[str], tmp_path) -> None:
    """Offline commands (the guide piped, as a script reads it) import none of the API stack."""
    loaded = loaded_by(args, env={"DUNETRACE_CONFIG_DIR": str(tmp_path)})
    assert heavy(loaded) == set()
    assert "dunetrace_cli.cli.mcp_cmd" not in loaded and "dunetrace_cli.cli.check" not in loaded


def test_config_show_loads_no_registry(tmp_path) -> None:
    loaded = loaded_by(["config", "show"], env={"DUNETRACE_CONFIG_DIR": str(tmp_path)})
    assert not {m for m in loaded if m.startswith(("dunetrace_cli.ops", "dunetrace_cli.queries"))}
    assert "dunetrace_cli.registry" not in loaded


def test_agents_json_imports_only_its_own_command(served, tmp_path) -> None:
    url, fake = served("latest")
    loaded = loaded_by(["agents", "--json"], env={"DUNETRACE_API_URL": url, "DUNETRACE_CONFIG_DIR": str(tmp_path)})
    assert not {m for m in loaded if m.split(".")[0] in ("mcp", "markdown_it")} | ({"rich.markdown"} & loaded)
    cli = {m for m in loaded if m.startswith("dunetrace_cli.cli.")}
    assert not cli & {"dunetrace_cli.cli.check", "dunetrace_cli.cli.doctor", "dunetrace_cli.cli.export_cmd",
                      "dunetrace_cli.cli.mcp_cmd", "dunetrace_cli.cli.local_cmd", "dunetrace_cli.cli.config_cmd"}
    models = {m for m in loaded if m.startswith("dunetrace_cli.models.")}
    assert models == {"dunetrace_cli.models.agents", "dunetrace_cli.models.common"}


MAIN_PROBE = """
import atexit, sys
atexit.register(lambda: print('MODULES ' + ' '.join(sorted(sys.modules)), file=sys.stderr))
sys.argv = ['dunetrace', *sys.argv[1:]]
from dunetrace_cli.cli.app import main
main()
"""


def test_agents_json_through_main_imports_no_rich(served, tmp_path) -> None:
    """The console script's path, output piped and stderr not a terminal: JSON written without rich (no spinner
    to draw), and no httpx command-line client (click, pygments)."""
    url, fake = served("latest")
    proc = subprocess.run([sys.executable, "-c", MAIN_PROBE, "agents", "--json"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "DUNETRACE_API_URL": url, "DUNETRACE_CONFIG_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["total"] == len(fake.data["agents"])
    line = next(line for line in proc.stderr.splitlines() if line.startswith("MODULES "))
    roots = {name.split(".")[0] for name in line.split()[1:]}
    assert not roots & {"rich", "pygments", "click", "markdown_it", "mcp"}
    assert {"httpx", "pydantic"} <= roots
    assert "importlib.metadata" not in line.split()  # pydantic's plugin loader is the one without plugins


PLUGINS_PROBE = """
import os, subprocess, sys
from dunetrace_cli.__main__ import prepare
prepare()
from pydantic import BaseModel
class A(BaseModel):
    x: int = 0
from pydantic.plugin._loader import get_plugins
child = subprocess.run([sys.executable, '-c', 'import os; print(os.environ.get("PYDANTIC_DISABLE_PLUGINS"))'],
                       capture_output=True, text=True, check=True).stdout.strip()
print(A.model_validate({'x': 1}).x, list(get_plugins()), os.environ.get('PYDANTIC_DISABLE_PLUGINS'), child,
      'importlib.metadata' in sys.modules)
"""


@pytest.mark.parametrize(("user", "expected"), [
    (None, "1 [] None None False"),  # no plugins, the environment (and a child's) untouched
    ("__all__", "1 [] __all__ __all__ True"),  # the user's own setting: pydantic's loader reads it
])
def test_prepare_disables_pydantic_plugins_without_touching_the_environment(user: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    if user is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = user
    proc = subprocess.run([sys.executable, "-c", PLUGINS_PROBE], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == expected
