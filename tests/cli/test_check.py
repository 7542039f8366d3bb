"""`dunetrace check`: every rule against both captured servers, exit codes, rules files, --from, formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from dunetrace_cli.domain.gate import REGRESSION_DELTA
from dunetrace_cli.queries.health import get_health
from tests.cli._helpers import envelope, failed
from tests.conftest import FIXED_NOW
from tests.fakeapi import FakeApi

SDK_EVENTS = Path(__file__).resolve().parent.parent / "data" / "sdk-events"


def gate(result: Any) -> dict[str, Any]:
    """The --json body of a check that ran (pass or fail): exit code 0 or 1, no traceback."""
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    body = json.loads(result.stdout)
    assert body["exit_code"] == result.exit_code
    return body


def rules_of(body: dict[str, Any], agent: str | None = None) -> dict[str, dict[str, Any]]:
    agents = body["agents"] if agent is None else [a for a in body["agents"] if a["agent_id"] == agent]
    return {r["rule"]: r for a in agents for r in a["rules"]}


def drop_routes(fake: FakeApi, *handlers: str) -> None:
    """Take routes away from a latest-generation fake (a server between March and latest)."""
    fake._routes = [r for r in fake._routes if r.handler not in handlers]


# ----------------------------------------------------------------- each rule, real data


def test_clean_agent_passes_every_rule(cli) -> None:
    data = cli.fake("latest").data
    body = gate(cli("check", "clean-agent", "--min-score", "90", "--no-systemic", "--max-severity", "LOW",
                    "--max-failure-rate", "0", "--no-regression", "--json"))
    assert body["verdict"] == "pass" and body["passed"] is True
    rules = rules_of(body)
    assert set(rules) == {"min_score", "no_systemic", "max_severity", "max_failure_rate", "no_regression"}
    assert {r["verdict"] for r in rules.values()} == {"pass"}
    assert rules["min_score"]["value"] == data["health_score"]["clean-agent"]["score"] == 98
    assert rules["min_score"]["source"] == "server"
    assert rules["max_failure_rate"]["observed"] == f"0% (0 of {len(data['runs']['clean-agent'])} runs)"


def test_min_score_fails_below_threshold_and_table_says_why(cli) -> None:
    result = cli("check", "rag-agent", "--min-score", "60")
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("check rag-agent") and "FAIL" in lines[0]
    row = next(line for line in lines if line.startswith("health score"))
    assert row.split()[2:] == ["22", "≥", "60", "FAIL"]
    assert "gate failed for rag-agent." in result.stdout
    assert lines[-1] == "next: dunetrace summary rag-agent  (what pulls the health score down)"


def test_min_score_computed_client_side_on_march(cli, api_client) -> None:
    import asyncio

    fake = cli.fake("march")

    async def expected() -> int | None:
        async with api_client(fake) as client:
            return (await get_health(client, agent_id="support-agent-lc")).score

    score = asyncio.run(expected())
    assert score is not None
    body = gate(cli("check", "support-agent-lc", "--min-score", str(score), "--json", gen="march"))
    rule = rules_of(body)["min_score"]
    assert (rule["value"], rule["source"], rule["verdict"]) == (score, "client", "pass")
    body = gate(cli("check", "support-agent-lc", "--min-score", str(score + 1), "--json", gen="march"))
    assert rules_of(body)["min_score"]["verdict"] == "fail" and body["exit_code"] == 1


def test_no_score_is_no_data_and_fails_closed(cli) -> None:
    body = gate(cli("check", "onboarding-agent", "--min-score", "1", "--json"))
    rule = rules_of(body)["min_score"]
    assert rule["verdict"] == "no_data" and rule["value"] is None
    assert body["verdict"] == "fail" and body["exit_code"] == 1


@pytest.mark.parametrize("gen", ["latest", "march"])
def test_no_systemic_names_the_systemic_types(cli, gen: str) -> None:
    body = gate(cli("check", "langchain-example-agent", "--no-systemic", "--json", gen=gen))
    rule = rules_of(body)["no_systemic"]
    assert rule["verdict"] == "fail"
    if gen == "latest":  # the server decides: its systemic_patterns rows flagged is_systemic
        insights = cli.fake(gen).data["insights"]["langchain-example-agent"]
        expected = {p["failure_type"] for p in insights["systemic_patterns"] if p["is_systemic"]}
        assert set(rule["value"]) == expected == {"CONTEXT_BLOAT", "TOOL_LOOP"}
        assert rule["source"] == "server"
    else:
        assert rule["source"] == "client" and rule["value"]
    assert all(o["rate"] >= 0.10 for o in rule["offenders"])


def test_no_systemic_restricted_to_types(cli) -> None:
    body = gate(cli("check", "langchain-example-agent", "--systemic-type", "retry_storm,tool_thrashing", "--json"))
    rule = rules_of(body)["no_systemic"]
    assert rule["verdict"] == "pass" and rule["threshold"] == "none of RETRY_STORM, TOOL_THRASHING systemic"
    body = gate(cli("check", "langchain-example-agent", "--no-systemic", "--systemic-type", "TOOL_LOOP", "--json"))
    assert rules_of(body)["no_systemic"]["value"] == ["TOOL_LOOP"]


def test_max_severity_counts_signals_above(cli) -> None:
    signals = [s for s in cli.fake("latest").data["signals"]["langchain-example-agent"] if not s.get("shadow")]
    critical = [s["id"] for s in signals if s["severity"] == "CRITICAL"]
    assert critical
    body = gate(cli("check", "langchain-example-agent", "--max-severity", "high", "--json"))
    rule = rules_of(body)["max_severity"]
    assert rule["verdict"] == "fail" and sorted(o["id"] for o in rule["offenders"]) == sorted(critical)
    assert rule["observed"] == f"{len(critical)} CRITICAL"
    body = gate(cli("check", "langchain-example-agent", "--max-severity", "CRITICAL", "--json"))
    assert rules_of(body)["max_severity"]["verdict"] == "pass"


def test_max_severity_window_excludes_older_signals(cli) -> None:
    newest = max(s["detected_at"] for s in cli.fake("latest").data["signals"]["langchain-example-agent"])
    minutes = int((FIXED_NOW - newest) // 60) - 1  # a window that ends just before the newest signal
    body = gate(cli("check", "langchain-example-agent", "--max-severity", "LOW", "--since", f"{minutes}m", "--json"))
    rule = rules_of(body)["max_severity"]
    assert rule["verdict"] == "pass" and rule["observed"] == "no signals"
    assert body["rules"]["window"] == f"{minutes}m"


@pytest.mark.parametrize("gen", ["latest", "march"])
def test_max_failure_rate_from_the_runs(cli, gen: str) -> None:
    runs = cli.fake(gen).data["runs"]["retry-agent"]
    failing = sum(1 for r in runs if r["signal_count"] > 0)
    rate = failing / len(runs)
    body = gate(cli("check", "retry-agent", "--max-failure-rate", f"{rate * 100:.4f}%", "--json", gen=gen))
    rule = rules_of(body)["max_failure_rate"]
    assert rule["verdict"] == "pass" and rule["value"] == round(rate, 4)
    assert f"({failing} of {len(runs)} runs)" in rule["observed"]
    below = max(0.0, rate - 0.01)
    body = gate(cli("check", "retry-agent", "--max-failure-rate", f"{below:.4f}", "--json", gen=gen))
    assert rules_of(body)["max_failure_rate"]["verdict"] == "fail"


def test_no_regression_from_versions(cli) -> None:
    """langchain-example-agent's two real versions: 35.7% -> 50%, a 14.3-point rise, under the 15-point line."""
    versions = cli.fake("latest").data["insights"]["langchain-example-agent"]["versions"]
    new, old = versions[0], versions[1]
    rise = new["runs_with_signals"] / new["run_count"] - old["runs_with_signals"] / old["run_count"]
    assert 0 < rise <= REGRESSION_DELTA
    body = gate(cli("check", "langchain-example-agent", "--no-regression", "--json"))
    rule = rules_of(body)["no_regression"]
    assert rule["verdict"] == "pass" and rule["source"] == "client"
    assert rule["value"]["version"] == new["agent_version"] and rule["value"]["previous_version"] == old["agent_version"]


