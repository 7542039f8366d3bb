"""HTTP plumbing of the store's Customer API shaped like FastAPI's: query parsing with pydantic's 422
error bodies, and JSON responses that refuse NaN like the server's."""

from __future__ import annotations

import builtins
import math
from functools import cache
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500


def _finite(value: Any) -> Any:
    """Replace NaN/Infinity by null so the body stays valid JSON (ingest refuses them; a safety net)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class ApiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:  # out-of-range float
            return super().render(_finite(content))


class RequestValidationFailed(Exception):
    """Query parameters failed validation; rendered like FastAPI's RequestValidationError."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("request validation failed")
        self.errors = errors


# ---------------------------------------------------------------------------------------------
# query parameters, validated by pydantic exactly as FastAPI does (same error types and messages)


@cache
def _int_adapter(ge: int | None, le: int | None) -> TypeAdapter[int]:
    return TypeAdapter(Annotated[int, Field(ge=ge, le=le)])


_BOOL = TypeAdapter(bool)


def _json_scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, (int, float, str, bool)) else str(value)


class _Query:
    """Reads declared query parameters in declaration order and collects every validation error."""

    def __init__(self, request: Request) -> None:
        self._params = request.query_params
        self.errors: list[dict[str, Any]] = []

    def _validate(self, name: str, adapter: TypeAdapter[Any], default: Any) -> Any:
        raw = self._params.get(name)
        if raw is None:
            return default
        try:
            return adapter.validate_python(raw)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                item: dict[str, Any] = {
                    "type": err["type"],
                    "loc": ["query", name, *err.get("loc", ())],
                    "msg": err["msg"],
                    "input": err.get("input", raw),
                }
                if err.get("ctx"):
                    item["ctx"] = {k: _json_scalar(v) for k, v in err["ctx"].items()}
                self.errors.append(item)
            return default

    def int(self, name: str, default: int | None, *, ge: int | None = None, le: int | None = None) -> Any:
        return self._validate(name, _int_adapter(ge, le), default)

    def bool(self, name: str, default: bool | None) -> Any:
        return self._validate(name, _BOOL, default)

    def str(self, name: str) -> str | None:
        return self._params.get(name)

    def offset(self) -> builtins.int:  # `int` is a method of this class
        return self.int("offset", 0, ge=0)

    def limit(self) -> builtins.int:
        return self.int("limit", PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX)

    def done(self) -> None:
        if self.errors:
            raise RequestValidationFailed(self.errors)


# failure_type filters: any known type, or anything shaped like UPPER_SNAKE_CASE (the latest server's rule)
