"""`dunetrace patterns AGENT --type T`: one failure type in depth (the renderer lives with the issue tables)."""

from __future__ import annotations

from dunetrace_cli.render.tables_issues import pattern_detail as render

__all__ = ["render"]
