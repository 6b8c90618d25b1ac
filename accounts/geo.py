"""Offline IP → country: one function, so the source can change."""

from __future__ import annotations

import functools
import ipaddress
import os
import re

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


# The zone → country pairs an office's default home country is read from
# when the system's tz database has no zone.tab (a few common zones).
_ZONE_COUNTRIES = {
    "Asia/Seoul": "KR",
    "Asia/Tokyo": "JP",
    "Asia/Shanghai": "CN",
    "Asia/Taipei": "TW",
    "Asia/Singapore": "SG",
    "Asia/Ho_Chi_Minh": "VN",
    "America/New_York": "US",
    "America/Los_Angeles": "US",
    "Europe/London": "GB",
    "Europe/Berlin": "DE",
}


@functools.lru_cache(maxsize=1)
def _zone_table() -> dict[str, str]:
    """zone.tab of the system's tz database: zone name → ISO country."""
    import zoneinfo

    found: dict[str, str] = dict(_ZONE_COUNTRIES)
    for root in zoneinfo.TZPATH:
        path = os.path.join(root, "zone.tab")
        try:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith("#"):
                        continue
                    parts = line.split("\t")
                    if len(parts) >= 3:
                        found[parts[2].strip()] = parts[0].strip().upper()
        except OSError:
            continue
        break
    return found


def country_of_time_zone(time_zone: str) -> str:
    """The country an IANA time zone belongs to ('' when it has none: UTC)."""
    return _zone_table().get(time_zone, "")


_CODE = re.compile(r"^[A-Z]{2}$")


def parse_country_codes(text: str) -> list[str]:
    """``"kr, JP us"`` → ``["KR", "JP", "US"]`` (two-letter codes only,
    each once, in the order given)."""
    codes: list[str] = []
    for part in re.split(r"[\s,;]+", text.upper()):
        if _CODE.match(part) and part not in codes:
            codes.append(part)
    return codes


@functools.lru_cache(maxsize=65536)
def is_private(ip: str) -> bool:
    """Loopback, private, link-local … : never a sign-in from abroad."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return True
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global
