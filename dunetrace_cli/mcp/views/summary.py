"""summarize_agent: the one-shot diagnosis, compact."""

from __future__ import annotations

from dunetrace_cli.mcp.views._base import UNTRUSTED, Step, Table, View, short_run, step, steps, text, when
from dunetrace_cli.mcp.views.signals import worst_signal
from dunetrace_cli.models.summary import AgentDiagnosis

BREAKDOWN_COLUMNS = ["failure_type", "signals", "runs_affected", "pct_of_runs", "worst_severity", "systemic"]
NEWEST_COLUMNS = ["id", "severity", "failure_type", "run_id", "detected_at", "title", "first_fix"]
MAX_TYPES = 15


class Diagnosis(View):
    """Health, failing vs clean runs, failure breakdown (systemic = >=10% of runs), newest signals."""

    agent_id: str
    health: int | None = None  # 0-100; absent before 3 runs in 30 days
    grade: str
    last_seen: str | None = None
    counts: dict[str, int]  # runs (processed), failing_runs, clean_runs, signals, critical, high
    breakdown: Table  # BREAKDOWN_COLUMNS, most runs affected first
    newest_signals: Table  # NEWEST_COLUMNS
    notes: list[str] | None = None
    next_steps: list[Step]
    untrusted: str = UNTRUSTED


def diagnosis(result: AgentDiagnosis) -> Diagnosis:
    agent, health = result.agent, result.health
    breakdown = [
        [text(b.failure_type, 64), b.signals, b.runs_affected, b.pct_of_runs, text(b.worst_severity, 16), b.is_systemic]
        for b in result.breakdown[:MAX_TYPES]
    ]
    newest = [
        [d.signal.id, text(d.signal.severity, 16), text(d.signal.failure_type, 64), short_run(d.signal.run_id),
         when(d.signal.detected_at), text(d.signal.title, 80),
         text(d.first_fix.description, 100) if d.first_fix and d.first_fix.description else None]
        for d in result.newest_signals
    ]
    plan = list(result.next_steps) if any(not isinstance(s, str) for s in result.next_steps) else _plan(result)
    notes = [text(n, 200) for n in [*result.notes, *health.notes]]
    if len(result.breakdown) > MAX_TYPES:
        notes.append(f"{len(result.breakdown) - MAX_TYPES} more failure types not listed")
    return Diagnosis(
        agent_id=text(agent.agent_id, 64), health=health.score, grade=health.grade, last_seen=when(agent.last_seen),
        counts={"runs": result.runs_total, "failing_runs": result.failing_runs, "clean_runs": result.clean_runs,
                "signals": agent.signal_count, "critical": agent.critical_count, "high": agent.high_count},
        breakdown=Table(columns=BREAKDOWN_COLUMNS, rows=breakdown),
        newest_signals=Table(columns=NEWEST_COLUMNS, rows=newest),
        notes=notes or None, next_steps=steps(plan),
    )


def _plan(result: AgentDiagnosis) -> list:
    """Next steps for a query that has not yet put them on the result as data."""
    agent_id = result.agent.agent_id
    worst = worst_signal([d.signal for d in result.newest_signals])
    if worst is None:
        return [step("runs", "no failures recorded: check the runs look complete", agent_id=agent_id)]
    plan = [step("signal", f"the fix for the {worst.severity} {text(worst.failure_type, 64)}", signal_id=worst.id)]
    if worst.run_id:
        plan.append(step("run", "that run step by step", run_id=worst.run_id[:12]))
    if any(b.is_systemic for b in result.breakdown):
        plan.append(step("patterns", "systemic failures and their trend", agent_id=agent_id))
    return plan
