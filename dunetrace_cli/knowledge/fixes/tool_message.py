def tool_message(name: str, ok: bool, output: str, error: str | None = None) -> dict:
    if ok:
        return {"role": "tool", "name": name, "content": output}
    return {
        "role": "tool",
        "name": name,
        "content": f"ERROR: {name} failed ({error}). Tell the user; do not report this step as done.",
    }