def test_no_regression_fails_on_a_worse_newest_version(cli) -> None:
    fake = cli.fake("latest")
    insights = fake.data["insights"]["langchain-example-agent"]
    worse = {**insights["versions"][0], "agent_version": "deadbeef", "run_count": 10, "runs_with_signals": 9}
    fake.data["insights"] = {**fake.data["insights"], "langchain-example-agent": {**insights, "versions": [worse, *insights["versions"]]}}
    body = gate(cli("check", "langchain-example-agent", "--no-regression", "--json"))
    rule = rules_of(body)["no_regression"]
    assert rule["verdict"] == "fail" and rule["offenders"][0]["version"] == "deadbeef"
    assert body["exit_code"] == 1


def test_no_regression_prefers_the_servers_deploy_regressions(cli) -> None:
    fake = cli.fake("latest")
    insights = fake.data["insights"]["langchain-example-agent"]
    deploys = [
        {"deploy_id": 1, "version": "old", "deployed_at": FIXED_NOW - 7200, "before_rate": 0.1, "after_rate": 0.9,
         "is_regression": True},
        {"deploy_id": 2, "version": "v2", "deployed_at": FIXED_NOW - 600, "before_rate": 0.3, "after_rate": 0.35,
         "is_regression": False},
    ]
    fake.data["insights"] = {**fake.data["insights"], "langchain-example-agent": {**insights, "deploy_regressions": deploys}}
    rule = rules_of(gate(cli("check", "langchain-example-agent", "--no-regression", "--json")))["no_regression"]
    assert (rule["verdict"], rule["source"], rule["value"]["version"]) == ("pass", "server", "v2")
    deploys[1]["is_regression"] = True
    rule = rules_of(gate(cli("check", "langchain-example-agent", "--no-regression", "--json")))["no_regression"]
    assert rule["verdict"] == "fail"


