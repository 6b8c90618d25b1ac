"""Small builders for tests: real rows through the real services."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import Account, Office
from accounts.services import mailbox_create

PASSWORD = "correct horse battery staple"
MB = 1024 * 1024


def make_office(domain: str, name: str | None = None, **extra) -> Office:
    return Office.objects.create(
        domain=domain,
        name=name or domain.split(".")[0].title(),
        default_quota_bytes=1024 * MB,
        **extra,
    )


def make_account(
    office: Office,
    login_id: str,
    name: str | None = None,
    *,
    mail: bool = True,
    quota_bytes: int | None = None,
    password: str | None = PASSWORD,
    **extra,
) -> Account:
    account = Account.objects.create_account(
        office=office, login_id=login_id, name=name or login_id.title(), password=password, **extra
    )
    if mail:
        mailbox_create(account=account, quota_bytes=quota_bytes)
    return account


def migrate_to(target):
    """Migrate the test database to ``target``; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps
