"""list_voice_calls, list_policies and list_custom_detectors as Markdown, rendered from their views."""

from __future__ import annotations

from typing import Any

from dunetrace_cli.mcp.views.voice import CallPage, DetectorPage, PolicyPage, call_page, detector_page, policy_page
from dunetrace_cli.models.calls import CallList
from dunetrace_cli.models.detectors import DetectorList
from dunetrace_cli.models.policies import PolicyList
from dunetrace_cli.render.markdown._common import UNTRUSTED_LABEL, code, join, next_lines, page_line, table


def _head(title: str, filters: dict[str, Any], page_text: str) -> str:
    scope = " (" + ", ".join(f"{k}={code(v)}" for k, v in filters.items()) + ")" if filters else ""
    return f"# {title}{scope}: {page_text}"


def _body(head: str, view: Any, rows: Any, empty: str, extra: list[str]) -> str:
    notes = [f"Note: {code(n)}" for n in getattr(view, "notes", None) or []]
    if not rows.rows:
        return join([head, "None at this offset." if view.page.past_end else empty, *notes,
                     *next_lines(view.next_steps)])
    return join([head, f"({UNTRUSTED_LABEL})", *extra, *table(rows), *notes, *next_lines(view.next_steps)])


def calls_markdown(view: CallPage) -> str:
    head = _head("Voice calls, newest first", view.filters, page_line(view.page, "calls"))
    return _body(head, view, view.calls, "No voice calls match.", ["silence_pct is a 0-1 fraction."])


def policies_markdown(view: PolicyPage) -> str:
    head = _head("Policies", view.filters, page_line(view.page, "policies"))
    return _body(head, view, view.policies, "No policies configured.", [])


def detectors_markdown(view: DetectorPage) -> str:
    head = _head("Custom detectors", view.filters, page_line(view.page, "detectors"))
    return _body(head, view, view.detectors, "No custom detectors.",
                 ["Status: shadow = evaluated silently, active = alerts, paused = not evaluated."])


def render_call_page(result: CallList, *, now: float) -> str:
    return calls_markdown(call_page(result))


def render_policy_page(result: PolicyList, *, now: float) -> str:
    return policies_markdown(policy_page(result))


def render_detector_page(result: DetectorList, *, now: float) -> str:
    return detectors_markdown(detector_page(result))


def markdown(view: CallPage | PolicyPage | DetectorPage, *, now: float) -> str:
    """The text of any of the three views (the module's entry point, like every module here)."""
    if isinstance(view, CallPage):
        return calls_markdown(view)
    return policies_markdown(view) if isinstance(view, PolicyPage) else detectors_markdown(view)
