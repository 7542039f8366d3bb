"""Embedded, SQLite-backed Dunetrace store: ingest, detection and (in api.py) the Customer API."""
