"""dunetrace-cli: triage AI-agent failures recorded by Dunetrace, from the terminal or over MCP."""

__version__ = "0.1.0"
