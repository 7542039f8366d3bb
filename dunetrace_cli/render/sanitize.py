"""The one boundary for untrusted text: server, store and file strings before they reach a screen.

Agent ids, tool names, titles, fix text and error details are written by whoever can post events.
Before any of it is printed (tables, plain rows, messages, progress) or handed to a model, C0/C1
control characters, escape sequences (CSI, OSC, ...) and bidi controls are made visible as
``\\x1b`` / ``\\u202e`` escapes, so a terminal never interprets them. ``--json`` is not passed
through here: it stays exact data (JSON escapes every control character itself).
"""

from __future__ import annotations

import re

# Bidi embeddings/overrides/isolates and marks, plus zero-width and BOM characters that hide text.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_UNSAFE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}\u2028\u2029]")
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}\u2028\u2029]")
_UNSAFE_IN_JSON = re.compile(f"[\x7f-\x9f{_BIDI}{_INVISIBLE}\u2028\u2029]")  # json.dumps escapes C0 itself


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    code = ord(ch)
    if ch == "\n":
        return "\\n"
    if ch == "\t":
        return "\\t"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, *, newlines: bool = True) -> str:
    """``text`` with every control, escape and bidi character shown as a visible escape.

    ``newlines=True`` keeps ``\\n`` and ``\\t`` (multi-line fields such as fix code);
    ``newlines=False`` escapes them too (one-line cells, ids, titles).
    """
    value = text if isinstance(text, str) else str(text)
    pattern = _UNSAFE if newlines else _UNSAFE_ONE_LINE
    if pattern.search(value) is None:
        return value
    return pattern.sub(_escape, value)


def is_clean(text: str) -> bool:
    """True when ``text`` holds nothing that :func:`clean` would escape (newlines and tabs allowed)."""
    return _UNSAFE.search(text) is None


def json_dumps(value: object, *, indent: int | None = None) -> str:
    """JSON for a terminal or a pipe: exact data, with every unsafe character as a JSON escape.

    ``json.dumps(ensure_ascii=False)`` already escapes C0 controls; C1 controls, bidi and
    invisible characters are legal raw in JSON strings, so they are escaped here (``\\u202e``),
    which decodes to the same string: the data stays exact, the terminal sees no override.
    """
    import json

    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