# ----------------------------------------------------------------- fix status


def _fix(signal: dict[str, Any], verdict: str, applied_at: float) -> dict[str, Any]:
    return {
        "id": signal["id"] * 10, "signal_id": signal["id"], "run_id": signal["run_id"],
        "failure_type": signal["failure_type"], "severity": signal["severity"],
        "agent_version": signal["agent_version"], "fix_type": "prompt", "applied_via": "dashboard",
        "langfuse_prompt_name": None, "langfuse_version": None, "applied_at": applied_at, "runs_after": 12,
        "recurrences_after": 0 if verdict == "verified" else 3, "verdict": verdict,
    }


def test_fixes_verified_without_fix_status_cannot_pass(cli) -> None:
    result = cli("check", "retry-agent", "--fixes-verified", "--json", gen="march")
    assert result.exit_code == 4, result.stderr
    body = json.loads(result.stdout)
    rule = rules_of(body)["fixes_verified"]
    assert rule["verdict"] == "error" and body["verdict"] == "error"
    assert "no fix status" in rule["detail"]
    assert "gate undecided" in result.stderr


def test_a_failing_rule_outranks_an_undecided_one(cli) -> None:
    drop_routes(cli.fake("latest"), "fixes", "fix_status")
    body = gate(cli("check", "rag-agent", "--fixes-verified", "--min-score", "50", "--json"))
    assert {r["verdict"] for r in rules_of(body).values()} == {"error", "fail"} and body["exit_code"] == 1


def test_fixes_verified_reads_the_fixes_list(cli) -> None:
    fake = cli.fake("latest")
    signals = fake.data["signals"]["retry-agent"]
    fixes = [_fix(signals[0], "verified", FIXED_NOW - 3600), _fix(signals[1], "likely_fixed", FIXED_NOW - 60),
             _fix(signals[2], "still_occurring", FIXED_NOW - 30 * 86400)]  # outside a 24h window
    fake.fixes["retry-agent"] = fixes
    rule = rules_of(gate(cli("check", "retry-agent", "--fixes-verified", "--json")))["fixes_verified"]
    assert (rule["verdict"], rule["value"], rule["observed"]) == ("pass", 2, "2 of 2 verified")
    body = gate(cli("check", "retry-agent", "--fixes-verified", "--since", "60d", "--json"))
    rule = rules_of(body)["fixes_verified"]
    assert rule["verdict"] == "fail" and rule["offenders"] == [
        {"signal_id": signals[2]["id"], "failure_type": signals[2]["failure_type"], "verdict": "still_occurring"}
    ]


