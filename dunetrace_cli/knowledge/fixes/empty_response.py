run.llm_responded(
    completion_tokens=usage.completion_tokens,
    latency_ms=latency_ms,
    finish_reason=finish_reason,
    output=text,
    output_length=len(text),
)
