"""Pure renderers: rich tables for people, JSON for scripts, markdown for MCP text."""
