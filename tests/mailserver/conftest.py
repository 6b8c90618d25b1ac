"""A private Postfix + Dovecot started from ``mailserver_config``'s output
(MAIL_STORE=dovecot) on the test database, SQLite or PostgreSQL.

Session-wide servers; each test gets empty Maildirs, a flushed auth cache
and live (committed) data the servers can read: the tests are transactional.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.core.management import call_command
from django.db import connection
from django.test.utils import override_settings

from tests.mailserver.servers import MailServers, ensure_vmail_user, free_port, missing_binaries


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    """The product's hasher (argon2id, which Dovecot verifies) at test costs."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/mailserver/" in str(item.fspath):
            item.add_marker(pytest.mark.mailserver)


def _open_sqlite_to_the_servers(path: Path) -> None:
    """Dovecot's dict (user dovecot) writes usage rows and Postfix's
    proxymap (user postfix) reads: the file, its WAL files and directory
    must be theirs to use, and the directories above it passable."""
    path.parent.chmod(0o777)
    for suffix in ("", "-wal", "-shm"):
        candidate = Path(f"{path}{suffix}")
        if candidate.exists():
            candidate.chmod(0o666)
    for parent in path.parent.parents:
        if parent == Path("/"):
            break
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


@pytest.fixture(scope="session")
def mail_servers(django_db_setup, django_db_blocker):
    missing = missing_binaries()
    if missing and os.environ.get("CI"):
        # CI installs the servers (.ci/run): there a skip would hide that the
        # end-to-end tests never ran.
        pytest.fail(f"Postfix/Dovecot missing in CI: {', '.join(missing)}")
    if missing:
        pytest.skip(
            f"Postfix/Dovecot not installed ({', '.join(missing)} missing): apt-get install "
            "postfix postfix-pgsql postfix-sqlite dovecot-core dovecot-pop3d dovecot-imapd "
            "dovecot-lmtpd dovecot-pgsql dovecot-sqlite"
        )
    if os.geteuid() != 0:
        pytest.skip("starting a private Postfix and Dovecot needs root (as in CI)")
    ensure_vmail_user()
    port = free_port()
    # Only while printing: the rest of the session keeps the default store
    # (each test using the servers switches itself, see ``servers``).
    store = {
        "MAIL_STORE": "dovecot",
        "DOVEADM_URL": f"http://127.0.0.1:{port}/doveadm/v1",
        "DOVEADM_API_KEY": secrets.token_urlsafe(24),
    }
    # Not under pytest's base temporary directory, which any pytest run
    # resets to mode 0700: the vmail user must reach the Maildirs.
    root = Path(tempfile.mkdtemp(prefix="mailadmin-mailservers-"))
    with django_db_blocker.unblock(), override_settings(**store):
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            _open_sqlite_to_the_servers(Path(connection.settings_dict["NAME"]))
        out = io.StringIO()
        call_command("mailserver_config", "--mail-root", str(root / "vmail"), stdout=out)
    servers = MailServers(root=root, printed=out.getvalue(), doveadm_port=port)
    servers.store_settings = store
    try:
        servers.start()
    except Exception:
        servers.stop()
        raise
    yield servers
    servers.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def servers(mail_servers, settings):
    """The servers, for a test starting from empty Maildirs and a cold auth
    cache, with passwords Dovecot can verify."""
    settings.PASSWORD_HASHERS = ["tests.mailserver.conftest.CheapArgon2PasswordHasher"]
    for name, value in mail_servers.store_settings.items():
        setattr(settings, name, value)
    mail_servers.drain()
    for child in mail_servers.vmail.iterdir():
        shutil.rmtree(child)
    mail_servers.doveadm("auth", "cache", "flush", check=False)
    logs = {name: len(mail_servers.log(name)) for name in ("postfix", "dovecot")}
    yield mail_servers
    # Shown by pytest only when the test failed.
    for name, start in logs.items():
        print(f"--- {name} log during the test ---\n{mail_servers.log(name)[start:]}")
    if connection.vendor == "sqlite":
        _open_sqlite_to_the_servers(Path(connection.settings_dict["NAME"]))


@pytest.fixture
def org(servers, transactional_db):
    """conftest's office, built after the servers' password hashers are set."""
    from tests.conftest import build_office

    return build_office("gabiaedu.com")


@pytest.fixture
def other(servers, transactional_db):
    from tests.conftest import build_office

    return build_office("other.co.kr")
