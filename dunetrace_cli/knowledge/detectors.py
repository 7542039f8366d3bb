"""Reference data for every failure type the Dunetrace SDK 0.5.7 can emit (the records: detectors.toml).

One :class:`DetectorInfo` per built-in detector: the 31 in the SDK's
``TIER1_DETECTORS`` plus the three that run outside ``run_detectors``
(PROMPT_INJECTION_SIGNAL, scanned on the raw input when a run starts;
HANDOFF_CONTEXT_LOSS and DELEGATION_LOOP, which need more than one run and are
evaluated by the backend). Thresholds quoted here are the detector class
defaults in ``dunetrace/detectors.py``; a backend may tune them per agent.

Server-side failure types that have no SDK detector (semantic evaluators,
``CUSTOM_*`` and ``VOICE_*`` pack detectors) are not listed: callers must treat
``failure_type`` as an open string and handle ``describe()`` returning ``None``.
"""

from __future__ import annotations

import tomllib

from pydantic import BaseModel, ConfigDict


class DetectorInfo(BaseModel):
    """What one detector looks for, what it needs, and the usual remedy."""

    model_config = ConfigDict(frozen=True)

    failure_type: str
    default_severity: str
    """Severity the detector assigns, e.g. ``"HIGH"`` or ``"HIGH or CRITICAL"`` when computed."""
    category: str
    """One of: tools, reasoning, context, retrieval, reliability, security,
    cost/latency, multi-agent, instrumentation."""
    catches: str
    needs: str
    typical_fix: str


def _load() -> tuple[tuple[str, ...], tuple[DetectorInfo, ...]]:
    from importlib.resources import files

    data = tomllib.loads(files("dunetrace_cli.knowledge").joinpath("detectors.toml").read_text(encoding="utf-8"))
    return tuple(data["categories"]), tuple(DetectorInfo(**row) for row in data["detector"])


#: Display order of categories in the reference, and every detector in display order (detectors.toml).
CATEGORIES, _ALL = _load()

#: Every failure type the SDK can emit -> its reference entry.
DETECTORS: dict[str, DetectorInfo] = {info.failure_type: info for info in _ALL}


def describe(failure_type: str) -> DetectorInfo | None:
    """Reference entry for ``failure_type`` (case-insensitive), or ``None`` if unknown."""
    if not isinstance(failure_type, str):
        return None
    return DETECTORS.get(failure_type.strip().upper().replace("-", "_").replace(" ", "_"))


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def detector_reference_markdown() -> str:
    """Compact Markdown reference of all detectors, grouped by category."""
    lines = [
        "# Dunetrace detectors",
        "",
        f"{len(DETECTORS)} built-in failure types (dunetrace SDK 0.5.7 class defaults). "
        "Signals are produced by the backend after a run ends (PROMPT_INJECTION_SIGNAL is "
        "found by the SDK at run start). Baseline-based checks need the agent's run history. "
        "Other types (custom, VOICE_*, semantic) may appear and are not listed.",
        "",
        "| Failure type | Severity | Catches | Needs |",
        "|---|---|---|---|",
    ]
    for category in CATEGORIES:
        for info in _ALL:
            if info.category != category:
                continue
            lines.append(
                f"| {info.failure_type} ({info.category}) | {_cell(info.default_severity)} | "
                f"{_cell(info.catches)} | {_cell(info.needs)} |"
            )
    lines.append("")
    return "\n".join(lines)


__all__ = ["CATEGORIES", "DETECTORS", "DetectorInfo", "describe", "detector_reference_markdown"]
