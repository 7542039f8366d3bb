"""Every guide alias upstream dunetrace-mcp 0.4.7 documents resolves, plus its resource names."""

from __future__ import annotations

import pytest

from dunetrace_cli.guides import DOC_URIS, FRAMEWORKS, load_guide, resolve_framework

UPSTREAM_ALIASES = (
    "langgraph lc custom-python ts javascript js node tool-calls tracking haystack-ai hs voice-agent stt tts "
    "speech otlp opentelemetry langdock dify no-code"
).split()




@pytest.mark.parametrize("alias", [*UPSTREAM_ALIASES, "lc-graph", "lc_graph", "LC Graph", "Custom_Python"])
def test_upstream_alias_resolves(alias: str) -> None:
    assert resolve_framework(alias) in FRAMEWORKS


def test_aliases_land_on_the_matching_guide() -> None:
    assert resolve_framework("lc_graph") == "langchain"
    assert resolve_framework("hs") == "haystack"
    assert {resolve_framework(a) for a in ("stt", "tts", "speech", "voice-agent")} == {"voice"}


@pytest.mark.parametrize("name", sorted(DOC_URIS))
def test_doc_uris_map_to_real_guides(name: str) -> None:
    assert load_guide(DOC_URIS[name]).startswith("#")
