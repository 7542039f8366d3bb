"""Operation declarations, one module per area; :func:`dunetrace_cli.registry.load` imports each.

To add a command and its MCP tool: write the query, the model and the renderers, then add one
``register(Operation(...))`` in the area's module here (or a new module, listed in MODULES).
"""

MODULES: tuple[str, ...] = ("agents", "runs", "signals", "guide", "issues", "voice", "writes")
