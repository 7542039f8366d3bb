"""Generic wording: for failure types without a template, and as every template's fallback."""

from __future__ import annotations

from dunetrace_cli.knowledge.detectors import DETECTORS
from dunetrace_cli.knowledge.explain._text import _c, _Ctx, _Ev, _names, _num, _Parts, _pretty, _text, _txt

# ── generic fallbacks ─────────────────────────────────────────────────────────

_CATEGORY_WHY = {
    "tools": "Tool misuse wastes calls and tokens and often ends without a useful answer.",
    "reasoning": "The agent's decisions did not match what actually happened in the run, so its answer may be wrong or missing.",
    "context": "Oversized or cut-off context makes answers more expensive and less reliable.",
    "retrieval": "Answers that are not grounded in retrieved documents can be confidently wrong.",
    "reliability": "Failures like this stop the agent from completing the task and tend to repeat.",
    "cost/latency": "The run cost more time or money than it should have.",
    "security": "Untrusted content may be steering the agent; check what it did afterwards.",
    "multi-agent": "Work was lost or repeated between agents, so the final answer may rest on missing results.",
    "instrumentation": "Some checks could not run because the telemetry was incomplete.",
}


def _generic_summary(ev: _Ev) -> str:
    items: list[str] = []
    try:
        pairs = list(ev.raw.items())
    except Exception:  # noqa: BLE001 - evidence is untrusted: explain() never raises
        pairs = []
    for key, value in pairs:
        if not isinstance(key, str):
            continue
        label = _text(key.replace("_", " "), 40)
        if label is None or not any(ch.isalnum() for ch in label):
            continue  # a key of punctuation only ("`", "'") names nothing a reader can use
        if isinstance(value, bool):
            shown: str | None = "yes" if value else "no"
        elif isinstance(value, int):
            shown = _num(value)
        elif isinstance(value, (list, tuple)):
            names = _names(value, limit=4)
            shown = ", ".join(names) if names else None
        else:
            shown = _text(value, 60)
        if shown is not None:
            items.append(f"{label}: {shown}")
        if len(items) >= 6:
            break
    if not items:
        return "No evidence details were recorded for this signal."
    return "Evidence: " + "; ".join(items) + "."


def _display_type(failure_type: str, ev: _Ev) -> str:
    if failure_type == "CUSTOM":
        name = ev.text("detector_name")
        if name:
            return name
    return failure_type or "SIGNAL"


def _generic(failure_type: str, ev: _Ev, ctx: _Ctx) -> _Parts:
    shown = _display_type(failure_type, ev)
    info = DETECTORS.get(failure_type)
    where = []
    if ctx.run_id:
        where.append(f"run {_c(ctx.run_id[:12])}")
    if ctx.step is not None:
        where.append(f"step {ctx.step}")
    loc = f" ({', '.join(where)})" if where else ""
    title = f"{_pretty(shown)} detected"
    if info is not None:
        what = f"{info.catches}{loc}".strip()
        if not what.endswith("."):
            what += "."
        why = _CATEGORY_WHY.get(info.category, _CATEGORY_WHY["reliability"])
        fixes = [_txt("Typical fix", info.typical_fix)]
    else:
        what = f"The detector {shown} flagged this run{loc}."
        why = (
            "This is not a built-in Dunetrace failure type (it may come from a custom or pack "
            "detector, or a newer backend). Review the run's events around the flagged step."
        )
        fixes = []
    fixes.append(
        _txt(
            "Review the run",
            "Open the run's event timeline"
            + (f" around step {ctx.step}" if ctx.step is not None else "")
            + " and compare it with a clean run of the same agent.",
        )
    )
    sev = f" Severity: {ctx.severity}." if ctx.severity else ""
    return _Parts(title, what + sev, why, _generic_summary(ev), fixes[:3])
