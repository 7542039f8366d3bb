"""Examples for the hand-written commands (config, local, mcp, check, doctor, export, demo, help).

Registry operations carry theirs in ``ops/*.py`` (``Operation.examples``); these are the same for
the commands Typer declares directly, kept in one place and attached as each command's epilog by
:func:`attach` (cli/app.py). ``tests/cli/test_help_examples.py`` runs every one against the fake API.
"""

from __future__ import annotations

from typing import Any

EXAMPLES: dict[str, tuple[str, ...]] = {
    "check": (
        "dunetrace check clean-agent --min-score 80 --no-systemic",
        "dunetrace check clean-agent --max-severity MEDIUM --since 24h --format junit",
        "dunetrace check --from events.jsonl doc-qa --max-severity CRITICAL --since 30d",
    ),
    "doctor": ("dunetrace doctor", "dunetrace doctor --json"),
    "export": (
        "dunetrace export rag-agent --to ./rag-export",
        "dunetrace export retry-agent --to ./retry-export --since 30d --format csv",
    ),
    "demo": ("dunetrace demo --db ./demo.db", "dunetrace demo --db ./demo.db | head -20"),
    "help": ("dunetrace help", "dunetrace help signals", "dunetrace help local ingest"),
    "config show": ("dunetrace config show", "dunetrace config show --json"),
    "config set": (
        "dunetrace config set api_url https://dunetrace.example.com --profile prod",
        "dunetrace config set timeout 30",
    ),
    "config use": ("dunetrace config use default", "dunetrace config use default && dunetrace config show"),
    "config path": ("dunetrace config path", "dunetrace config path | xargs dirname"),
    "local ingest": ("dunetrace local ingest events.jsonl", "dunetrace local ingest events.jsonl --json"),
    "local serve": ("dunetrace local serve", "dunetrace local serve --api-port 8012 --ingest-port 8011"),
    "local status": ("dunetrace local status", "dunetrace local status --json"),
    "local reset": ("dunetrace local reset --yes", "dunetrace local reset --db ./demo.db --yes"),
    "local export": (
        "dunetrace local export --to http://127.0.0.1:8001",
        "dunetrace local export --to https://ingest.example.com --api-key-env DUNETRACE_INGEST_KEY --since 7d",
    ),
    "mcp serve": ("dunetrace mcp serve", "dunetrace mcp serve --http --port 8000", "dunetrace mcp serve --sse --http"),
    "mcp install": ("dunetrace mcp install claude-code --print", "dunetrace mcp install cursor --scope project --print"),
}


def epilog(examples: tuple[str, ...]) -> str:
    """The end of a command's --help: its examples, kept verbatim (click's \\b stops rewrapping)."""
    lines = "\n".join(f"  {example}" for example in examples)
    return f"\b\nExamples:\n{lines}"


def attach(app: Any, prefix: str = "") -> None:
    """Give every hand-written command of ``app`` (and its groups) its examples, unless it has some."""
    for info in getattr(app, "registered_commands", []):
        name = info.name or getattr(info.callback, "__name__", "")
        examples = EXAMPLES.get(f"{prefix}{name}")
        if examples and not info.epilog:
            info.epilog = epilog(examples)
    for group in getattr(app, "registered_groups", []):
        if group.typer_instance is not None and group.name:
            attach(group.typer_instance, f"{prefix}{group.name} ")
