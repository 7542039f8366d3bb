"""`dunetrace mcp serve`: the query layer as MCP tools.

Only :mod:`dunetrace_cli.mcp.server` imports the ``mcp`` SDK; import it lazily
(inside a command) so ``dunetrace --help`` never loads the SDK.
"""
