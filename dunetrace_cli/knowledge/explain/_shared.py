"""Fixes several templates offer, and the template registry."""

from __future__ import annotations

from collections.abc import Callable

from dunetrace_cli.knowledge.explain._text import _c, _Ctx, _Ev, _ident, _Parts, _py, fix_code
from dunetrace_cli.knowledge.explain.models import SuggestedFix

# ── shared fixes ──────────────────────────────────────────────────────────────


def _policy_fix(description: str, name: str, condition: str, action: str = '{"type": "stop"}') -> SuggestedFix:
    return _py(
        description,
        f"""
dt.add_policy(
    name={name!r},
    condition={condition},
    action={action},
)
""",
    )


def _retry_budget_fix(tool: str | None) -> SuggestedFix:
    fn = _ident(tool)
    return _py(
        f"Retry {_c(tool) if tool else 'the tool'} with a small budget and exponential backoff",
        f"""
import random
import time


def call_with_budget(fn, *args, attempts=3, base_delay_s=0.5, **kwargs):
    for attempt in range(attempts):
        try:
            return fn(*args, **kwargs)
        except Exception:
            if attempt == attempts - 1:
                raise  # give up: report the failure instead of retrying forever
            time.sleep(base_delay_s * 2 ** attempt + random.uniform(0, base_delay_s))


# result = call_with_budget({fn}, ...)
""",
    )


def _tool_error_message_fix() -> SuggestedFix:
    return _py(
        "Hand tool failures back to the model as explicit errors",
        fix_code("tool_message"),
    )


def _trim_history_fix() -> SuggestedFix:
    return _py(
        "Keep the prompt bounded: drop old turns and shorten large tool outputs",
        fix_code("trim_history"),
    )


def _approval_fix(tool: str | None) -> SuggestedFix:
    name = tool or "transfer_funds"
    fix = _policy_fix(
        f"Require a human approval before {_c(tool)} runs (Dunetrace policy)"
        if tool
        else "Require a human approval before sensitive tools run (Dunetrace policy)",
        f"approve {name}",
        f'{{"trigger": "before_tool_call", "operator": "eq", "value": {name!r}}}',
        '{"type": "require_approval", "params": {"timeout_s": 300}}',
    )
    if tool:
        return fix
    return _py(fix.description, "# one policy per sensitive tool; the tool name is an example\n" + fix.code)


# ── templates ────────────────────────────────────────────────────────────────

Template = Callable[[_Ev, _Ctx], _Parts]
_TEMPLATES: dict[str, Template] = {}


def _template(failure_type: str) -> Callable[[Template], Template]:
    def register(fn: Template) -> Template:
        _TEMPLATES[failure_type] = fn
        return fn

    return register
