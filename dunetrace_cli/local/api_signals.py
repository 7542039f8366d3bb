"""Signal rows as the server returns them: failure-type and severity filters (checked as the server
does), and the explanation fields added to every signal."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from starlette.exceptions import HTTPException

VALID_SEVERITIES = ("CRITICAL", "HIGH", "LOW", "MEDIUM")


_FAILURE_TYPE_SHAPE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
_OPEN_PREFIXES = ("CUSTOM_", "VOICE_")
# written by optional server services rather than by SDK detectors
_SERVER_ONLY_TYPES = frozenset(
    {
        "SEMANTIC_QUOTA_EXCEEDED",
        "EXTERNAL_INTEGRATION_DOWN",
        "HALLUCINATION",
        "TASK_COMPLETION",
        "TASK_UNDERSTANDING_FAILURE",
        "OFF_TOPIC_DRIFT",
        "USER_FRUSTRATION",
        "CONFUSION_LOOP",
        "SYCOPHANCY_SIGNAL",
    }
)


@lru_cache(maxsize=1)
def known_failure_types() -> frozenset[str]:
    names = set(_SERVER_ONLY_TYPES)
    try:
        from dunetrace.models import FailureType

        names |= {t.value for t in FailureType}
    except Exception:  # noqa: BLE001  # pragma: no cover - the SDK is a dependency
        pass
    try:
        from dunetrace.packs import PACK_REGISTRY

        for pack in PACK_REGISTRY.values():
            names |= {d.name for d in pack.detectors}
    except Exception:  # noqa: BLE001 - an optional SDK part: the names it adds are a bonus
        pass
    return frozenset(names)


def is_valid_failure_type(value: str) -> bool:
    upper = value.upper()
    if upper in known_failure_types() or upper.startswith(_OPEN_PREFIXES):
        return True
    return bool(_FAILURE_TYPE_SHAPE.match(upper))


def _check_signal_filters(severity: str | None, failure_type: str | None) -> None:
    if severity and severity.upper() not in VALID_SEVERITIES:
        raise HTTPException(422, f"Invalid severity {severity!r}. Valid: {list(VALID_SEVERITIES)}")
    if failure_type and not is_valid_failure_type(failure_type):
        raise HTTPException(
            422,
            f"Invalid failure_type {failure_type!r} — expected an UPPER_SNAKE_CASE name. "
            f"Known types: {', '.join(sorted(known_failure_types()))}",
        )


# ---------------------------------------------------------------------------------------------
# explanations


@lru_cache(maxsize=1)
def _explain_function() -> Callable[..., Any] | None:
    """The explainer of ``dunetrace_cli.knowledge`` (looked up once per process), or None if absent."""
    try:
        from dunetrace_cli.knowledge.explain import explain
    except ImportError:
        return None
    return explain


def _generic_explanation(failure_type: str, evidence: dict[str, Any], run_id: str, step_index: int) -> dict[str, Any]:
    """Used only when the explanation templates are not installed: the same keys, plain wording."""
    details = ", ".join(f"{key}: {value}" for key, value in evidence.items())
    return {
        "title": f"{failure_type.replace('_', ' ').title()} detected",
        "what": f"A {failure_type} condition was detected in run `{run_id}` at step {step_index}.",
        "why_it_matters": "The agent may not have done what it was meant to; the run's events show what happened.",
        "evidence_summary": details,
        "suggested_fixes": [
            {
                "description": "Open the run and read its events around this step",
                "language": "text",
                "code": f"run_id: {run_id}",
            }
        ],
    }


def _fix_dict(fix: Any) -> dict[str, Any]:
    if isinstance(fix, dict):
        get = fix.get
    else:
        def get(key: str, default: Any = "") -> Any:
            return getattr(fix, key, default)
    return {key: str(get(key, "") or "") for key in ("description", "language", "code")}


def explanation_fields(
    failure_type: str, evidence: dict[str, Any], *, run_id: str, step_index: int, severity: str, prose: bool = True
) -> dict[str, Any]:
    """``title``, ``what``, ``why_it_matters``, ``evidence_summary``, ``suggested_fixes`` for one signal row.

    ``prose=False`` (``explain=false``) keeps ``title`` and ``evidence_summary`` and empties the rest.
    If the explainer raises, the title falls back to the failure type and the prose is empty, as on the server.
    """
    explain = _explain_function()
    try:
        if explain is None:
            fields = _generic_explanation(failure_type, evidence, run_id, step_index)
        else:
            exp = explain(failure_type, dict(evidence), run_id=run_id, step_index=step_index, severity=severity)
            fields = {
                "title": str(exp.title),
                "what": str(exp.what),
                "why_it_matters": str(exp.why_it_matters),
                "evidence_summary": str(exp.evidence_summary),
                "suggested_fixes": [_fix_dict(f) for f in (exp.suggested_fixes or [])],
            }
    except Exception:  # noqa: BLE001 - explanations are best effort: a bad evidence shape keeps the signal
        fields = {
            "title": failure_type,
            "what": "",
            "why_it_matters": "",
            "evidence_summary": "",
            "suggested_fixes": [],
        }
    if not prose:
        fields["what"] = ""
        fields["why_it_matters"] = ""
        fields["suggested_fixes"] = []
    return fields


def _with_explanation(row: dict[str, Any], *, run_id: str, prose: bool = True) -> dict[str, Any]:
    row.update(
        explanation_fields(
            row["failure_type"],
            row["evidence"],
            run_id=run_id,
            step_index=row["step_index"],
            severity=row["severity"],
            prose=prose,
        )
    )
    return row


# ---------------------------------------------------------------------------------------------
# the app
