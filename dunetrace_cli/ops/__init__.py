"""Operation declarations, one module per area; :func:`dunetrace_cli.registry.load` imports each.

To add a command and its MCP tool: write the query, the model and the renderers, then add one
``register(Operation(...))`` in the area's module here, or drop a new module in this package:
every module is loaded (the core areas first, so the MCP catalog keeps upstream's order).
"""

from __future__ import annotations

import pkgutil

FIRST: tuple[str, ...] = ("agents", "runs", "signals", "guide")


def modules() -> tuple[str, ...]:
    found = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return tuple(name for name in FIRST if name in found) + tuple(name for name in found if name not in FIRST)


MODULES: tuple[str, ...] = modules()