def test_fixes_verified_falls_back_to_fix_status(cli) -> None:
    fake = cli.fake("latest")
    signals = [s for s in fake.data["signals"]["retry-agent"] if not s.get("shadow")]
    bad = signals[0]["id"]
    drop_routes(fake, "fixes")  # a server with fix-status but no /fixes list
    fake.fix_status[bad] = {
        "fix_applied": True, "applied_at": FIXED_NOW - 600, "applied_via": "github_pr", "langfuse_prompt_name": None,
        "langfuse_version": None, "runs_after_fix": 4, "recurrences_after_fix": 2, "verdict": "still_occurring",
    }
    rule = rules_of(gate(cli("check", "retry-agent", "--fixes-verified", "--json")))["fixes_verified"]
    assert rule["verdict"] == "fail"
    assert rule["offenders"] == [{"signal_id": bad, "failure_type": signals[0]["failure_type"], "verdict": "still_occurring"}]
    assert "no /fixes list" in rule["detail"]


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["check", "retry-agent"], 2, "no rules to check"),
        (["check", "--min-score", "50"], 2, "give at least one agent"),
        (["check", "retry-agent", "--max-severity", "urgent"], 2, "invalid severity 'urgent'"),
        (["check", "retry-agent", "--max-failure-rate", "lots"], 2, "invalid failure rate 'lots'"),
        (["check", "retry-agent", "--max-failure-rate", "150%"], 2, "between 0% and 100%"),
        (["check", "retry-agent", "--min-score", "50", "--since", "soon"], 2, "invalid --since"),
        (["check", "retry-agent", "--min-score", "50", "--format", "xml"], 2, "invalid --format 'xml'"),
        (["check", "no-such-agent", "--min-score", "50"], 4, "no agent 'no-such-agent'"),
    ],
)
def test_errors_exit_with_their_code(cli, args: list[str], code: int, needle: str) -> None:
    stderr = failed(cli(*args, "--json"), code)
    assert needle in stderr
    assert envelope(stderr)["exit_code"] == code


def test_unreachable_api_is_exit_5_not_a_pass(invoke) -> None:
    result = invoke(["check", "retry-agent", "--min-score", "0"], env={"DUNETRACE_API_URL": "http://127.0.0.1:9"})
    assert failed(result, 5)


def test_rejected_key_is_exit_3(served, invoke) -> None:
    url, _ = served("latest", api_key="dt_live_right")
    result = invoke(["check", "retry-agent", "--min-score", "0"], env={"DUNETRACE_API_URL": url, "DUNETRACE_API_KEY": "dt_live_wrong"})
    stderr = failed(result, 3)
    assert "dt_live_wrong" not in stderr


# ----------------------------------------------------------------- rules files


def test_rules_file_next_to_the_code(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "dunetrace.toml").write_text(
        '[check]\nagents = ["clean-agent", "rag-agent"]\nmin-score = 50\nmax_severity = "HIGH"\nsince = "7d"\n'
    )
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    body = gate(cli("check", "--json"))
    assert [a["agent_id"] for a in body["agents"]] == ["clean-agent", "rag-agent"]
    assert (body["rules"]["min_score"], body["rules"]["max_severity"], body["rules"]["window"]) == (50, "HIGH", "7d")
    assert [a["verdict"] for a in body["agents"]] == ["pass", "fail"]
    # flags win over the file; arguments replace its agents
    body = gate(cli("check", "clean-agent", "--min-score", "99", "--json"))
    assert body["rules"]["min_score"] == 99 and rules_of(body)["min_score"]["verdict"] == "fail"
    # --no-rules-file: flags only
    assert "no rules to check" in failed(cli("check", "clean-agent", "--no-rules-file"), 2)


