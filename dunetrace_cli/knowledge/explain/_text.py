"""Defensive readers of untrusted evidence and the formatting helpers the templates share; fix code and
static prose come from data files (knowledge/fixes/*.py, explain/why.toml)."""

from __future__ import annotations

import builtins
import json
import keyword
import math
import re
import string
import tomllib
from collections.abc import Mapping
from importlib.resources import files
from typing import Any, NamedTuple

from dunetrace_cli.knowledge.explain.models import SuggestedFix

# ── defensive readers ─────────────────────────────────────────────────────────

_NAME_LIMIT = 80


def _text(value: Any, limit: int = _NAME_LIMIT) -> str | None:
    """A short single-line display string, or None when there is nothing usable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        s = value
    elif isinstance(value, int):
        s = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        s = _num(value)
    else:
        return None
    s = " ".join(s.split()).replace("`", "'")
    if not s:
        return None
    if len(s) > limit:
        s = s[: max(1, limit - 1)].rstrip() + "…"
    return s


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(round(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
        return int(round(f)) if math.isfinite(f) else None
    return None


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        f = float(value)
    elif isinstance(value, str):
        try:
            f = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return f if math.isfinite(f) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def _names(value: Any, limit: int = 6) -> list[str]:
    """Display strings from a list-like value (a single string counts as one name)."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif isinstance(value, (set, frozenset)):
        items = sorted(value, key=repr)
    else:
        return []
    out: list[str] = []
    for item in items:
        t = _text(item)
        if t is not None:
            out.append(t)
        if len(out) >= limit:
            break
    return out


def _ints(value: Any, limit: int = 50) -> list[int]:
    if not isinstance(value, (list, tuple)):
        return []
    out = [i for i in (_int(v) for v in value[:limit]) if i is not None]
    return out


class _Ev:
    """Typed, never-raising access to an evidence mapping."""

    def __init__(self, raw: Any) -> None:
        if isinstance(raw, (str, bytes)):
            try:
                raw = json.loads(raw)
            except Exception:  # noqa: BLE001 - evidence is untrusted: explain() never raises
                raw = None
        self.raw: Mapping[Any, Any] = raw if isinstance(raw, Mapping) else {}

    def get(self, key: str) -> Any:
        try:
            return self.raw.get(key)
        except Exception:  # noqa: BLE001 - evidence is untrusted: explain() never raises
            return None

    def text(self, key: str, limit: int = _NAME_LIMIT) -> str | None:
        return _text(self.get(key), limit)

    def int(self, key: str) -> int | None:
        return _int(self.get(key))

    def num(self, key: str) -> float | None:
        return _float(self.get(key))

    def flag(self, key: str) -> bool | None:
        return _bool(self.get(key))

    def names(self, key: str, limit: builtins.int = 6) -> list[str]:
        return _names(self.get(key), limit)

    def ints(self, key: str) -> list[builtins.int]:  # `int` is a method of this class
        return _ints(self.get(key))

    def mapping(self, key: str) -> Mapping[Any, Any] | None:
        value = self.get(key)
        return value if isinstance(value, Mapping) else None


class _Ctx(NamedTuple):
    run_id: str
    step: int | None
    severity: str


class _Parts(NamedTuple):
    title: str
    what: str
    why: str
    summary: str
    fixes: list[SuggestedFix]


# ── formatting helpers ────────────────────────────────────────────────────────


def _num(value: float | int) -> str:
    """1234 -> '1,234'; 5.64 -> '5.64'; 3.0 -> '3'."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _c(name: str) -> str:
    return f"`{name}`"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{_num(n)} {one if n == 1 else (many or one + 's')}"


def _span(first: int | None, last: int | None) -> str | None:
    if first is None and last is None:
        return None
    if first is None or last is None or first == last:
        return f"step {first if first is not None else last}"
    lo, hi = min(first, last), max(first, last)
    return f"steps {lo}–{hi}"


def _duration_ms(ms: float | None) -> str | None:
    if ms is None:
        return None
    if abs(ms) >= 1000:
        return f"{_num(round(ms / 1000, 1))} s"
    return f"{_num(round(ms))} ms"


def _seconds(s: float | None) -> str | None:
    if s is None:
        return None
    if abs(s) >= 120:
        return f"{_num(round(s / 60, 1))} min"
    return f"{_num(round(s, 1))} s"


def _usd(v: float | None) -> str | None:
    if v is None:
        return None
    return f"${v:,.2f}" if abs(v) >= 0.01 else f"${v:.4f}"


def _pct(v: float | None) -> str | None:
    if v is None:
        return None
    return f"{round(v * 100)}%"


def _list(names: list[str], code: bool = True) -> str:
    shown = [_c(n) if code else n for n in names]
    if not shown:
        return ""
    if len(shown) == 1:
        return shown[0]
    return ", ".join(shown[:-1]) + " and " + shown[-1]


def _sentence(parts: list[str | None]) -> str:
    """Join clauses into one sentence; drop empty ones."""
    kept = [p.strip() for p in parts if p and p.strip()]
    if not kept:
        return ""
    s = _cap_prose("; ".join(kept))
    return s if s.endswith((".", "!", "?", "\"")) else s + "."


def _cap_prose(text: str) -> str:
    """Capitalise the first letter unless the first word is an identifier (digits or underscores)."""
    first_word = text.split(" ", 1)[0]
    if any(ch.isdigit() or ch == "_" for ch in first_word):
        return text
    return _cap(text)


def _ident(name: str | None, default: str = "tool") -> str:
    """A safe Python identifier derived from a tool or agent name."""
    s = re.sub(r"\W+", "_", (name or "").strip(), flags=re.ASCII).strip("_").lower()
    if not s:
        s = default
    if s[0].isdigit():
        s = f"{default}_{s}"
    if keyword.iskeyword(s):
        s += "_"
    return s[:40]


def _py(description: str, code: str) -> SuggestedFix:
    return SuggestedFix(description=description, language="python", code=code.strip("\n") + "\n")


def _txt(description: str, code: str) -> SuggestedFix:
    return SuggestedFix(description=description, language="text", code=code.strip())


def _pretty(failure_type: str) -> str:
    return failure_type.replace("_", " ").strip().capitalize() or "Signal"


# ── data files: static fix code and prose ────────────────────────────────────


def fix_code(name: str, **values: str) -> str:
    """The code of one suggested fix, from knowledge/fixes/NAME.py (``$name`` placeholders filled)."""
    text = files("dunetrace_cli.knowledge").joinpath(f"fixes/{name}.py").read_text(encoding="utf-8")
    return string.Template(text).safe_substitute(values) if values else text


#: Why each failure type matters (explain/why.toml), by failure type.
WHY: dict[str, str] = tomllib.loads(
    files("dunetrace_cli.knowledge").joinpath("explain/why.toml").read_text(encoding="utf-8")
)
