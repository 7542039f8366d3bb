def assert_grounded(value: str, *sources: str) -> None:
    if not any(value in source for source in sources):
        raise ValueError(f"{value!r} was not provided by the user or a previous tool result")
