"""Audit events: who did what to whom, from where. Every change an admin
makes, every mail action and every sign-in of an admin leaves one.

Services call :func:`record` inside their own transaction so the event and
the change commit or roll back together.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.http import HttpRequest

from accounts.models import Account, AuditEvent, Office


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer address of the request (a TLS proxy in front is expected to
    be configured to pass the real peer as REMOTE_ADDR, e.g. gunicorn's
    ``--forwarded-allow-ips``)."""
    if request is None:
        return None
    value = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def record(
    *,
    office: Office,
    action: str,
    actor: Account | None = None,
    target: Account | None = None,
    target_label: str = "",
    data: dict[str, Any] | None = None,
    ip: str | None = None,
    actor_label: str = "",
) -> AuditEvent:
    return AuditEvent.objects.create(
        office=office,
        action=action,
        actor=actor,
        actor_label=actor_label or (actor.login_id if actor else ""),
        target=target,
        target_label=target_label or (target.login_id if target else ""),
        data=data or {},
        ip=ip,
    )
