from collections import deque

_recent_tools: deque[str] = deque(maxlen=6)


def guard_oscillation(tool_name: str) -> None:
    _recent_tools.append(tool_name)
    names = list(_recent_tools)
    alternating = all(x != y for x, y in zip(names, names[1:]))
    if len(names) == 6 and len(set(names)) == 2 and alternating:
        raise RuntimeError(f"oscillating between {sorted(set(names))}; answer with what you have")
