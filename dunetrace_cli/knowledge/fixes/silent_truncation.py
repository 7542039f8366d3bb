TRUNCATED = {"length", "max_tokens"}  # OpenAI, Anthropic

if finish_reason in TRUNCATED:
    # ask the model to continue, or retry with a larger max_tokens / smaller context
    raise RuntimeError("model output was truncated; not using a partial answer")
