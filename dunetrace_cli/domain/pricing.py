"""Token prices and the cost estimate (the server's June-2026 table), shared by client fallbacks and the local store.

The latest Dunetrace server prices tokens with a static table of USD per million input/output
tokens per model family (the June-2026 table of its explainer service, customer-api.md §D.3):
vendor prefix stripped, longest-prefix match on the family name, unknown models at 1.00/4.00,
reasoning tokens accepted but not billed. The local store uses the same figures so that
``cost_usd``, ``total_cost_usd`` and the waste figures agree with a real server for the same
events. Every figure is an estimate.
"""

from __future__ import annotations

from functools import lru_cache

# model family -> (USD per 1M input tokens, USD per 1M output tokens)
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    # OpenAI
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4": (30.00, 60.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o1": (15.00, 60.00),
    "o1-mini": (3.00, 12.00),
    "o3": (2.00, 8.00),
    "o3-pro": (20.00, 80.00),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    # open-weight models on common hosted inference providers
    "llama-3.3-70b": (0.88, 0.88),
    "llama-3.1-405b": (3.50, 3.50),
    "deepseek-r1": (3.00, 7.00),
    "deepseek-v3": (1.25, 1.25),
    "qwen2.5-72b": (1.20, 1.20),
    # Anthropic
    "claude-opus-4-7": (15.00, 75.00),
    "claude-sonnet-4-6": (3.00, 15.00),
    "claude-haiku-4-5": (0.80, 4.00),
    "claude-3-5-sonnet": (3.00, 15.00),
    "claude-3-5-haiku": (0.80, 4.00),
    "claude-3-opus": (15.00, 75.00),
    "claude-3-sonnet": (3.00, 15.00),
    "claude-3-haiku": (0.25, 1.25),
    # Google
    "gemini-1.5-pro": (1.25, 5.00),
    "gemini-1.5-flash": (0.075, 0.30),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.5-pro": (1.25, 10.00),
    # Mistral
    "mistral-large": (3.00, 9.00),
    "mistral-small": (0.20, 0.60),
}

UNKNOWN_MODEL_PRICE: tuple[float, float] = (1.00, 4.00)

_VENDOR_PREFIXES = (
    "openai/",
    "anthropic/",
    "google/",
    "mistral/",
    "meta/",
    "meta-llama/",
    "qwen/",
    "deepseek-ai/",
)
_FAMILIES_LONGEST_FIRST = sorted(PRICES_PER_MILLION, key=len, reverse=True)


@lru_cache(maxsize=4096)  # a pure function of the name; the store prices thousands of runs per read
def model_family(model: str | None) -> str:
    """The price-table key for ``model`` (or the normalised name itself when no family matches)."""
    name = (model or "").lower().strip()
    for prefix in _VENDOR_PREFIXES:
        if name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name.startswith("meta-llama-"):
        name = name[len("meta-") :]
    for family in _FAMILIES_LONGEST_FIRST:
        if name == family or name.startswith(family + "-") or name.startswith(family + "."):
            return family
    return name


def estimate_cost(model: str | None, prompt_tokens: int, completion_tokens: int, reasoning_tokens: int = 0) -> float:
    """Estimated USD for one run's tokens; 0.0 when there are neither prompt nor completion tokens.

    ``reasoning_tokens`` is accepted for symmetry with the token figures but not billed, as on the server.
    """
    prompt = prompt_tokens or 0
    completion = completion_tokens or 0
    if not prompt and not completion:
        return 0.0
    price_in, price_out = PRICES_PER_MILLION.get(model_family(model), UNKNOWN_MODEL_PRICE)
    return (prompt * price_in + completion * price_out) / 1_000_000
