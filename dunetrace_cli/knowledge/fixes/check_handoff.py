PLACEHOLDERS = {"", "ok", "done", "success", "none", "null", "n/a"}


def check_handoff(result: str | None, min_chars: int = 10) -> str:
    text = (result or "").strip()
    if text.lower() in PLACEHOLDERS or len(text) < min_chars:
        raise RuntimeError("the sub-agent returned no usable result; retry or report the failure")
    return text
