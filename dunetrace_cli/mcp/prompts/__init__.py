"""The MCP server's prose as data: ``instructions.md`` and one ``<prompt>.md`` per prompt.

Each prompt file starts with a small front matter (``title``, ``description``, ``arguments``: names,
``name:int=24`` for a typed default) and its body is a ``str.format`` template over the arguments.
Loaded with :mod:`importlib.resources`, shipped in the wheel like ``guides/*.md``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

PROMPTS = ("triage_agent", "investigate_run", "deploy_check", "daily_audit")
_TYPES: dict[str, type] = {"str": str, "int": int}


@dataclass(frozen=True)
class PromptArg:
    name: str
    type: type = str
    default: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class PromptFile:
    name: str
    title: str
    description: str
    arguments: tuple[PromptArg, ...]
    template: str


def _read(name: str) -> str:
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def instructions() -> str:
    """The server's ``instructions``: paragraphs joined, one line each."""
    paragraphs = [" ".join(p.split()) for p in _read("instructions.md").split("\n\n") if p.strip()]
    return "\n\n".join(paragraphs)


def _argument(spec: str) -> PromptArg:
    name, _, default = spec.strip().partition("=")
    name, _, kind = name.partition(":")
    typ = _TYPES[kind or "str"]
    return PromptArg(name=name, type=typ, default=typ(default) if default else inspect.Parameter.empty)


def load(name: str) -> PromptFile:
    text = _read(f"{name}.md")
    _, head, body = text.split("---\n", 2)
    meta = dict(line.split(": ", 1) for line in head.strip().splitlines())
    args = tuple(_argument(a) for a in meta.get("arguments", "").split(",") if a.strip())
    return PromptFile(name=name, title=meta["title"], description=meta["description"], arguments=args,
                      template=body.strip())


def renderer(prompt: PromptFile, clean: Callable[[Any], str]) -> Callable[..., str]:
    """A function with the prompt's arguments as its signature (the SDK derives the prompt's arguments
    from it) that fills the template; string arguments pass through ``clean`` first."""

    def render(**kwargs: Any) -> str:
        values = {k: (clean(v) if isinstance(v, str) else v) for k, v in kwargs.items()}
        return prompt.template.format(**values)

    params = [
        inspect.Parameter(a.name, inspect.Parameter.KEYWORD_ONLY, default=a.default, annotation=a.type)
        for a in prompt.arguments
    ]
    render.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    render.__annotations__ = {a.name: a.type for a in prompt.arguments} | {"return": str}
    render.__name__ = prompt.name
    render.__doc__ = prompt.description
    return render
