"""Where callbacks may go: http(s) only, and never to loopback, private, link-local or other
special addresses (SSRF) unless an operator allow-listed the host or network."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from shared.errors import InvalidParametersError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_callback_url(url: str) -> None:
    """Syntax only (the gateway cannot know what the name will resolve to at send time)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParametersError("callback_url must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise InvalidParametersError("callback_url must not carry credentials")


class CallbackPolicy:
    def __init__(self, allowed: list[str]) -> None:
        self.hosts = {entry.lower() for entry in allowed if not _is_network(entry)}
        self.networks = [
            ipaddress.ip_network(entry, strict=False) for entry in allowed if _is_network(entry)
        ]

    def allows(self, host: str, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if host.lower() in self.hosts or any(ip in network for network in self.networks):
            return True
        return ip.is_global and not ip.is_multicast


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True
