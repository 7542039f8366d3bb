"""Lazy re-exports: a package names what it offers without importing every module at start-up.

``__getattr__ = lazy_exports(__name__, {"name": "module", ...}, globals())`` imports a name's home
module on first use (relative to the package, or absolute with a leading ``dunetrace_cli.``) and
caches the value in the package's namespace, so later lookups are plain attribute reads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, homes: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = home if home.startswith("dunetrace_cli.") else f"{package}.{home}"
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
