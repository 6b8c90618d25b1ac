"""Walking every management URL, for the isolation and bad-input tests.

The URL patterns come from the resolver (recursively through includes), so a
screen added later is covered without touching the tests; a URL keyword the
tests cannot fill with a real identifier fails loudly instead of being
skipped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from django.utils import timezone

from accounts.models import (
    AccessLog,
    AuditEvent,
    BulkJob,
    ExportJob,
)
from accounts.services import inbox_of, message_deliver
from subaccounts.services import subaccount_add

MANAGE_PREFIX = "<domain:domain>/manage/"
PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>[^>]+)>")
SUBACCOUNT_ID = "sales.kim"


@dataclass(frozen=True)
class Route:
    route: str
    name: str | None
    view: object

    def __str__(self) -> str:
        return self.route

    @property
    def keywords(self) -> list[str]:
        return [m.group("name") for m in PARAMETER.finditer(self.route)]


def _walk(patterns, prefix: str = ""):
    for entry in patterns:
        if not isinstance(entry.pattern, RoutePattern):
            raise AssertionError(
                f"{prefix}{entry.pattern}: only path() routes are walked; "
                "teach tests/walk.py about this pattern"
            )
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield Route(route=route, name=entry.name, view=entry.callback)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def manage_routes() -> list[Route]:
    routes = [r for r in all_routes() if r.route.startswith(MANAGE_PREFIX)]
    assert routes, "no URL under /<domain>/manage/ found"
    return routes


def identifiers(data: SimpleNamespace) -> dict[str, str]:
    """Real identifiers of the office in ``data`` (built by :func:`populate`),
    by URL keyword. Add a keyword here when a new URL introduces one."""
    return {
        "domain": data.office.domain,
        "login_id": data.kim.login_id,
        "local_part": data.subaccount.local_part,
        "job_id": str(data.export_job.pk),
        "bulk_job_id": str(data.bulk_job.pk),
        "chart": "storage",
    }


def url_for(route: Route, values: dict[str, str]) -> str:
    def fill(match: re.Match) -> str:
        name = match.group("name")
        if name not in values:
            raise AssertionError(
                f"URL {route.route!r} has the keyword {name!r} that the tests cannot fill: "
                "add a real identifier for it in tests/walk.py identifiers()"
            )
        return values[name]

    return "/" + PARAMETER.sub(fill, route.route)


def populate(data: SimpleNamespace) -> SimpleNamespace:
    """Give one office of tests/conftest.py what every screen can show: kim
    gets a sub-account (with its folder, address and sender entry), mail in
    the inbox and the sub-account folder, access history; the office gets
    audit events."""
    office, kim = data.office, data.kim
    mailbox = kim.mailbox
    inbox = inbox_of(mailbox)
    subaccount = subaccount_add(actor=None, owner=kim, local_part=SUBACCOUNT_ID)
    folder = subaccount.folder
    for n, size in enumerate([120_000, 48_000, 9_000_000]):
        message_deliver(folder=inbox, size_bytes=size, subject=f"report {n}", sender="a@b.example")
    message_deliver(folder=folder, size_bytes=64_000, subject="order", sender="c@d.example")
    now = timezone.now()
    for days, protocol, ok in [(1, "pop3", True), (2, "smtp", True), (3, "pop3", False)]:
        AccessLog.login(
            office=office,
            account=kim,
            protocol=protocol,
            at=now - timedelta(days=days),
            ip="211.234.10.20",
            country="KR",
            succeeded=ok,
        ).save()
    for action, extra in [
        (AuditEvent.Action.LOGIN, {}),
        (AuditEvent.Action.LOGIN_FAILED, {}),
        (AuditEvent.Action.LOGIN_LOCKED, {"failures": 5, "cooloff_minutes": 15}),
        (
            AuditEvent.Action.ROSTER_EXPORT,
            {"filters": {"q": "kim", "status": "active"}, "rows": 1, "filename": "x.xlsx"},
        ),
        (AuditEvent.Action.AUDIT_EXPORT, {"rows": 2, "filters": {"action": "login"}}),
        (
            AuditEvent.Action.BULK_UPDATE,
            {"action": "set_quota", "accounts": 3, "quota_bytes": None, "changed": 2},
        ),
        (AuditEvent.Action.ACCOUNT_CREATE, {"kind": "group", "mail": True, "batch": 1}),
        (AuditEvent.Action.BULK_IMPORT, {"rows": 3, "created": 1, "updated": 1}),
    ]:
        AuditEvent.objects.create(
            office=office,
            actor=data.admin if action == AuditEvent.Action.LOGIN else None,
            actor_label=data.admin.login_id,
            action=action,
            target=data.admin,
            target_label=data.admin.login_id,
            data=extra,
            ip="211.234.10.1",
        )
    # A background roster export half way (its progress page; the download
    # answers with that page until the file is ready).
    data.export_job = ExportJob.objects.create(
        office=office,
        requested_by=data.admin,
        params={"q": "kim"},
        total=10,
        done=4,
        status=ExportJob.Status.RUNNING,
        expires=now + timedelta(days=1),
    )
    # A background bulk action half way (its progress page).
    data.bulk_job = BulkJob.objects.create(
        office=office,
        requested_by=data.admin,
        action="pop3_off",
        account_ids=[kim.pk, data.lee.pk],
        params={"q": "kim"},
        total=2,
        done=1,
        status=BulkJob.Status.RUNNING,
    )
    kim.refresh_from_db()
    data.subaccount = subaccount
    data.subaccount_folder = folder
    return data


def database_fingerprint() -> str:
    """A digest of every row of the product's own tables."""
    digest = hashlib.sha256()
    for config in (apps.get_app_config("accounts"), apps.get_app_config("subaccounts")):
        for model in config.get_models():
            fields = [f.attname for f in model._meta.concrete_fields]
            for row in model.objects.order_by("pk").values_list(*fields):
                digest.update(repr((model._meta.label, row)).encode())
    return digest.hexdigest()
