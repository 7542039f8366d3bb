"""`dunetrace doctor`: settings and their sources, the API and its routes, the key, the store, MCP set-up."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXED_NOW

SDK_EVENTS = Path(__file__).resolve().parent.parent / "data" / "sdk-events"
KEY = "dt_live_d0ct0r_s3cret_key"


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    home, project, bin_dir = tmp_path / "home", tmp_path / "project", tmp_path / "bin"
    for d in (home, project, bin_dir):
        d.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DUNETRACE_HOME", str(home / "store"))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    for name in ("XDG_CONFIG_HOME", "CODEX_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(project)
    return {"home": home, "project": project, "bin": bin_dir}


def doctor(invoke, env: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    result = invoke(["doctor", "--json"], env=env)
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    body = json.loads(result.stdout)
    assert body["problems"] == sum(1 for c in body["checks"] if c["status"] == "problem")
    assert (result.exit_code == 1) == (body["problems"] > 0)
    return result.exit_code, body, result.stdout + result.stderr


def check(body: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in body["checks"] if c["name"] == name)


def test_latest_server_all_good(served, invoke, machine) -> None:
    url, fake = served("latest")
    code, body, _ = doctor(invoke, {"DUNETRACE_API_URL": url})
    assert code == 0
    assert check(body, "api_url")["detail"] == f"{url} (from env DUNETRACE_API_URL)"
    assert check(body, "timeout")["detail"] == "15s (from default)"
    assert check(body, "reachable")["detail"].endswith(f"version {fake.data['health']['version']}, db ok")
    assert check(body, "key")["detail"] == f"accepted ({len(fake.data['agents'])} agents visible)"
    routes = check(body, "routes")["detail"]
    assert routes.startswith("latest generation; has org-wide signals, org-wide runs, health score, token stats")
    assert {c["status"] for c in body["checks"] if c["area"] in ("local store", "mcp clients")} == {"note"}


def test_march_server_lacks_routes(served, invoke, machine) -> None:
    url, _ = served("march")
    code, body, _ = doctor(invoke, {"DUNETRACE_API_URL": url})
    assert code == 0
    assert check(body, "routes")["detail"].startswith("March 2026 generation; has none of the newer routes; lacks org-wide")


def test_rejected_key_is_a_problem_and_never_printed(served, invoke, machine) -> None:
    url, _ = served("latest", api_key="dt_live_other")
    code, body, text = doctor(invoke, {"DUNETRACE_API_URL": url, "DUNETRACE_API_KEY": KEY})
    assert code == 1
    key = check(body, "key")
    assert key["status"] == "problem" and "config set api_key -" in key["fix"]
    assert check(body, "api_key")["detail"] == "set (from env DUNETRACE_API_KEY; never shown)"
    assert KEY not in text


def test_unreachable_with_a_url_password(invoke, machine) -> None:
    code, body, text = doctor(invoke, {"DUNETRACE_API_URL": "http://ops:hunter2@127.0.0.1:9"})
    assert code == 1
    assert check(body, "reachable")["status"] == "problem"
    assert "hunter2" not in text and "****@127.0.0.1:9" in check(body, "api_url")["detail"]


def test_table_lists_each_fix(invoke, machine) -> None:
    result = invoke(["doctor"], env={"DUNETRACE_API_URL": "http://127.0.0.1:9", "COLUMNS": "120"})
    assert result.exit_code == 1
    assert "fix (reachable): start the backend" in result.stdout
    assert result.stdout.rstrip().endswith("1 problem found.")


def test_profile_and_loose_config_file(served, invoke, machine) -> None:
    url, _ = served("latest")
    cfg_dir = Path(os.environ["DUNETRACE_CONFIG_DIR"])
    cfg_dir.mkdir(parents=True, exist_ok=True)
    path = cfg_dir / "config.toml"
    path.write_text(f'active_profile = "prod"\n\n[profiles.prod]\napi_url = "{url}"\napi_key = "{KEY}"\n')
    os.chmod(path, 0o644)
    code, body, text = doctor(invoke, {})
    assert check(body, "profile")["detail"] == f"prod (from active_profile in {path})"
    assert check(body, "api_url")["detail"] == f"{url} (from profile prod)"
    loose = check(body, "config file")
    assert loose["status"] == "problem" and loose["fix"] == f"chmod 600 {path}"
    assert code == 1 and KEY not in text


def test_local_store_health(invoke, machine) -> None:
    db = machine["home"] / "gate.db"
    ingest = invoke(["local", "ingest", "--db", str(db), str(SDK_EVENTS / "scenario-a-looping.jsonl")])
    assert ingest.exit_code == 0, ingest.stderr
    os.chmod(db, 0o600)
    os.chmod(db.parent, 0o700)
    code, body, _ = doctor(invoke, {"DUNETRACE_API_URL": f"local:{db}", "DUNETRACE_NOW": str(FIXED_NOW)})
    store = check(body, "store")
    assert store["status"] == "ok" and store["detail"].startswith(f"{db}: 28 events, 1 runs")
    assert code == 0
    os.chmod(db, 0o644)
    code, body, _ = doctor(invoke, {"DUNETRACE_API_URL": f"local:{db}"})
    assert check(body, "permissions")["fix"] == f"chmod 600 {db} && chmod 700 {db.parent}" and code == 1


def test_a_corrupt_store_is_a_problem(invoke, machine) -> None:
    db = machine["home"] / "bad.db"
    db.write_bytes(b"not a database at all" * 100)
    code, body, _ = doctor(invoke, {"DUNETRACE_API_URL": f"local:{db}"})
    assert code == 1 and check(body, "store")["status"] == "problem"


def _script(bin_dir: Path, text: str) -> Path:
    path = bin_dir / "dunetrace-mcp"
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_which_package_owns_dunetrace_mcp(served, invoke, machine) -> None:
    url, _ = served("latest")
    path = _script(machine["bin"], "#!/usr/bin/python3\nimport sys\nfrom dunetrace_mcp.server import main\nsys.exit(main())\n")
    _, body, _ = doctor(invoke, {"DUNETRACE_API_URL": url})
    found = check(body, "dunetrace-mcp")
    assert found["status"] == "note" and "upstream" in found["detail"] and str(path) in found["detail"]
    _script(machine["bin"], "#!/usr/bin/python3\nfrom dunetrace_cli.cli.mcp_cmd import legacy_main\nlegacy_main()\n")
    _, body, _ = doctor(invoke, {"DUNETRACE_API_URL": url})
    assert check(body, "dunetrace-mcp")["status"] == "ok"


def test_mcp_client_entries_checked(served, invoke, machine) -> None:
    url, _ = served("latest")
    good = shutil.which("dunetrace") or str(Path(os.sys.executable).parent / "dunetrace")
    cursor = machine["project"] / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(json.dumps({"mcpServers": {
        "fs": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem"]},
        "dunetrace": {"command": "/opt/gone/bin/dunetrace", "args": ["mcp", "serve"]},
    }}))
    claude = machine["home"] / ".claude.json"
    claude.write_text(json.dumps({"mcpServers": {"dunetrace": {"type": "stdio", "command": good, "args": ["mcp", "serve"]}},
                                  "projects": {str(machine["project"]): {"mcpServers": {
                                      "dt": {"command": good, "args": ["agents"]}}}}}))
    vscode = machine["project"] / ".vscode" / "mcp.json"
    vscode.parent.mkdir()
    vscode.write_text('{ // comment\n "servers": {} }')
    code, body, _ = doctor(invoke, {"DUNETRACE_API_URL": url})
    rows = {(c["name"], c["status"], c["detail"].split(": ")[-1]) for c in body["checks"] if c["area"] == "mcp clients"}
    assert ("cursor (project)", "problem", "/opt/gone/bin/dunetrace does not exist or is not executable") in rows
    assert ("claude-code (user)", "ok", f"{claude} server 'dunetrace' would start") in {
        (n, s, d) for n, s, d in ((c["name"], c["status"], c["detail"]) for c in body["checks"])}
    assert any(n == "claude-code (user)" and s == "problem" and "not `dunetrace mcp serve`" in d for n, s, d in rows)
    assert any(n == "vscode (project)" and s == "problem" for n, s, _ in rows)
    fixes = {c["fix"] for c in body["checks"] if c["status"] == "problem"}
    assert "dunetrace mcp install cursor --scope project" in fixes
    assert code == 1
