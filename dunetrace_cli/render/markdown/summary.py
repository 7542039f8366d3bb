"""summarize_agent as Markdown."""

from __future__ import annotations

from dunetrace_cli.mcp.views.summary import Diagnosis, diagnosis
from dunetrace_cli.models.summary import AgentDiagnosis
from dunetrace_cli.render.markdown._common import UNTRUSTED_LABEL, code, join, next_lines, table, when


def markdown(view: Diagnosis, *, now: float) -> str:
    score = "no health score yet" if view.health is None else f"health {view.health}/100 ({view.grade})"
    n = view.counts
    lines = [
        f"# {code(view.agent_id)}: {score}",
        f"Last seen {when(view.last_seen, now)}; {n['runs']} processed runs: {n['failing_runs']} failing, "
        f"{n['clean_runs']} clean; {n['signals']} signals ({n['critical']} CRITICAL, {n['high']} HIGH).",
    ]
    if view.breakdown.rows:
        lines += ["Failure breakdown (systemic = >=10% of runs):", *table(view.breakdown)]
    else:
        lines.append("No failure signals recorded.")
    if view.newest_signals.rows:
        lines += [f"Newest signals ({UNTRUSTED_LABEL}):", *table(view.newest_signals)]
    if view.notes:
        lines.append("Notes: " + "; ".join(view.notes))
    return join(lines + next_lines(view.next_steps))


def render_diagnosis(result: AgentDiagnosis, *, now: float) -> str:
    text = markdown(diagnosis(result), now=now)
    from dunetrace_cli.render import insights_extra  # issue 8: a deploy regression and the cost, right under the name

    top = insights_extra.markdown_top(result)
    if result.cost_stats is not None:
        top.append(insights_extra.cost_line(result.cost_stats) + ".")
    if not top:
        return text
    first, _, rest = text.partition("\n")
    return "\n".join([first, *top, rest])
