"""Command-line values converted without pydantic, where the result is certain.

Typer 0.29 converts every parameter value with a pydantic ``TypeAdapter``, built the first time the
parameter is processed, even when its value is the default ``None``: so any command with a string
option imports pydantic (~250 ms at start-up), `guide` and `config show` included. Typer 0.29 has no
option for another converter (no ``click_type``; a ``parser=`` is run inside a TypeAdapter too).

So the parameters of the commands typer builds become :class:`PlainOption` / :class:`PlainArgument`
(:func:`adopt`: the root group's own and those of each command it hands out): subclasses of typer's public
``TyperOption`` / ``TyperArgument`` that override click's ``Parameter.process_value``. A value whose
pydantic result is known exactly (a string, a plain decimal number inside the range, a list of
strings, a path without checks to make) is converted there; anything else, every invalid value
included, goes to typer's own ``process_value``: the error sentences (``Input should be a valid
integer, ...``) stay typer's own, and so does every edge case. A parameter of another kind (not a
typer one, or one without the attributes read here) is left as typer built it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.core import TyperArgument, TyperOption

_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_UNSET = object()


def _process(param: Any, ctx: Any, value: Any, typers_own: Callable[[Any, Any], Any]) -> Any:
    """``process_value`` with the plain values converted here (see the module doc); typer's for the rest."""
    converted = plain_value(param, value)
    if converted is _UNSET or (param.required and param.value_is_missing(converted)):
        return typers_own(ctx, value)  # typer's converter: its error sentences
    if param.callback is not None:
        converted = param.callback(ctx, param, converted)
    return converted


# Single inheritance and no state of their own, so that a typer parameter can become one in place (adopt)
class PlainOption(TyperOption):
    """A typer option whose plain values are converted without pydantic."""

    def process_value(self, ctx: Any, value: Any) -> Any:
        return _process(self, ctx, value, super().process_value)


class PlainArgument(TyperArgument):
    """A typer argument whose plain values are converted without pydantic."""

    def process_value(self, ctx: Any, value: Any) -> Any:
        return _process(self, ctx, value, super().process_value)


_PLAIN_CLASS: dict[type, type] = {TyperOption: PlainOption, TyperArgument: PlainArgument}


def adopt(command: Any, ctx: Any = None) -> Any:
    """Make the typer parameters of ``command`` and of its subcommands plain-converting; returns ``command``.

    With a context (the root's: the help option names are the root's), each command's help option,
    which click makes on first use and keeps, is made now and adopted too.
    """
    params = list(getattr(command, "params", None) or [])
    if ctx is not None and callable(getattr(command, "get_help_option", None)):
        params.append(command.get_help_option(ctx))
    adopt_params(params)
    for sub in (getattr(command, "commands", None) or {}).values():
        adopt(sub, ctx)
    return command


def adopt_params(params: list[Any]) -> list[Any]:
    """Make each parameter of exactly typer's classes with a plain-convertible type plain-converting
    (in place: the same object, now of the subclass); returns ``params``. Idempotent."""
    for param in params:
        plain = _PLAIN_CLASS.get(type(param))
        if plain is not None and _plain_ok(param):
            param.__class__ = plain  # a subclass with one method more and no state: nothing to copy
    return params


def _plain_ok(param: Any) -> bool:
    descriptor = getattr(param, "type_descriptor", None)
    info = getattr(descriptor, "parameter_info", None)
    if descriptor is None or info is None or not hasattr(descriptor, "annotation"):
        return False
    return not (getattr(descriptor, "is_file", True) or getattr(descriptor, "is_choice", True)
                or getattr(info, "parser", None) is not None or getattr(info, "click_type", None) is not None)


def plain_value(param: Any, value: Any) -> Any:
    """What typer's converter makes of ``value`` for ``param`` when that is certain, else ``_UNSET``."""
    multi = param.multiple or param.nargs == -1
    if value is None:  # typer: an empty tuple for a multi-value parameter, else None (no conversion)
        return () if multi else None
    descriptor = param.type_descriptor
    annotation = descriptor.annotation
    info = descriptor.parameter_info
    if multi != (getattr(annotation, "__origin__", None) is list):
        return _UNSET  # e.g. a string for a multi-value parameter: typer's "Value must be an iterable."
    if multi:
        if getattr(annotation, "__args__", None) == (str,) and isinstance(value, (list, tuple)) \
                and all(isinstance(v, str) for v in value):
            return list(value)
        return _UNSET
    if annotation is str:
        return value if isinstance(value, str) else _UNSET
    if annotation is bool:
        return value if isinstance(value, bool) else _UNSET
    if annotation is int or annotation is float:
        number = _number(annotation, value)
        if number is _UNSET or info.clamp:
            return _UNSET
        if (info.min is not None and number < info.min) or (info.max is not None and number > info.max):
            return _UNSET  # typer's message ("Input should be greater than or equal to 1")
        return number
    if annotation is Path and isinstance(value, str):
        return _path(value, info)
    return _UNSET


def _path(value: str, info: Any) -> Any:
    """``Path(value)`` where typer's path checks (all off but ``readable``) cannot refuse it."""
    checks = (info.exists, info.resolve_path, info.allow_dash, info.writable, info.path_type is not None,
              not info.file_okay, not info.dir_okay)
    if not value or "\x00" in value or any(checks):
        return _UNSET
    if os.path.exists(value) and info.readable and not os.access(value, os.R_OK):
        return _UNSET  # typer's "... is not readable."
    return Path(value)


def _number(annotation: type, value: Any) -> Any:
    if isinstance(value, bool):
        return _UNSET
    if isinstance(value, str):
        if not (_INT if annotation is int else _FLOAT).fullmatch(value):
            return _UNSET
        return annotation(value)
    if isinstance(value, int) or (annotation is float and isinstance(value, float)):
        return annotation(value)
    return _UNSET
