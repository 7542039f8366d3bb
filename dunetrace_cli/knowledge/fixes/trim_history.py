def trim_history(messages: list[dict], keep_last: int = 8, max_tool_chars: int = 2000) -> list[dict]:
    head = [m for m in messages[:1] if m.get("role") == "system"]
    tail = []
    for message in messages[len(head):][-keep_last:]:
        content = message.get("content") or ""
        if message.get("role") == "tool" and len(content) > max_tool_chars:
            message = {**message, "content": content[:max_tool_chars] + " [truncated]"}
        tail.append(message)
    return head + tail
