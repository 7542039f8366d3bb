"""The layering docs/architecture.md describes, checked on the source: who may import what, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dunetrace_cli"
EXCLUDE = ("knowledge/fixes/",)  # fix snippets are data, not modules


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        if any(part in rel for part in EXCLUDE):
            continue
        name = rel[:-3].replace("/", ".").removesuffix(".__init__")
        out[name] = path
    return out


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:  # `if TYPE_CHECKING:` imports do not run
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = _modules()


def test_no_import_cycle_at_module_level() -> None:
    graph = {
        name: {dep for dep in _imports(path, top_level_only=True) if dep in MODULES and dep != name}
        for name, path in MODULES.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep):] + [dep]
                # a package importing its own submodule is not a cycle worth failing on
                if not all(a.startswith(b + ".") or b.startswith(a + ".") for a, b in zip(cycle, cycle[1:])):
                    pytest.fail("import cycle: " + " -> ".join(cycle))
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("dunetrace_cli.queries", ("rich", "typer", "mcp", "dunetrace_cli.cli", "dunetrace_cli.mcp", "dunetrace_cli.render")),
    ("dunetrace_cli.domain", ("rich", "typer", "mcp", "httpx", "pydantic", "dunetrace_cli.client")),
    ("dunetrace_cli.local", ("typer", "mcp", "dunetrace_cli.cli", "dunetrace_cli.mcp")),
    ("dunetrace_cli.models", ("rich", "typer", "mcp", "httpx")),
    ("dunetrace_cli.render", ("typer", "mcp", "httpx")),
    ("dunetrace_cli.registry", ("rich", "typer", "mcp", "httpx", "pydantic")),
    ("dunetrace_cli.params", ("rich", "typer", "mcp", "httpx", "pydantic")),
    ("dunetrace_cli.ops", ("rich", "typer", "mcp", "httpx", "pydantic", "dunetrace_cli.models")),
])
def test_layers_import_only_what_they_may(layer: str, forbidden: tuple[str, ...]) -> None:
    for name, path in MODULES.items():
        if name != layer and not name.startswith(layer + "."):
            continue
        for dep in _imports(path, top_level_only=False):
            bad = [f for f in forbidden if dep == f or dep.startswith(f + ".")]
            assert not bad, f"{name} imports {dep}"


def test_only_the_mcp_package_imports_mcp() -> None:
    for name, path in MODULES.items():
        if name.startswith("dunetrace_cli.mcp"):
            continue
        for dep in _imports(path, top_level_only=False):
            assert dep != "mcp" and not dep.startswith("mcp."), f"{name} imports {dep}"


def test_modules_stay_small() -> None:
    """docs/architecture.md: a reader finds a behaviour in one place; no module grows past ~400 lines."""
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    big = {name: n for name, n in sizes.items() if n > 460}
    assert not big, f"split these along their seams: {big}"
