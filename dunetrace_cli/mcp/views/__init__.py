"""Compact MCP view models: one per tool result, built from the full query result.

The CLI's ``--json`` prints the full query model; an MCP tool answers with the view instead (its
``structuredContent``, with the view's schema as the tool's ``outputSchema``), and its Markdown text
is rendered from the same view (``dunetrace_cli.render.markdown``), so both say the same facts.
Registry entries name them: ``mcp_model="dunetrace_cli.mcp.views.<module>:<Class>"`` and
``mcp_view="dunetrace_cli.mcp.views.<module>:<function>"`` (``(result) -> view``).

A new read tool gets a view here when its full result is larger than a model needs; the budget test
(``tests/mcp/test_budget.py``) and ``bench/mcp_budget.py`` say when that is.
"""
