"""`dunetrace export AGENT --to DIR`: an agent's runs, run details and signals as files, resumable.

Files (agent data: 0600 in a 0700 directory):

- ``runs.ndjson`` / ``runs.csv``: the run summaries in the window;
- ``signals.ndjson`` / ``signals.csv``: the signals in the window, in the server's export shape;
- ``run-details.ndjson``: one run detail (events and signals) per line; nested, so NDJSON in both formats;
- ``export.json``: what was asked (agent, window start, format) and which parts are complete.

Run again with the same arguments after an interruption and it carries on: finished parts are kept
and run details already written are not fetched again. The window's start is fixed at the first run.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dunetrace_cli.cli._run import guarded, settings_for
from dunetrace_cli.cli.complete import source as complete_source

MANIFEST = "export.json"
DETAILS = "run-details.ndjson"
FORMATS = ("ndjson", "csv")
RUN_COLUMNS = ("run_id", "agent_id", "agent_version", "started_at", "completed_at", "exit_reason", "step_count",
               "total_tokens", "cost_usd", "signal_count", "has_signals")


def register(app: typer.Typer) -> None:
    app.command("export", rich_help_panel="Investigate")(export)


def export(
    ctx: typer.Context,
    agent: Annotated[str, typer.Argument(help="Agent id, as listed by `dunetrace agents`.", show_default=False,
                                         metavar="AGENT", autocompletion=complete_source("agents"))],
    to: Annotated[Path, typer.Option("--to", help="Directory to write (created 0700; resumable).", show_default=False)],
    since: Annotated[str, typer.Option("--since", metavar="WINDOW", help="Only newer than this: 24h, 7d, 2w or an ISO date.")] = "7d",
    fmt: Annotated[str, typer.Option("--format", "-F", metavar="FORMAT", help="ndjson or csv (run details are always NDJSON).")] = "ndjson",
    json_: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Export an agent's runs, run details and signals to files (resumable, with progress on stderr)."""

    def body() -> None:
        import asyncio

        from dunetrace_cli import clock
        from dunetrace_cli.client import ApiClient
        from dunetrace_cli.errors import UsageError
        from dunetrace_cli.params import parse_since

        chosen = fmt.lower()
        if chosen not in FORMATS:
            raise UsageError(f"invalid --format '{fmt}'. Valid: {', '.join(FORMATS)}.")
        cutoff = parse_since(since, clock.now())
        state = open_dir(to, agent, cutoff, chosen)
        settings = settings_for(ctx)

        async def run() -> dict[str, Any]:
            # long by design: each request keeps its own deadline, the export as a whole has none
            async with ApiClient(settings, clock=clock.now, command_deadline=False) as client:
                return await export_all(client, to, state)

        summary = asyncio.run(run())
        report(summary, to, as_json=json_)

    guarded(ctx, body, as_json=json_)


# ------------------------------------------------------------------ the directory and its manifest


def open_dir(path: Path, agent: str, cutoff: float | None, fmt: str) -> dict[str, Any]:
    """Create ``path`` (0700) or reopen an unfinished export of the same agent and format."""
    from dunetrace_cli.errors import UsageError
    from dunetrace_cli.render.sanitize import clean

    shown = clean(str(path), newlines=False)
    manifest = path / MANIFEST
    if path.exists() and not path.is_dir():
        raise UsageError(f"{shown} is a file: pass a directory to --to.")
    if manifest.is_file():
        try:
            state = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise UsageError(f"{shown}/{MANIFEST} is unreadable: remove the directory or export elsewhere.") from None
        if state.get("agent_id") != agent or state.get("format") != fmt:
            raise UsageError(
                f"{shown} holds an export of '{clean(str(state.get('agent_id')), newlines=False)}' as "
                f"{state.get('format')}: use another --to, or remove it to start over."
            )
        state["resumed"] = True
        return state
    if path.exists() and any(path.iterdir()):
        raise UsageError(f"{shown} is not empty and holds no export: pass a new or empty directory to --to.")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    state = {"agent_id": agent, "format": fmt, "since": cutoff, "done": [], "resumed": False}
    save_state(path, state)
    return state


def save_state(path: Path, state: dict[str, Any]) -> None:
    write_private(path / MANIFEST, json.dumps({k: v for k, v in state.items() if k != "resumed"}, indent=2) + "\n")


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value


def rows_text(rows: list[dict[str, Any]], fmt: str, columns: tuple[str, ...]) -> str:
    if fmt == "ndjson":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({c: _cell(row.get(c)) for c in columns})
    return buf.getvalue()


