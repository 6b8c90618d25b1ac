"""Two offices, each with a super admin, ordinary users, group and shared
mail; the second office exists to prove isolation (R7)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from accounts.models import Account
from tests.factories import make_account, make_office


def build_office(domain: str, prefix: str = "") -> SimpleNamespace:
    office = make_office(domain)
    admin = make_account(office, "admin", "관리자", role=Account.Role.SUPER_ADMIN)
    kim = make_account(office, "minjun.kim", "김민준", department="개발1팀")
    lee = make_account(office, "seoyeon.lee", "이서연", department="영업1팀")
    park = make_account(office, "jiho.park", "박지호", status=Account.Status.SUSPENDED)
    nomail = make_account(office, "nomail", "메일없음", mail=False)
    group = make_account(office, "team-sales", "영업팀 그룹메일", kind=Account.Kind.GROUP)
    shared = make_account(office, "help", "고객센터", kind=Account.Kind.SHARED)
    return SimpleNamespace(
        office=office,
        admin=admin,
        kim=kim,
        lee=lee,
        park=park,
        nomail=nomail,
        group=group,
        shared=shared,
    )


@pytest.fixture
def org(db):
    return build_office("gabiaedu.com")


@pytest.fixture
def other(db):
    return build_office("other.co.kr")


@pytest.fixture
def admin_client(client, org):
    client.force_login(org.admin)
    return client


@pytest.fixture
def user_client(client, org):
    client.force_login(org.kim)
    return client


@pytest.fixture
def other_admin_client(client, org, other):
    client.force_login(other.admin)
    return client


@pytest.fixture(autouse=True)
def forget_access_partitions():
    """A partition created inside a test's rolled-back transaction is gone:
    the process must not remember it."""
    from accounts import access_partitions

    access_partitions.forget()
    yield
    access_partitions.forget()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2's deliberate slowness only slows the suite down.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite, a test database in a file rather than in memory: processes
    started by tests (the export worker, the benchmark's export child, the
    mail servers) must see the same data. Not under pytest's base temporary
    directory: every pytest run resets that to mode 0700, which would lock
    out the mail servers' users (dovecot, postfix)."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and not database.get("TEST", {}).get("NAME"):
        directory = tempfile.mkdtemp(prefix="mailadmin-test-sqlite-")
        database.setdefault("TEST", {})["NAME"] = str(Path(directory) / "test.sqlite3")
        yield
        shutil.rmtree(directory, ignore_errors=True)
    else:
        yield
