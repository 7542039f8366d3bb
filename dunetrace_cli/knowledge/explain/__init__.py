"""Human explanations for detected signals, built from their evidence.

The Dunetrace backend adds ``title``, ``what``, ``why_it_matters``,
``evidence_summary`` and ``suggested_fixes`` to every signal it returns; the SDK
does not. :func:`explain` produces the same fields locally, deterministically
and without any network access, so signals detected by an embedded store read
the same way as signals fetched from a server.

There is one template per failure type in
:data:`dunetrace_cli.knowledge.detectors.DETECTORS`. Templates read the
evidence keys the SDK 0.5.7 detectors write (and the older backend's smaller
evidence shapes). Evidence is untrusted input: any key may be missing, ``None``
or of an unexpected type, and ``explain`` never raises. When a template cannot
use the evidence it falls back to generic wording for that failure type; an
unknown failure type gets a generic explanation.
"""

from __future__ import annotations

from typing import Any

from dunetrace_cli.knowledge.explain._generic import _CATEGORY_WHY, _generic
from dunetrace_cli.knowledge.explain._shared import _TEMPLATES
from dunetrace_cli.knowledge.explain._text import _cap_prose, _Ctx, _Ev, _int, _Parts, _pretty, _text, _txt
from dunetrace_cli.knowledge.explain.models import Explanation, SuggestedFix

# ── entry point ───────────────────────────────────────────────────────────────


def _clean(parts: _Parts, fallback: _Parts) -> Explanation:
    def pick(value: Any, alt: str) -> str:
        return _cap_prose(value.strip()) if isinstance(value, str) and value.strip() else alt

    fixes = [f for f in parts.fixes if isinstance(f, SuggestedFix)][:3] or fallback.fixes[:3]
    return Explanation(
        title=pick(parts.title, fallback.title),
        what=pick(parts.what, fallback.what),
        why_it_matters=pick(parts.why, fallback.why),
        evidence_summary=pick(parts.summary, fallback.summary),
        suggested_fixes=fixes,
    )


def explain(
    failure_type: str,
    evidence: dict,
    *,
    run_id: str = "",
    step_index: int = 0,
    severity: str = "",
) -> Explanation:
    """Explain one signal in plain language, using the facts in its evidence.

    Never raises: unexpected evidence shapes degrade to generic wording, and
    unknown failure types get a generic explanation.
    """
    try:
        ft = (failure_type if isinstance(failure_type, str) else str(failure_type or "")).strip().upper()
    except Exception:  # noqa: BLE001 - evidence is untrusted: explain() never raises
        ft = ""
    ft = ft.replace("-", "_").replace(" ", "_")
    ctx = _Ctx(
        run_id=run_id.strip() if isinstance(run_id, str) else "",
        step=_int(step_index),
        severity=(_text(severity, 20) or "").upper() if isinstance(severity, str) else "",
    )
    ev = _Ev(evidence)
    try:
        fallback = _generic(ft, ev, ctx)
    except Exception:  # noqa: BLE001 - evidence is untrusted: explain() never raises
        fallback = _Parts(
            f"{_pretty(ft)} detected",
            "The detector flagged this run.",
            _CATEGORY_WHY["reliability"],
            "No evidence details could be read for this signal.",
            [_txt("Review the run", "Open the run's event timeline and compare it with a clean run.")],
        )
    template = _TEMPLATES.get(ft)
    if template is None:
        return _clean(fallback, fallback)
    try:
        parts = template(ev, ctx)
    except Exception:  # noqa: BLE001 - evidence is untrusted: explain() never raises
        return _clean(fallback, fallback)
    try:
        return _clean(parts, fallback)
    except Exception:  # noqa: BLE001 - evidence is untrusted: explain() never raises
        return _clean(fallback, fallback)


# the template modules register themselves in _shared._TEMPLATES on import
from dunetrace_cli.knowledge.explain import multi_agent, reasoning, reliability, retrieval, tools  # noqa: F401, E402

__all__ = ["Explanation", "SuggestedFix", "explain"]
