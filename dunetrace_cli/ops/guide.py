"""Offline operations: instrumentation guides."""

from dunetrace_cli.params import Param
from dunetrace_cli.registry import Operation, register

V = "dunetrace_cli.mcp.views"  # the compact MCP views (structuredContent)

register(Operation(
    name="guide", cli="guide", mcp="get_instrumentation_guide", title="Instrumentation guide", panel="Set up",
    mcp_model=f"{V}.guide:GuideView", mcp_view=f"{V}.guide:guide",
    query="dunetrace_cli.queries.guides:get_guide", model="dunetrace_cli.queries.guides:Guide",
    table="dunetrace_cli.render.tables:render_guide", markdown="dunetrace_cli.render.markdown:render_guide",
    text="dunetrace_cli.render.document:guide_text",  # piped: its own Markdown, no rich or pygments
    offline=True,
    params=(
        Param("framework", str, "python, langchain, typescript, tools, otel, haystack, crewai, openai-agents, "
              "policies or voice (aliases such as langgraph, ts, opentelemetry work; any case).",
              metavar="FRAMEWORK", complete="frameworks", min_length=1, max_length=64),
    ),
    summary="Instrumentation guide for a framework (works offline).",
    description="How to instrument an agent with Dunetrace for a framework (install, code, what is tracked).",
    examples=("dunetrace guide langchain", "dunetrace guide ts"),
))
