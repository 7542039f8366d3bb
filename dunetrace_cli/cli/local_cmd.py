"""`dunetrace local ...`: the embedded SQLite store (ingest, serve, status, reset, export)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dunetrace_cli.cli._run import guarded
from dunetrace_cli.errors import UsageError
from dunetrace_cli.local.paths import DEFAULT_STALL_SECONDS

app = typer.Typer(
    help=(
        "Embedded local store: take the SDK's events with no backend at all, then query them with "
        "DUNETRACE_API_URL=local."
    ),
    no_args_is_help=True,
)

DbOpt = Annotated[
    Optional[str],
    typer.Option(
        "--db",
        help="Store file (default: local.db in $DUNETRACE_HOME or the user data dir; DUNETRACE_API_URL=local:PATH also sets it).",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (for scripts and jq).")]

#: Files at least this big get a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 8 * 1024 * 1024
#: At most this many skipped-line reports are printed; the summary counts them all.
MAX_PROBLEM_LINES = 200


def _err():
    from dunetrace_cli.render.console import make_console

    return make_console(stderr=True)


def _out():
    from dunetrace_cli.render.console import make_console

    return make_console()


def db_path(spec: str | None) -> Path:
    """--db, else DUNETRACE_API_URL=local[:PATH], else the default store."""
    from dunetrace_cli.local.paths import resolve_db_path

    if spec is None:
        env = os.environ.get("DUNETRACE_API_URL", "").strip()
        if env == "local" or env.startswith("local:"):
            spec = env
    return resolve_db_path(spec)


def _fmt_time(ts: Any) -> str:
    if not isinstance(ts, (int, float)):
        return "-"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def _check_sources(files: list[str]) -> None:
    if files.count("-") > 1:
        raise UsageError("'-' (stdin) can be given only once.")
    for spec in files:
        if spec == "-":
            continue
        path = Path(spec)
        if not path.exists():
            raise UsageError(f"No such file: {spec}; check the path (use '-' to read stdin).")
        if path.is_dir():
            raise UsageError(f"{spec} is a directory; pass the JSONL files inside it, e.g. {spec}/*.jsonl.")
        if not os.access(path, os.R_OK):
            raise UsageError(f"Cannot read {spec} (permission denied); check its permissions.")


@app.command("ingest")
def ingest(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Argument(
            help="JSONL written by the SDK's FileBatchingEmitter/ConsoleBatchingEmitter ('-' = stdin; .gz accepted).",
            show_default=False, metavar="FILE",
        ),
    ],
    db: DbOpt = None,
    finalize_stalled: Annotated[
        bool,
        typer.Option(
            "--finalize-stalled",
            help="Analyse runs that have no terminal event now, as stalled (default: leave them pending).",
        ),
    ] = False,
    stall_seconds: Annotated[
        float,
        typer.Option("--stall-seconds", min=1, help="Unfinished runs silent this long are analysed as stalled."),
    ] = DEFAULT_STALL_SECONDS,
    json_: JsonOpt = False,
) -> None:
    """Load SDK event files into the store and analyse every completed run."""

    def body() -> None:
        from rich.markup import escape
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

        from dunetrace_cli.local.ingest import LineProblem
        from dunetrace_cli.local.load import ingest_sources
        from dunetrace_cli.local.store import open_store

        _check_sources(files)
        err = _err()
        shown = 0
        hidden = 0

        def report(problem: LineProblem) -> None:
            nonlocal shown, hidden
            if shown < MAX_PROBLEM_LINES:
                shown += 1
                err.print(f"{problem}", soft_wrap=True)
            else:
                hidden += 1

        bars: Progress | None = None
        if sys.stderr.isatty():
            from rich.console import Console

            bars = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )

        def progress(name: str, total: int | None) -> Callable[[str, int, int | None], None] | None:
            if bars is None or total is None or total < PROGRESS_MIN_BYTES:
                return None
            if not bars.live.is_started:
                bars.start()
            task = bars.add_task(escape(name), total=total)

            def hook(_name: str, done: int, _total: int | None) -> None:
                bars.update(task, completed=done)

            return hook

        store = open_store(db_path(db))
        try:
            summary = ingest_sources(
                store, files, report=report, progress=progress, finalize_stalled=finalize_stalled,
                stall_seconds=stall_seconds,
            )  # fmt: skip
        finally:
            if bars is not None and bars.live.is_started:
                bars.stop()
            store.close()
        if hidden:
            err.print(f"... and {hidden} more skipped lines (not shown).", soft_wrap=True)
        for problem in summary.detection_errors[:20]:
            err.print(f"detection failed for run {problem}", soft_wrap=True)
        out = _out()
        if json_:
            out.print(json.dumps(summary.as_dict(), indent=2), soft_wrap=True)
            return
        total = summary.events_new + summary.events_duplicate
        out.print(
            f"Ingested {total} events from {summary.files} file(s) into {summary.db}: "
            f"{summary.events_new} new, {summary.events_duplicate} duplicate, {summary.events_rejected} rejected.",
            soft_wrap=True,
        )
        out.print(
            f"Runs analysed: {summary.runs_completed} completed, {summary.runs_stalled} stalled, "
            f"{summary.runs_redetected} re-analysed; {summary.runs_pending} still running (no terminal event).",
            soft_wrap=True,
        )
        out.print(f"Signals found: {summary.signals_found}.", soft_wrap=True)
        if summary.runs_pending and not finalize_stalled:
            err.print(
                "Runs without a terminal event stay pending; pass --finalize-stalled to analyse them as stalled.",
                soft_wrap=True,
            )
        if summary.events_new:
            from dunetrace_cli.local.paths import default_db_path

            where = "local" if Path(summary.db) == default_db_path() else f"local:{summary.db}"
            err.print(f"Next: DUNETRACE_API_URL={where} dunetrace agents", soft_wrap=True)

    guarded(ctx, body, as_json=json_)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (no auth: keep it on loopback).")] = "127.0.0.1",
    ingest_port: Annotated[
        int, typer.Option("--ingest-port", min=0, max=65535, help="Port of the SDK ingest API (DUNETRACE_ENDPOINT).")
    ] = 8001,
    api_port: Annotated[
        int, typer.Option("--api-port", min=0, max=65535, help="Port of the Customer API (DUNETRACE_API_URL).")
    ] = 8002,
    db: DbOpt = None,
    stall_seconds: Annotated[
        float,
        typer.Option("--stall-seconds", min=1, help="Runs with no terminal event and no new event for this long are stalled."),
    ] = DEFAULT_STALL_SECONDS,
) -> None:
    """Serve the SDK's ingest API and the Customer API from the store until Ctrl-C."""

    def body() -> None:
        from dunetrace_cli.local.server import serve as run_server

        err = _err()
        run_server(
            db_path(db),
            host=host,
            ingest_port=ingest_port,
            api_port=api_port,
            stall_seconds=stall_seconds,
            log=lambda m: err.print(m, soft_wrap=True),
            warn=lambda m: err.print(f"warning: {m}", soft_wrap=True),
        )

    guarded(ctx, body)


