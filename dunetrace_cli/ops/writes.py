"""Write operations, opt-in: MCP registers them only with --allow-writes (or DUNETRACE_MCP_READONLY=false).

Deletes and resolving an issue are destructive: the CLI asks "are you sure" on a terminal unless
--yes, the MCP tool asks through elicitation where the client supports it.
"""

from __future__ import annotations

from dunetrace_cli import params as P
from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register

Q, MODEL = "dunetrace_cli.queries.writes", "dunetrace_cli.models.writes:WriteResult"
TBL, MD = "dunetrace_cli.render.tables_issues:write_result", "dunetrace_cli.render.markdown_issues:render_write_result"
PANEL = "Changes (opt-in in MCP)"

def _json_object(name: str):  # noqa: ANN202 - a Param parser
    """Parse a policy condition/action as a JSON object before any request (and before asking to confirm)."""

    def parse(value: object, _now: float) -> dict:
        import json

        from dunetrace_cli.errors import UsageError

        if isinstance(value, dict):
            return value
        try:
            parsed = json.loads(str(value))
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"the policy {name} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); give an "
                'object such as {"trigger": "tool_call_count", "operator": "gt", "value": 10}.'
            ) from None
        if not isinstance(parsed, dict):
            raise UsageError(f"the policy {name} must be a JSON object, not {type(parsed).__name__}.")
        return parsed

    return parse


POLICY_ID = Param("policy_id", str, "Policy id (from `dunetrace policies`).", metavar="POLICY_ID", min_length=1, max_length=256)
DETECTOR_ID = Param("detector_id", str, "Custom detector id (from `dunetrace detectors`).", metavar="DETECTOR_ID",
                    min_length=1, max_length=256)
ISSUE_ID = Param("issue_id", int, "Issue id (#N in `dunetrace issues`).", metavar="ISSUE_ID", ge=1)


def _write(name: str, cli: str, mcp: str, summary: str, params: tuple[Param, ...], examples: tuple[str, ...] = (),
           destructive: bool = False, title: str | None = None) -> None:
    register(Operation(
        name=name, cli=cli, mcp=mcp, query=f"{Q}:{mcp}", model=MODEL, table=TBL, markdown=MD, summary=summary,
        title=title, panel=PANEL, examples=examples, params=params, writes=True, destructive=destructive,
    ))


_write(
    "signal_explain", "signal explain", "trigger_explain",
    "Ask the server's LLM to explain a signal and write a fix (costs money, 5-15 s; needs an LLM key on the server).",
    (P.SIGNAL_ID, Param("agent_id", str, "Agent id (optional).", default=None, faces="mcp")),
    examples=("dunetrace signal explain 88", "dunetrace signal explain 88 --json"),
    title="Explain a signal (LLM)",
)
_write(
    "policy_create", "policy create", "create_policy",
    "Create a runtime policy: when CONDITION holds during a run, the SDK takes ACTION (both JSON objects).",
    (
        Param("name", str, "Policy name.", metavar="NAME", min_length=1, max_length=200),
        Param("agent_id", str, "Agent the policy applies to ('*' for every agent).", default="*", flag="--agent",
              short="-a", complete="agents", max_length=256),
        Param("condition", str, 'JSON, e.g. {"trigger": "tool_call_count", "operator": "gt", "value": 10}.',
              flag="--condition", max_length=10000, parse=_json_object("condition")),
        Param("action", str, 'JSON, e.g. {"type": "stop"} or {"type": "switch_model", "params": {"model": "gpt-4o-mini"}}.',
              flag="--action", max_length=10000, parse=_json_object("action")),
    ),
    examples=('dunetrace policy create loop-guard --agent langchain-example-agent --condition '
              '\'{"trigger": "tool_call_count", "operator": "gt", "value": 10}\' --action \'{"type": "stop"}\'',
              'dunetrace policy create slow-down --condition \'{"trigger": "step_count", "operator": "gt", "value": 40}\' '
              '--action \'{"type": "switch_model", "params": {"model": "gpt-4o-mini"}}\''),
    title="Create a policy",
)
_write(
    "policy_toggle", "policy toggle", "toggle_policy",
    "Enable or disable a policy (checked first: asking for the state it is already in changes nothing).",
    (POLICY_ID, Param("enabled", bool, "true to enable, false to disable (CLI: --enable or --disable).",
                      flag="--enable/--disable")),
    examples=("dunetrace policy toggle 7 --disable", "dunetrace policy toggle 7 --enable --json"),
    title="Enable or disable a policy",
)
_write(
    "policy_delete", "policy delete", "delete_policy", "Delete a policy.", (POLICY_ID,),
    examples=("dunetrace policy delete 7", "dunetrace policy delete 7 --json"),
    destructive=True, title="Delete a policy",
)
_write(
    "detector_create", "detector create", "create_custom_detector",
    "Create a custom detector from a plain-English description: the server translates it (LLM preview), "
    "then saves it in shadow mode.",
    (
        Param("description", str, "What to flag, in plain English (at most 1000 characters).", metavar="DESCRIPTION",
              min_length=1, max_length=1000),
        Param("agent_id", str, "Agent it applies to ('*' for every agent).", default="*", flag="--agent", short="-a",
              complete="agents", max_length=256),
    ),
    examples=('dunetrace detector create "the agent apologises more than twice in one run"',
              'dunetrace detector create "a refund is promised without calling refund_api" --agent support-agent-lc'),
    title="Create a custom detector",
)
_write(
    "detector_activate", "detector activate", "activate_custom_detector",
    "Activate a custom detector: it fires live alerts from now on.", (DETECTOR_ID,), title="Activate a custom detector",
    examples=("dunetrace detector activate 42", "dunetrace detector activate 42 --json"),
)
_write(
    "detector_pause", "detector pause", "pause_custom_detector",
    "Pause a custom detector: it stops being evaluated.", (DETECTOR_ID,), title="Pause a custom detector",
    examples=("dunetrace detector pause 42", "dunetrace detector pause 42 --json"),
)
_write(
    "detector_delete", "detector delete", "delete_custom_detector", "Delete a custom detector.", (DETECTOR_ID,),
    examples=("dunetrace detector delete 42", "dunetrace detector delete 42 --json"),
    destructive=True, title="Delete a custom detector",
)
_write(
    "issue_resolve", "issue resolve", "resolve_issue",
    "Resolve an issue by hand, with notes saying what fixed it (it reopens if the failure recurs).",
    (ISSUE_ID, Param("resolution_notes", str, "What fixed it (searchable later).", flag="--notes", min_length=1,
                     max_length=5000)),
    examples=('dunetrace issue resolve 13 --notes "capped web_search retries in v2"',
              'dunetrace issue resolve 13 --notes "deduplicated payments_api calls" --json'),
    destructive=True, title="Resolve an issue",
)
