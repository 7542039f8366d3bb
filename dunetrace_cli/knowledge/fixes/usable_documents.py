MIN_SCORE = 0.3


def usable_documents(docs: list[dict]) -> list[dict]:
    return [d for d in docs if (d.get("score") or 0.0) >= MIN_SCORE]


# if not usable_documents(docs): rewrite the query once, then answer
# "I couldn't find this in the documentation" instead of guessing.
