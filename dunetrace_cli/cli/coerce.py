"""Command-line values converted without pydantic, where the result is certain.

Typer 0.29 converts every parameter value with a pydantic ``TypeAdapter``, built the first time the
parameter is processed, even when its value is the default ``None``: so any command with a string
option imports pydantic (~250 ms at start-up), `guide` and `config show` included. Here each
parameter gets a converter that handles the values whose pydantic result is known exactly (a
string, a plain decimal number inside the range, a list of strings, a path) by itself and hands
anything else, every invalid value included, to typer's own pydantic converter: the error
sentences (``Input should be a valid integer, ...``) stay typer's own, and so does every edge case.

Typer builds a parameter's converter in ``_TyperParameter.get_runtime_param``, for every
parameter a command parses (the help option and the completion options included): :func:`enable`
(called once by cli/app.py) makes that method build the plain converter first. With a typer whose
internals differ, :func:`enable` changes nothing and typer converts every value itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # typer 0.29's converter layer; another typer keeps its own (pydantic) conversion
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
    from typer.core import _TyperParameter
except ImportError:  # pragma: no cover - depends on the installed typer
    RuntimeParam = object  # type: ignore[assignment,misc]
    _TyperParameter = None  # type: ignore[assignment,misc]

_INT = re.compile(r"-?[0-9]{1,18}")
_FLOAT = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?")
_UNSET = object()


@dataclass(frozen=True)
class PlainRuntimeParam(RuntimeParam):
    """A value pydantic would convert in an obvious way, converted directly; the rest by typer."""

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        result = self._plain(value, param, ctx)
        if result is not _UNSET:
            return result
        typer_own = build_runtime_param(param.type_descriptor)  # pydantic: unusual or invalid input
        param._runtime_param = typer_own
        return typer_own._coerce_value(value, param=param, ctx=ctx)

    def _plain(self, value: Any, param: Any, ctx: Any) -> Any:
        annotation = self.annotation
        info = self.parameter_info
        if getattr(annotation, "__origin__", None) is list:
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
        if annotation is Path and isinstance(value, str) and value:
            return coerce_cli_path(Path(value), info, path_type=Path, param=param, ctx=ctx)
        return _UNSET


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


def _plain_ok(param: Any) -> bool:
    descriptor = param.type_descriptor
    info = descriptor.parameter_info
    return not (descriptor.is_file or descriptor.is_choice or info.parser is not None
                or getattr(info, "click_type", None) is not None)


def _get_runtime_param(self: Any) -> Any:
    """``_TyperParameter.get_runtime_param``: the plain converter where it applies, else typer's."""
    if self._runtime_param is None:
        descriptor = self.type_descriptor
        if _plain_ok(self):
            self._runtime_param = PlainRuntimeParam(parameter_info=descriptor.parameter_info,
                                                    annotation=descriptor.annotation)
        else:
            self._runtime_param = build_runtime_param(descriptor)
    return self._runtime_param


def enable() -> bool:
    """Convert CLI values without pydantic where the result is certain (see the module doc)."""
    if _TyperParameter is None or not callable(getattr(_TyperParameter, "get_runtime_param", None)):
        return False  # pragma: no cover - another typer
    _TyperParameter.get_runtime_param = _get_runtime_param  # type: ignore[method-assign]
    return True
