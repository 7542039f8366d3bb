"""`dunetrace guide FRAMEWORK`: how to instrument an agent (our own packaged docs)."""

from __future__ import annotations

from typing import Annotated

import typer

from dunetrace_cli.cli._options import JsonOpt
from dunetrace_cli.cli._run import emit, guarded


def register(app: typer.Typer) -> None:
    @app.command("guide", rich_help_panel="Set up")
    def guide(
        ctx: typer.Context,
        framework: Annotated[
            str, typer.Argument(help="python, langchain, typescript, tools, otel, haystack (or an alias).", show_default=False)
        ],
        json_: JsonOpt = False,
    ) -> None:
        """Instrumentation guide for a framework (works offline)."""

        def body() -> None:
            from dunetrace_cli.queries.guides import get_guide

            result = get_guide(framework=framework)
            if json_:
                emit(result, as_json=True, now=0.0)
                return
            from dunetrace_cli.render.console import make_console
            from dunetrace_cli.render.tables import render_markdown_doc

            make_console().print(render_markdown_doc(result.markdown))

        guarded(ctx, body, as_json=json_)
