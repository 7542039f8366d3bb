from functools import lru_cache


@lru_cache(maxsize=256)
def cached_search(index: str, query: str) -> tuple:
    return tuple(search(index, query))  # your retriever call
