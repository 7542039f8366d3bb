"""Bind-address helpers that do not need the MCP SDK (so refusals stay fast and SDK-free)."""

from __future__ import annotations

import ipaddress

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost': addresses only this machine can reach."""
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_pattern(host: str) -> str:
    """An IPv6 literal in URL/Host form ('[::1]'); other hosts unchanged."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
