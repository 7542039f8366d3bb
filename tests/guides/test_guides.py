"""Instrumentation guides: name resolution, packaging, and that every code
sample matches the real API of the installed ``dunetrace`` SDK.

Python samples are compiled and checked against the installed SDK's signatures;
complete samples (no ``# requires:`` first line) are executed in a subprocess
against the real SDK, with the client's HTTP transport replaced by a
``FileBatchingEmitter`` writing to a temporary file, and must produce a started
and a finished run.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import re
import subprocess
import sys
import textwrap
import typing
import uuid
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pytest

from dunetrace_cli.errors import ExitCode, UsageError
from dunetrace_cli.guides import ALIASES, FRAMEWORKS, load_guide, resolve_framework
from dunetrace_cli.queries.guides import Guide, get_guide

REQUIRED_ALIASES = {
    "langgraph": "langchain",
    "lc": "langchain",
    "ts": "typescript",
    "js": "typescript",
    "node": "typescript",
    "javascript": "typescript",
    "otlp": "otel",
    "opentelemetry": "otel",
    "py": "python",
    "sdk": "python",
    "tool-calls": "tools",
    "tools-api": "tools",
    "tracking": "tools",
    "langdock": "otel",
    "dify": "tools",
}

FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


def code_blocks(markdown: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(markdown) if lang == language]


def python_blocks() -> list[tuple[str, int, str]]:
    out = []
    for name in FRAMEWORKS:
        for i, body in enumerate(code_blocks(load_guide(name), "python")):
            out.append((name, i, body))
    return out


def is_runnable(block: str) -> bool:
    first = block.lstrip().splitlines()[0] if block.strip() else ""
    return not first.startswith("# requires:")


PY_BLOCKS = python_blocks()
RUNNABLE = [b for b in PY_BLOCKS if is_runnable(b[2])]


# ── names and aliases ─────────────────────────────────────────────────────────


def test_frameworks_include_the_required_guides():
    for name in ("python", "langchain", "typescript", "tools", "otel", "haystack"):
        assert name in FRAMEWORKS


@pytest.mark.parametrize(("alias", "target"), sorted(REQUIRED_ALIASES.items()))
def test_required_aliases(alias, target):
    assert ALIASES[alias] == target
    assert resolve_framework(alias) == target


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_every_alias_resolves_to_a_framework(alias):
    assert ALIASES[alias] in FRAMEWORKS
    assert resolve_framework(alias) == ALIASES[alias]
    assert resolve_framework(f"  {alias.upper()}  ") == ALIASES[alias]


def test_aliases_do_not_shadow_frameworks():
    assert not set(ALIASES) & set(FRAMEWORKS)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_canonical_names_resolve_to_themselves(name):
    assert resolve_framework(name) == name
    assert resolve_framework(name.upper()) == name


def test_spacing_underscores_and_case_are_normalised():
    assert resolve_framework(" LangGraph ") == "langchain"
    assert resolve_framework("OpenAI_Agents") == "openai-agents"
    assert resolve_framework("tool calls") == "tools"


@pytest.mark.parametrize("bad", ["foo", "", "   ", "pythonn-x-y", "langchian"])
def test_unknown_framework_raises_usage_error_listing_valid_names(bad):
    with pytest.raises(UsageError) as info:
        resolve_framework(bad)
    err = info.value
    assert err.exit_code == ExitCode.USAGE == 2
    message = str(err)
    assert message.startswith(f"unknown framework {bad.strip()!r}. Valid: ")
    for name in FRAMEWORKS:
        assert name in message
    assert "aliases: " in message and "langgraph" in message and "langdock" in message


def test_unknown_framework_suggests_a_close_match():
    with pytest.raises(UsageError, match=r"Did you mean 'langchain'\?"):
        resolve_framework("langchian")
    with pytest.raises(UsageError, match=r"Did you mean 'typescript'\?"):
        resolve_framework("typescrpt")


def test_non_string_framework_is_a_usage_error():
    with pytest.raises(UsageError):
        resolve_framework(None)  # type: ignore[arg-type]


# ── packaging and content ─────────────────────────────────────────────────────


def test_every_guide_file_is_a_framework_and_vice_versa():
    files = {
        entry.name[: -len(".md")]
        for entry in resources.files("dunetrace_cli.guides").iterdir()
        if entry.name.endswith(".md")
    }
    assert files == set(FRAMEWORKS)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_guide_loads_and_is_substantial(name):
    text = load_guide(name)
    assert text.startswith("# ")
    assert len(text) > 2000
    for heading in ("## Install", "## Verify", "## Pitfalls"):
        assert heading in text, (name, heading)
    assert "dunetrace agents" in text
    assert "dunetrace summary" in text
    assert "DUNETRACE_ENDPOINT" in text and "http://localhost:8001" in text


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_get_guide(name):
    guide = get_guide(framework=name)
    assert isinstance(guide, Guide)
    assert guide.framework == name
    assert guide.requested == name
    assert guide.markdown == load_guide(name)
    assert guide.title and not guide.title.startswith("#")
    assert guide.related, name
    assert set(guide.related) <= set(FRAMEWORKS)
    assert name not in guide.related


def test_get_guide_by_alias_keeps_the_requested_name():
    guide = get_guide(framework=" LangGraph ")
    assert guide.framework == "langchain"
    assert guide.requested == "LangGraph"
    assert guide.title == "LangChain and LangGraph"


def test_get_guide_unknown():
    with pytest.raises(UsageError, match="unknown framework 'nope'"):
        get_guide(framework="nope")


def test_env_defaults_match_the_sdk():
    import dunetrace.client

    source = inspect.getsource(dunetrace.client.Dunetrace.__init__)
    assert '"DUNETRACE_ENDPOINT", "http://localhost:8001"' in source
    assert '"DUNETRACE_API_URL", "http://localhost:8002"' in source
    python = load_guide("python")
    for var in ("DUNETRACE_ENDPOINT", "DUNETRACE_API_KEY", "DUNETRACE_API_URL", "DUNETRACE_AGENT_ID",
                "DUNETRACE_MAX_FIELD_CHARS", "DUNETRACE_OMIT_LLM_OUTPUT_TEXT", "DUNETRACE_ATEXIT_TIMEOUT"):
        assert var in python
    assert "http://localhost:8001" in python


def test_every_env_var_named_in_a_guide_is_read_by_the_sdk():
    sdk_dir = Path(importlib.import_module("dunetrace").__file__).parent
    sdk_text = "\n".join(p.read_text() for p in sdk_dir.rglob("*.py"))
    for name in FRAMEWORKS:
        for var in set(re.findall(r"DUNETRACE_[A-Z_]*[A-Z]", load_guide(name))):
            if var == "DUNETRACE_INGEST_URL":  # named only to warn that it is not read
                continue
            assert f'"{var}"' in sdk_text or f"'{var}'" in sdk_text or var + "\n" in sdk_text or (
                var.startswith("DUNETRACE_OTEL_") and var in sdk_text
            ), (name, var)


def test_typescript_guide_is_marked_as_unverified():
    text = load_guide("typescript")
    assert "npm install dunetrace" in text
    assert "not executed" in text or "not by running it" in text
    assert code_blocks(text, "typescript")


def test_langdock_and_dify_are_explained_in_their_guides():
    assert "Langdock" in load_guide("otel") and "/v1/otlp/traces" in load_guide("otel")
    assert "Dify" in load_guide("tools")


# ── python samples ────────────────────────────────────────────────────────────


def test_guides_contain_python_samples():
    assert len(PY_BLOCKS) >= 15
    assert len(RUNNABLE) >= 6
    by_guide = {g for g, _, _ in PY_BLOCKS}
    for name in FRAMEWORKS:
        if name != "typescript":
            assert name in by_guide, name


@pytest.mark.parametrize(("guide", "index", "block"), PY_BLOCKS, ids=[f"{g}-{i}" for g, i, _ in PY_BLOCKS])
def test_python_block_compiles(guide, index, block):
    compile(block, f"<{guide}.md block {index}>", "exec")


def _imported_names(tree: ast.AST) -> dict[str, object]:
    """``from dunetrace... import X`` bindings, resolved against the installed SDK."""
    names: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "dunetrace":
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"
                names[alias.asname or alias.name] = getattr(module, alias.name)
    return names


def _bind(fn, call: ast.Call, *, bound: bool) -> None:
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return
    sig = inspect.signature(fn)
    args = [None] * len(call.args)
    if bound:
        args = [None, *args]
    sig.bind(*args, **{k.arg: None for k in call.keywords})


def _run_context_instance():
    from dunetrace.run_context import RunContext

    return RunContext(client=SimpleNamespace(), agent_id="a", agent_version="v", available_tools=[], input_text="")


RUN_NAMES = {"run", "child_run", "parent_run", "child", "parent"}


@pytest.mark.parametrize(("guide", "index", "block"), PY_BLOCKS, ids=[f"{g}-{i}" for g, i, _ in PY_BLOCKS])
def test_python_block_uses_the_real_sdk_api(guide, index, block):
    from dunetrace import Dunetrace
    from dunetrace.run_context import RunContext

    tree = ast.parse(block)
    imported = _imported_names(tree)
    run_instance = _run_context_instance()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in imported and callable(imported[func.id]):
                _bind(imported[func.id], node, bound=False)
            elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                owner, attr = func.value.id, func.attr
                if owner == "dt":
                    assert hasattr(Dunetrace, attr), f"Dunetrace has no {attr}"
                    _bind(getattr(Dunetrace, attr), node, bound=True)
                elif owner in RUN_NAMES:
                    assert hasattr(RunContext, attr), f"RunContext has no {attr}"
                    _bind(getattr(RunContext, attr), node, bound=True)
                elif owner in imported and inspect.isclass(imported[owner]):
                    assert hasattr(imported[owner], attr), f"{owner} has no {attr}"
                    _bind(getattr(imported[owner], attr), node, bound=False)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in RUN_NAMES:
                assert hasattr(run_instance, node.attr), f"RunContext has no attribute {node.attr}"
        elif isinstance(node, ast.FunctionDef):
            # decorators: @dt.tool / @dt.agent(...) / @dt.trace
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "dt":
                    assert hasattr(Dunetrace, target.attr)
                    if isinstance(deco, ast.Call):
                        _bind(getattr(Dunetrace, target.attr), deco, bound=True)


HARNESS = textwrap.dedent(
    """
    import runpy
    import sys

    import dunetrace
    import dunetrace.client
    from dunetrace import FileBatchingEmitter

    sample, record_path = sys.argv[1], sys.argv[2]
    _Real = dunetrace.client.Dunetrace


    class Recording(_Real):
        # The real client, writing to a file instead of HTTP unless the sample picks an emitter.
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("emitter", FileBatchingEmitter(record_path))
            kwargs["api_key"] = ""  # no remote policy / config fetches
            super().__init__(*args, **kwargs)


    dunetrace.Dunetrace = Recording
    dunetrace.client.Dunetrace = Recording
    runpy.run_path(sample, run_name="__main__")
    """
)

EXPECTED_OUTPUT = {
    "run_detectors(build_run_state(events))": "TOOL_LOOP HIGH",
    "PolicyViolation as exc": "stopped by policy 'stop tool loops'",
}


@pytest.mark.slow
@pytest.mark.parametrize(("guide", "index", "block"), RUNNABLE, ids=[f"{g}-{i}" for g, i, _ in RUNNABLE])
def test_runnable_python_block_emits_a_complete_run(guide, index, block, tmp_path, monkeypatch):
    for var in ("DUNETRACE_API_KEY", "DUNETRACE_ENDPOINT", "DUNETRACE_OTEL_ENABLED"):
        monkeypatch.delenv(var, raising=False)
    harness = tmp_path / "harness.py"
    harness.write_text(HARNESS)
    sample = tmp_path / "sample.py"
    sample.write_text(block)
    record = tmp_path / f"events-{uuid.uuid4().hex}.jsonl"
    proc = subprocess.run(
        [sys.executable, str(harness), str(sample), str(record)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    own_file = tmp_path / "events.jsonl"  # a sample that picks FileBatchingEmitter("events.jsonl") itself
    lines = [
        line
        for path in (record, own_file)
        if path.exists()
        for line in path.read_text().splitlines()
    ]
    events = [json.loads(line) for line in lines]
    assert events, "the sample wrote no events"
    types = [e["event_type"] for e in events]
    assert "run.started" in types
    for run_id in {e["run_id"] for e in events}:
        run_types = [e["event_type"] for e in events if e["run_id"] == run_id]
        assert run_types[0] == "run.started"
        assert run_types[-1] in ("run.completed", "run.errored"), run_types
    for marker, expected in EXPECTED_OUTPUT.items():
        if marker in block:
            assert expected in proc.stdout, proc.stdout
    if "FileBatchingEmitter(" in block:
        assert own_file.exists() and not record.exists()


# ── integration claims made in the guides ─────────────────────────────────────


def _collecting_client():
    from dunetrace import CallableExporter, Dunetrace, NoopBatchingEmitter

    events: list[dict] = []
    dt = Dunetrace(
        emitter=NoopBatchingEmitter(),
        api_key="",
        exporters=[CallableExporter(lambda e: events.append(e.to_dict()))],
    )
    return dt, events


def test_langchain_handler_records_what_the_guide_says(monkeypatch):
    import dunetrace.integrations.langchain as lc

    monkeypatch.setattr(lc, "_LANGCHAIN_AVAILABLE", True)
    dt, events = _collecting_client()
    handler = lc.DunetraceCallbackHandler(dt, agent_id="research-agent", model="gpt-4o-mini", tools=["web_search"])
    root, llm, tool, retr = (str(uuid.uuid4()) for _ in range(4))
    handler.on_chain_start({}, {"messages": [("human", "What changed?")]}, run_id=root)
    handler.on_chat_model_start({"kwargs": {"model_name": "gpt-4o-mini"}}, [[]], run_id=llm, parent_run_id=root)
    gen = SimpleNamespace(
        text="calling web_search",
        generation_info={"finish_reason": "tool_calls"},
        message=SimpleNamespace(usage_metadata={"input_tokens": 120, "output_tokens": 9}),
    )
    handler.on_llm_end(SimpleNamespace(generations=[[gen]], llm_output=None), run_id=llm, parent_run_id=root)
    handler.on_tool_start({"name": "web_search"}, "release notes", run_id=tool, parent_run_id=root)
    handler.on_tool_end("five results", run_id=tool, parent_run_id=root, name="web_search")
    handler.on_retriever_start({"name": "kb"}, "release notes", run_id=retr, parent_run_id=root)
    handler.on_retriever_end([SimpleNamespace(metadata={"relevance_score": 0.8})], run_id=retr, parent_run_id=root)
    handler.on_chain_end({}, run_id=root)
    dt.shutdown()

    by_type = {e["event_type"]: e["payload"] for e in events}
    assert [e["event_type"] for e in events] == [
        "run.started", "llm.called", "llm.responded", "tool.called", "tool.responded",
        "retrieval.called", "retrieval.responded", "run.completed",
    ]
    assert by_type["run.started"]["input_text"] == "What changed?"
    assert "system_prompt" not in by_type["run.started"]
    assert by_type["llm.called"]["prompt_tokens"] == 0
    assert by_type["llm.responded"]["prompt_tokens"] == 120
    assert json.loads(by_type["tool.called"]["args"]) == {"input": "release notes"}
    assert by_type["tool.responded"]["success"] is True
    assert by_type["tool.responded"]["latency_ms"] == 0
    assert not by_type["tool.responded"].get("output")
    assert by_type["retrieval.responded"]["top_score"] == 0.8
    assert by_type["run.completed"]["exit_reason"] == "final_answer"


def test_langchain_handler_attaches_to_an_open_dt_run(monkeypatch):
    import dunetrace.integrations.langchain as lc

    monkeypatch.setattr(lc, "_LANGCHAIN_AVAILABLE", True)
    dt, events = _collecting_client()
    handler = lc.DunetraceCallbackHandler(dt, agent_id="ignored")
    root = str(uuid.uuid4())
    with dt.run("outer-agent", user_input="q"):
        handler.on_chain_start({}, {"input": "q"}, run_id=root)
        handler.on_chain_end({}, run_id=root)
    dt.shutdown()
    assert [e["event_type"] for e in events] == ["run.started", "run.completed"]
    assert {e["agent_id"] for e in events} == {"outer-agent"}
    assert events[-1]["payload"]["exit_reason"] == "completed"  # no run.final_answer() was called


def test_otel_receiver_records_what_the_guide_says():
    from dunetrace.integrations.otel_receiver import DunetraceOTelReceiver

    dt, events = _collecting_client()
    receiver = DunetraceOTelReceiver(dt, agent_id="otel-agent")
    ctx = SimpleNamespace(trace_id=0xABC, span_id=1)
    ok = SimpleNamespace(status_code=None)

    def span(name, attrs, start, end, parent):
        return SimpleNamespace(name=name, attributes=attrs, start_time=start, end_time=end,
                               parent=parent, context=ctx, status=ok)

    parent = SimpleNamespace(span_id=9)
    receiver.export([
        span("chat", {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 420,
                      "gen_ai.usage.output_tokens": 35, "gen_ai.completion": "hi"}, 0, 2_000_000, parent),
        span("web_search", {"gen_ai.tool.name": "web_search",
                            "gen_ai.tool.call.arguments": '{"query": "release notes"}'}, 3_000_000, 4_000_000, parent),
        span("agent-run", {}, 0, 5_000_000, None),
    ])
    dt.shutdown()
    assert [e["event_type"] for e in events] == [
        "run.started", "llm.called", "llm.responded", "tool.called", "tool.responded", "run.completed",
    ]
    assert {e["agent_id"] for e in events} == {"otel-agent"}
    assert events[0]["payload"]["tools"] == []
    assert events[1]["payload"]["prompt_tokens"] == 420
    assert events[-1]["payload"]["exit_reason"] == "final_answer"


def test_policy_triggers_and_actions_named_in_the_guide_exist():
    from dunetrace.policies import VALID_OPERATORS, VALID_TRIGGERS, PolicyAction

    text = load_guide("policies")
    for trigger in VALID_TRIGGERS - {"expression"}:
        assert f"`{trigger}`" in text, trigger
    for op in VALID_OPERATORS:
        assert f"`{op}`" in text, op
    actions = typing.get_args(typing.get_type_hints(PolicyAction)["type"])
    assert "stop" in actions and "require_approval" in actions
    for action in actions:
        assert f"`{action}`" in text, action


def test_voice_guide_values_match_the_sdk():
    from dunetrace.packs.voice import __dict__ as voice_module
    from dunetrace.run_context import _TURN_TAKING_ACTIONS, _VAD_TYPES

    text = load_guide("voice")
    for value in _VAD_TYPES | _TURN_TAKING_ACTIONS:
        assert f"`{value}`" in text
    pack_names = {
        obj.name for obj in voice_module.values()
        if inspect.isclass(obj) and getattr(obj, "pack", None) == "voice" and obj.name.startswith("VOICE_")
    }
    assert len(pack_names) == 9
    for name in pack_names:
        assert name in text
