"""Offline IP → country: one function, so the source can change."""

from __future__ import annotations

import ipaddress

import iptocc


def country_for_ip(ip: str) -> str:
    """ISO 3166-1 alpha-2 code, or '' for private, loopback and unknown addresses."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global:
        return ""
    return iptocc.country_code(str(address)) or ""
