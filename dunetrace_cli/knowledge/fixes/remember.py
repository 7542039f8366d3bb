import re

_DIRECTIVE = re.compile(
    r"(ignore|disregard|forget) (all )?(previous|prior|above) instructions|^\s*(system|assistant)\s*:",
    re.IGNORECASE | re.MULTILINE,
)


def remember(run, store: dict, key: str, value: str, source: str) -> None:
    if _DIRECTIVE.search(value):
        raise ValueError(f"refusing to store instruction-like content under {key!r}")
    store[key] = value
    run.memory_written(key, value, source=source)