@app.command("status")
def status(ctx: typer.Context, db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Where the store is, how big, and what it holds."""

    def body() -> None:
        from dunetrace_cli.errors import NotFound
        from dunetrace_cli.local.store import describe_store

        path = db_path(db)
        if not path.exists():
            raise NotFound(
                f"No local store at {path}; create one with `dunetrace local ingest FILE`, "
                "`dunetrace local serve` or `dunetrace demo`."
            )
        info = describe_store(path)
        out = _out()
        if json_:
            out.print(json.dumps(info, indent=2), soft_wrap=True)
            return
        rows = [
            ("Path", str(info["path"])),
            ("Size", _fmt_size(int(info["size_bytes"]))),  # type: ignore[call-overload]
            ("Events", str(info["events"])),
            ("Runs", f"{info['runs']} ({info['runs_processed']} analysed, {info['runs_pending']} pending)"),
            ("Signals", f"{info['signals']} (+{info['shadow_signals']} shadow)"),
            ("Agents", str(info["agents"])),
            ("Newest event", _fmt_time(info["newest_event_at"])),
            ("Last received", _fmt_time(info["newest_received_at"])),
        ]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            out.print(f"{key.ljust(width)}  {value}", soft_wrap=True)

    guarded(ctx, body, as_json=json_)


@app.command("reset")
def reset(
    ctx: typer.Context,
    db: DbOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the store (the database file and its WAL files)."""

    def body() -> None:
        from rich.prompt import Confirm

        from dunetrace_cli.local.store import Store

        path = db_path(db)
        files = [p for p in Store(path).files() if p.exists()]
        out = _out()
        if not files:
            out.print(f"Nothing to delete: no local store at {path}.", soft_wrap=True)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"Refusing to delete {path} without confirmation; pass --yes.")
            if not Confirm.ask(f"Delete the local store at {path}?", console=_err(), default=False):
                _err().print("Nothing deleted.", soft_wrap=True)
                raise typer.Exit(1)
        for p in files:
            try:
                p.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise UsageError(f"Cannot delete {p} ({exc.strerror}); stop `dunetrace local serve` and retry.") from exc
        out.print(f"Deleted the local store at {path}.", soft_wrap=True)

    guarded(ctx, body)


@app.command("export")
def export(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Option("--to", help="Base URL of a Dunetrace ingest service, e.g. http://localhost:8001.", show_default=False)
    ],
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="Environment variable holding the ingest API key.")
    ] = "DUNETRACE_API_KEY",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, max=500, help="Events per request.")] = 500,
    since: Annotated[
        Optional[str],
        typer.Option("--since", help="Only events at or after this: 24h, 7d, 2w or an ISO date (the events' own time).", show_default=False),
    ] = None,
    restart: Annotated[
        bool, typer.Option("--restart", help="Forget what this target already acknowledged and send everything again.")
    ] = False,
    db: DbOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Replay stored events, in order, to a real ingest endpoint (POST /v1/ingest); re-runs resume, no duplicates."""

    def body() -> None:
        from dunetrace_cli import clock
        from dunetrace_cli.errors import NotFound
        from dunetrace_cli.local.export import export_events, forget_checkpoint, progress_printer
        from dunetrace_cli.local.store import open_store
        from dunetrace_cli.params import parse_since

        path = db_path(db)
        if not path.exists():
            raise NotFound(f"No local store at {path}; pass --db with the store to export.")
        if not api_key_env.strip():
            raise UsageError("--api-key-env needs a variable name, e.g. DUNETRACE_API_KEY.")
        cutoff = parse_since(since, clock.now())
        key = os.environ.get(api_key_env, "")
        err = _err()
        tty = sys.stderr.isatty()
        store = open_store(path, create=False)
        try:
            if restart:
                forget_checkpoint(store, to)
            progress = progress_printer(lambda text: err.print(text, end="", soft_wrap=True, markup=False), tty=tty)
            summary = export_events(store, to, api_key=key, batch_size=batch_size, since=cutoff, progress=progress)
        finally:
            store.close()
        if tty and summary.events_sent:
            err.print("", soft_wrap=True)
        out = _out()
        if json_:
            out.print(json.dumps(summary.as_dict(), indent=2), soft_wrap=True)
            return
        skipped = f"; {summary.already_exported} already there, not sent again" if summary.already_exported else ""
        out.print(
            f"Exported {summary.events_sent} events in {summary.batches_sent} batch(es) to {summary.to}{skipped}"
            + (f" ({summary.retries} retried)." if summary.retries else "."),
            soft_wrap=True,
            markup=False,
        )

    guarded(ctx, body, as_json=json_)