def test_pyproject_tool_table(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.dunetrace.check]\nagents = ["langchain-example-agent"]\n'
        'no_systemic = ["TOOL_LOOP"]\nno_regression = true\n'
    )
    monkeypatch.chdir(tmp_path)
    body = gate(cli("check", "--json"))
    assert body["rules"]["systemic_types"] == ["TOOL_LOOP"] and body["rules"]["no_regression"] is True
    assert rules_of(body)["no_systemic"]["value"] == ["TOOL_LOOP"]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[check]\nmin_scor = 5\n", "unknown key 'min_scor'"),
        ("[check]\nmin_score = \"high\"\n", "'min_score' in [check]"),
        ("[check\n", "not valid TOML"),
        ("[other]\nx = 1\n", "has no [check] table"),
    ],
)
def test_bad_rules_file_is_a_config_error(cli, tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "gate.toml"
    path.write_text(text)
    stderr = failed(cli("check", "clean-agent", "--min-score", "1", "--rules", str(path)), 3)
    assert needle in stderr


# ----------------------------------------------------------------- the local store


def test_from_events_ingests_and_gates(invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DUNETRACE_HOME", str(tmp_path / "home"))  # the user's store is not touched
    events = SDK_EVENTS / "events-mixed.jsonl"
    result = invoke(["check", "--from", str(events), "web-researcher", "doc-qa", "--max-severity", "MEDIUM", "--json"])
    body = gate(result)
    verdicts = {a["agent_id"]: a["verdict"] for a in body["agents"]}
    assert verdicts["web-researcher"] == "fail"  # its looping runs raise HIGH TOOL_LOOP signals
    assert "ingested 648 events" in result.stderr
    assert not (tmp_path / "home").exists()
    offenders = rules_of(body, "web-researcher")["max_severity"]["offenders"]
    assert offenders and {o["severity"] for o in offenders} <= {"HIGH", "CRITICAL"}


def test_from_a_missing_file_is_usage(invoke, tmp_path: Path) -> None:
    stderr = failed(invoke(["check", "--from", str(tmp_path / "nope.jsonl"), "a", "--min-score", "1"]), 2)
    assert "no events file" in stderr


# ----------------------------------------------------------------- formats


def test_junit_structure(cli) -> None:
    drop_routes(cli.fake("latest"), "fixes", "fix_status")
    result = cli("check", "langchain-example-agent", "clean-agent", "--min-score", "70", "--no-systemic",
                 "--fixes-verified", "--format", "junit")
    assert result.exit_code == 1
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["dunetrace check langchain-example-agent", "dunetrace check clean-agent"]
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases) == 3
        assert int(suite.get("failures", "-1")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors", "-1")) == sum(1 for c in cases if c.find("error") is not None)
        assert all(c.get("classname") and c.get("name") for c in cases)
    first = {c.get("name"): c for c in suites[0].findall("testcase")}
    assert first["min_score"].find("failure") is not None  # 65 < 70
    assert first["no_systemic"].find("failure") is not None
    assert first["fixes_verified"].find("error") is not None
    assert int(root.get("tests", "0")) == 6 and int(root.get("failures", "0")) == 2 and int(root.get("errors", "0")) == 2
    assert "gate failed" in result.stderr


def test_junit_parses_with_junitparser(cli) -> None:
    junitparser = pytest.importorskip("junitparser")
    result = cli("check", "rag-agent", "--min-score", "50", "--max-severity", "CRITICAL", "--format", "junit")
    xml = junitparser.JUnitXml.fromstring(result.stdout)
    cases = [case for suite in xml for case in suite]
    assert {c.name: [type(r).__name__ for r in c.result] for c in cases} == {"min_score": ["Failure"], "max_severity": []}


def test_markdown_for_a_pr_comment(cli) -> None:
    result = cli("check", "rag-agent", "--min-score", "50", "--max-severity", "CRITICAL", "--format", "markdown")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "### ❌ Deploy gate failed: `rag-agent`"
    assert "| health score | 22 | ≥ 50 | ❌ fail |" in lines
    assert lines[-1].startswith("<sub>dunetrace check · window 24h")
    assert "Next: `dunetrace summary rag-agent` — what pulls the health score down" in lines


def test_unknown_systemic_type_gets_a_did_you_mean(cli) -> None:
    stderr = failed(cli("check", "rag-agent", "--systemic-type", "TOOL_LOPE"), 2)
    assert "Did you mean TOOL_LOOP" in stderr


def test_fixes_verified_with_no_fixes_applied_passes(cli) -> None:
    rule = rules_of(gate(cli("check", "retry-agent", "--fixes-verified", "--json")))["fixes_verified"]
    assert (rule["verdict"], rule["observed"]) == ("pass", "no fixes applied in 24h")


def test_gate_on_the_local_store(invoke, tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    assert invoke(["local", "ingest", "--db", str(db), str(SDK_EVENTS / "events-mixed.jsonl")]).exit_code == 0
    body = gate(invoke(["check", "doc-qa", "web-researcher", "--max-severity", "MEDIUM", "--min-score", "1", "--json"],
                       env={"DUNETRACE_API_URL": f"local:{db}"}))
    verdicts = {a["agent_id"]: {r["rule"]: r["verdict"] for r in a["rules"]} for a in body["agents"]}
    assert verdicts["web-researcher"]["max_severity"] == "fail" and body["exit_code"] == 1
    assert rules_of(body, "web-researcher")["min_score"]["source"] == "server"  # the store serves health-score
