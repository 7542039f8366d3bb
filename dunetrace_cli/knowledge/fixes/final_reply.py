def final_reply(text: str, tool_results: list[dict]) -> str:
    failed = [r["name"] for r in tool_results if not r["ok"]]
    if failed:
        return "I couldn't finish this: " + ", ".join(failed) + " failed. " + text
    return text
