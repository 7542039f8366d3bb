"""The Dunetrace server's formulas, pure and in one place.

Client-side fallbacks (``queries/``) and the embedded store (``local/``) both import from here,
so a threshold or a window is written once: health components, the systemic rule, loop types,
token windows, waste and pricing. Nothing here does I/O or imports pydantic, httpx, rich or mcp.
"""
