"""`dunetrace guide FRAMEWORK`: packaged guides, aliases, unknown names."""

from __future__ import annotations

import json

import pytest

from tests.cli._helpers import envelope, failed, ok

guides = pytest.importorskip(
    "dunetrace_cli.queries.guides", reason="dunetrace_cli/queries/guides.py (the guide query) is not written yet"
)

ALIASES = {
    "langgraph": "langchain", "lc": "langchain", "ts": "typescript", "js": "typescript", "node": "typescript",
    "otlp": "otel", "opentelemetry": "otel", "langdock": "otel", "dify": "tools", "tool-calls": "tools",
    "tracking": "tools", "Python": "python", "HAYSTACK": "haystack",
}


@pytest.mark.parametrize("framework", ["python", "langchain", "typescript", "tools", "otel", "haystack"])
def test_every_required_guide_renders(invoke, framework: str) -> None:
    guide = guides.get_guide(framework=framework)
    out = ok(invoke(["guide", framework]))
    assert guide.title in out
    assert len(out.splitlines()) > 10


@pytest.mark.parametrize(("alias", "framework"), sorted(ALIASES.items()))
def test_aliases(invoke, alias: str, framework: str) -> None:
    data = json.loads(ok(invoke(["guide", alias, "--json"])))
    assert data["framework"] == framework
    assert data["requested"] == alias


def test_guide_json_is_the_query_result(invoke) -> None:
    data = json.loads(ok(invoke(["guide", "python", "--json"])))
    assert data == guides.get_guide(framework="python").model_dump(mode="json")
    assert data["markdown"].startswith("#") and "dunetrace" in data["markdown"].lower()


def test_guide_needs_no_backend(invoke) -> None:
    ok(invoke(["guide", "python"], env={"DUNETRACE_API_URL": "http://127.0.0.1:9"}))


def test_unknown_framework_lists_the_valid_ones(invoke) -> None:
    stderr = failed(invoke(["guide", "cobol"]), 2)
    for name in ("python", "langchain", "typescript", "tools", "otel", "haystack"):
        assert name in stderr
    err = envelope(failed(invoke(["guide", "cobol", "--json"]), 2))
    assert err["code"] == "usage" and err["exit_code"] == 2 and "python" in err["message"]


def test_piped_guide_is_its_markdown(invoke) -> None:
    """Not a terminal: the guide's own Markdown (`dunetrace guide python > python.md`), not a rich rendering."""
    guide = guides.get_guide(framework="ts")
    out = ok(invoke(["guide", "ts"]))
    assert out == guide.markdown.rstrip("\n") + "\n"
    assert out.startswith("# ") and "```" in out


def test_guide_as_a_table_is_still_rendered(invoke) -> None:
    out = ok(invoke(["guide", "python", "--format", "table"]))
    assert not out.startswith("#") and "```" not in out
    assert guides.get_guide(framework="python").title in out