def written_details(path: Path) -> set[str]:
    """Run ids already in run-details.ndjson; a cut-off last line (an interrupted write) is dropped."""
    file = path / DETAILS
    if not file.exists():
        return set()
    data = file.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    if len(keep) != len(data):
        with open(file, "r+b") as fh:
            fh.truncate(len(keep))
    done = set()
    for line in keep.splitlines():
        try:
            done.add(str(json.loads(line)["run_id"]))
        except (ValueError, KeyError, TypeError):
            continue
    return done


def read_run_ids(file: Path, fmt: str) -> list[str]:
    text = file.read_text(encoding="utf-8")
    if fmt == "ndjson":
        return [str(json.loads(line)["run_id"]) for line in text.splitlines() if line.strip()]
    import csv
    import io

    return [row["run_id"] for row in csv.DictReader(io.StringIO(text)) if row.get("run_id")]


# ------------------------------------------------------------------ the export


async def export_all(client: Any, path: Path, state: dict[str, Any]) -> dict[str, Any]:
    from dunetrace_cli.queries.export import EXPORT_KEYS, run_details, window_runs, window_signals

    agent, fmt, since = state["agent_id"], state["format"], state.get("since")
    ext = "ndjson" if fmt == "ndjson" else "csv"
    counts = state.setdefault("counts", {})
    if "runs" in state["done"]:
        run_ids = read_run_ids(path / f"runs.{ext}", fmt)  # resume on the run list written before
    else:
        runs = await window_runs(client, agent, since)
        run_ids = [str(r["run_id"]) for r in runs if r.get("run_id")]
        write_private(path / f"runs.{ext}", rows_text(runs, fmt, RUN_COLUMNS))
        counts["runs"] = len(runs)
        state["done"].append("runs")
        save_state(path, state)
    if "signals" not in state["done"]:
        signals, source = await window_signals(client, agent, since)
        write_private(path / f"signals.{ext}", rows_text(signals, fmt, EXPORT_KEYS))
        counts["signals"] = len(signals)
        state["signals_source"] = source
        state["done"].append("signals")
        save_state(path, state)
    if "details" not in state["done"]:
        have = written_details(path)
        todo = [rid for rid in run_ids if rid not in have]
        fd = os.open(path / DETAILS, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        bar = _progress(len(have) + len(todo), len(have))
        try:
            with os.fdopen(fd, "a", encoding="utf-8") as fh:

                def done(run_id: str, body: dict[str, Any]) -> None:
                    fh.write(json.dumps(body, ensure_ascii=False) + "\n")
                    fh.flush()
                    bar(1)

                await run_details(client, todo, done)
        finally:
            bar(0, stop=True)
        counts["run_details"] = len(have) + len(todo)
        state["fetched_details"] = len(todo)
        state["done"].append("details")
        save_state(path, state)
    return state


def _progress(total: int, completed: int) -> Any:
    """A progress bar on stderr when it is a terminal; else a no-op. Returns advance(n, stop=False)."""
    if not sys.stderr.isatty() or total == 0:
        return lambda n, stop=False: None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("run details"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=True)
    task = progress.add_task("details", total=total, completed=completed)
    progress.start()

    def advance(n: int, stop: bool = False) -> None:
        if stop:
            progress.stop()
        else:
            progress.advance(task, n)

    return advance


def report(state: dict[str, Any], path: Path, *, as_json: bool) -> None:
    from dunetrace_cli.render.sanitize import clean

    counts = state.get("counts", {})
    ext = "ndjson" if state["format"] == "ndjson" else "csv"
    files = {f"runs.{ext}": counts.get("runs", 0), f"signals.{ext}": counts.get("signals", 0),
             DETAILS: counts.get("run_details", 0)}
    if as_json:
        body = {"agent_id": state["agent_id"], "dir": str(path), "format": state["format"], "since": state.get("since"),
                "files": files, "signals_source": state.get("signals_source"), "resumed": state.get("resumed", False),
                "fetched_details": state.get("fetched_details", 0)}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
        return
    where = clean(str(path), newlines=False)
    parts = ", ".join(f"{n} in {name}" for name, n in files.items())
    sys.stdout.write(f"exported {clean(state['agent_id'], newlines=False)} to {where}: {parts}\n")
    if state.get("resumed"):
        sys.stderr.write(f"dunetrace: resumed an earlier export ({state.get('fetched_details', 0)} run details fetched now).\n")
