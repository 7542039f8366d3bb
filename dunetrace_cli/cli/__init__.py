"""Thin Typer modules, one per resource. The entry point is ``app.main``."""
