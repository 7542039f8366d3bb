"""Server text is data: rich markup in agent ids, titles or fixes renders literally."""

from __future__ import annotations

import copy
import io
import json

import pytest
from rich.console import Console

from dunetrace_cli.models import AgentList, AgentSummary, Signal, SignalSearch, SignalView
from dunetrace_cli.models.common import NextStep
from dunetrace_cli.models.health import HealthScore
from dunetrace_cli.models.summary import AgentDiagnosis, SignalDigest
from dunetrace_cli.render.tables import render
from tests.conftest import FIXED_NOW

MARKUP = "[bold red]x[/]"
LINK = "[link=https://evil.example]click me[/link]"


def text_of(renderable) -> str:
    console = Console(width=200, record=True, color_system=None, force_terminal=False, markup=False, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def ansi_of(renderable) -> str:
    """Rendered with colors and hyperlinks on: markup would show up as styles or OSC 8 links."""
    console = Console(width=200, record=True, force_terminal=True, color_system="truecolor", markup=False,
                      file=io.StringIO())
    console.print(renderable)
    return console.export_text(styles=True)


@pytest.fixture
def real_signal(datasets) -> dict:
    return copy.deepcopy(datasets["latest"]["signals"]["rag-agent"][0])


@pytest.fixture
def real_agent(datasets) -> dict:
    return copy.deepcopy(next(a for a in datasets["latest"]["agents"] if a["agent_id"] == "rag-agent"))


def test_agent_id_with_markup_renders_literally(real_agent) -> None:
    real_agent["agent_id"] = MARKUP
    agents = AgentList(agents=[AgentSummary.model_validate(real_agent)], total=1)
    out = text_of(render(agents, FIXED_NOW))
    assert MARKUP in out
    assert "\x1b]8;" not in ansi_of(render(agents, FIXED_NOW))


def test_signal_title_and_fix_with_markup_render_literally(real_signal) -> None:
    real_signal["title"] = f"{MARKUP} {LINK}"
    real_signal["what"] = LINK
    real_signal["suggested_fixes"][0]["description"] = MARKUP
    view = SignalView(signal=Signal.model_validate(real_signal))
    out = text_of(render(view, FIXED_NOW))
    assert f"{MARKUP} {LINK}" in out
    assert f"Fix 1: {MARKUP}" in out
    styled = ansi_of(render(view, FIXED_NOW))
    assert "\x1b]8;" not in styled  # no hyperlink was created
    assert "evil.example" in styled  # the text is still there, as text


def test_signal_search_with_markup_in_agent_and_type(real_signal) -> None:
    real_signal["agent_id"] = MARKUP
    real_signal["failure_type"] = "[italic]TOOL_LOOP[/italic]"
    search = SignalSearch(signals=[Signal.model_validate(real_signal)], total_matched=1, complete=True, limit=20)
    out = text_of(render(search, FIXED_NOW))
    assert MARKUP in out and "[italic]TOOL_LOOP[/italic]" in out


def test_summary_with_markup(real_agent, real_signal) -> None:
    real_agent["agent_id"] = LINK
    real_signal["title"] = MARKUP
    diagnosis = AgentDiagnosis(
        agent=AgentSummary.model_validate(real_agent),
        health=HealthScore(agent_id=LINK, score=None),
        runs_total=1, failing_runs=1, clean_runs=0, breakdown=[],
        newest_signals=[SignalDigest(signal=Signal.model_validate(real_signal))],
        next_steps=[NextStep(op="signal", args={"signal_id": 1}, reason=MARKUP)],
    )
    out = text_of(render(diagnosis, FIXED_NOW))
    assert f"Agent {LINK}" in out
    assert MARKUP in out
    assert "\x1b]8;" not in ansi_of(render(diagnosis, FIXED_NOW))


def test_evidence_is_shown_as_json_text(real_signal) -> None:
    real_signal["evidence"] = {"note": MARKUP}
    out = text_of(render(SignalView(signal=Signal.model_validate(real_signal)), FIXED_NOW))
    assert json.dumps(MARKUP) in out


def test_markup_through_the_cli(invoke, served, datasets) -> None:
    """End to end: a served fake whose signal title carries markup."""
    data = copy.deepcopy(datasets["latest"])
    data["signals"]["rag-agent"][0]["title"] = LINK
    url, _ = served("latest", dataset=data)
    signal_id = data["signals"]["rag-agent"][0]["id"]
    result = invoke(["--api-url", url, "signal", str(signal_id), "--agent", "rag-agent"])
    assert result.exit_code == 0, result.stderr
    assert LINK in result.stdout
    bad = invoke(["--api-url", url, "summary", MARKUP])
    assert bad.exit_code == 4
    assert f"no agent '{MARKUP}'" in bad.stderr


def test_the_checks_would_catch_parsed_markup() -> None:
    """Positive control: the same link, parsed as markup, does produce an OSC 8 hyperlink."""
    from rich.text import Text

    parsed = Text.from_markup(LINK)
    assert "\x1b]8;" in ansi_of(parsed)
    assert LINK not in text_of(parsed)
