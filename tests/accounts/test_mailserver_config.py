"""manage.py mailserver_config: the printed Postfix tables answer through a
real ``postmap -q`` against the test database, and the Dovecot queries --
run here exactly as Dovecot runs them -- honour suspension, POP3/SMTP
switches and the mail-only password."""

from __future__ import annotations

import io
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import argon2
import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.core.management import CommandError, call_command
from django.db import connection

from accounts import mailserver
from accounts.models import Account, Mailbox
from tests.accounts.mail_helpers import delete_subaccount, make_subaccount


class CheapArgon2PasswordHasher(Argon2PasswordHasher):
    """The product's hasher with test-sized costs: the same argon2id format."""

    time_cost = 1
    memory_cost = 1024
    parallelism = 1


ARGON2_FIRST = [
    "tests.accounts.test_mailserver_config.CheapArgon2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]


def printed(*args) -> str:
    out = io.StringIO()
    call_command("mailserver_config", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def split_files(text: str) -> dict[str, str]:
    """The printed text → {path: content}, cut at the '# ==> path <==' lines."""
    parts = re.split(r"^# ==> (.+) <==\n", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


# --- Dovecot ---------------------------------------------------------------


def dovecot_lookup(service: str, login: str, domain: str = "gabiaedu.com"):
    """The password query as Dovecot runs it for ``login@domain``."""
    values = {"%s": service, "%n": login, "%d": domain}
    sql = mailserver.expand(mailserver.dovecot_password_query(), values)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    assert len(rows) <= 1
    return rows[0] if rows else None


def verifies(dovecot_hash: str, raw: str) -> bool:
    assert dovecot_hash.startswith("{ARGON2ID}$argon2id$")
    try:
        return argon2.PasswordHasher().verify(dovecot_hash.removeprefix("{ARGON2ID}"), raw)
    except argon2.exceptions.VerifyMismatchError:
        return False


@pytest.fixture
def passwords(org, settings):
    """Kim: account password only. Lee: a mail-only password too."""
    settings.PASSWORD_HASHERS = ARGON2_FIRST
    for account, raw in ((org.kim, "kim-web-pass"), (org.lee, "lee-web-pass")):
        account.set_password(raw)
        account.save(update_fields=["password"])
    Mailbox.objects.filter(account=org.lee).update(mail_password=make_password("lee-mail-only"))
    return org


def test_pop3_and_smtp_accept_the_account_password(passwords):
    for service in ("pop3", "smtp", "submission", "imap"):
        user, password = dovecot_lookup(service, "minjun.kim")
        assert user == "minjun.kim@gabiaedu.com"
        assert verifies(password, "kim-web-pass")


def test_a_mail_only_password_is_the_only_one_for_pop3_and_smtp(passwords):
    for service in ("pop3", "smtp"):
        _, password = dovecot_lookup(service, "seoyeon.lee")
        assert verifies(password, "lee-mail-only")
        assert not verifies(password, "lee-web-pass")
    # IMAP is not what the mail-only password is for.
    _, password = dovecot_lookup("imap", "seoyeon.lee")
    assert verifies(password, "lee-web-pass")


def test_switched_off_protocols_and_suspension_refuse(passwords):
    org = passwords
    Mailbox.objects.filter(account=org.kim).update(pop3_enabled=False)
    assert dovecot_lookup("pop3", "minjun.kim") is None
    assert dovecot_lookup("smtp", "minjun.kim") is not None

    Mailbox.objects.filter(account=org.kim).update(pop3_enabled=True, smtp_enabled=False)
    assert dovecot_lookup("smtp", "minjun.kim") is None
    assert dovecot_lookup("submission", "minjun.kim") is None
    assert dovecot_lookup("pop3", "minjun.kim") is not None

    Account.objects.filter(pk=org.kim.pk).update(status=Account.Status.SUSPENDED)
    for service in ("pop3", "smtp", "imap"):
        assert dovecot_lookup(service, "minjun.kim") is None


def test_who_else_cannot_sign_in(passwords, other):
    org = passwords
    # An ID is looked up in the domain it was given with, case-insensitively.
    assert dovecot_lookup("pop3", "MinJun.Kim", "GabiaEdu.com") is not None
    assert dovecot_lookup("pop3", "minjun.kim", "nowhere.kr") is None
    # Group mail cannot sign in, nor an account without mail.
    org.group.set_password("group-pass")
    org.group.save()
    assert dovecot_lookup("pop3", "team-sales") is None
    assert dovecot_lookup("pop3", "nomail") is None
    # A hash Dovecot cannot verify (set before Argon2id was first) gives no row.
    Account.objects.filter(pk=org.kim.pk).update(password="pbkdf2_sha256$1000000$salt$hash")
    assert dovecot_lookup("pop3", "minjun.kim") is None
    # A quote in the login cannot escape the query.
    assert dovecot_lookup("pop3", "x' OR '1'='1") is None


def user_lookup(login: str, domain: str = "gabiaedu.com"):
    sql = mailserver.expand(
        mailserver.dovecot_user_query(mail_root="/srv/vmail/"), {"%n": login, "%d": domain}
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_user_query_gives_the_maildir_and_quota(org):
    [(user, home, quota_rule)] = user_lookup("MinJun.Kim")
    assert user == "minjun.kim@gabiaedu.com"  # the name quota_clone's rows carry
    assert home == "/srv/vmail/gabiaedu.com/minjun.kim"
    assert quota_rule == f"*:bytes={org.kim.mailbox.quota_bytes}"


def test_user_query_answers_a_subaccount_address_with_its_owner(org, other):
    make_subaccount(org.kim, "sales")
    # The quota-status service asks about the recipient Postfix was given.
    [(user, home, _quota)] = user_lookup("sales")
    assert (user, home) == ("minjun.kim@gabiaedu.com", "/srv/vmail/gabiaedu.com/minjun.kim")
    assert user_lookup("sales", "other.co.kr") == []
    assert user_lookup("nomail") == []  # no mailbox, no mail user


@pytest.mark.skipif(shutil.which("doveadm") is None, reason="Dovecot's doveadm is not installed")
def test_dovecot_itself_verifies_the_hashes(passwords):
    for login, raw in (("minjun.kim", "kim-web-pass"), ("seoyeon.lee", "lee-mail-only")):
        _, password = dovecot_lookup("pop3", login)
        good = subprocess.run(["doveadm", "pw", "-t", password, "-p", raw], capture_output=True)
        bad = subprocess.run(["doveadm", "pw", "-t", password, "-p", "nope"], capture_output=True)
        assert good.returncode == 0, good.stderr
        assert bad.returncode != 0


# --- Postfix ---------------------------------------------------------------


def lookup_type() -> str:
    return "sqlite" if connection.vendor == "sqlite" else "pgsql"


def postmap_or_skip() -> None:
    if shutil.which("postmap") is None:
        pytest.skip("Postfix's postmap is not installed (apt-get install postfix)")
    types = subprocess.run(["postconf", "-m"], capture_output=True, text=True).stdout.split()
    if lookup_type() not in types:
        pytest.skip(
            f"Postfix has no {lookup_type()} map type (apt-get install postfix-{lookup_type()})"
        )


def write_maps(tmp_path: Path) -> dict[str, Path]:
    """The printed .cf files, written as given; on SQLite the test database
    lives in memory, so the tables read a file copy of it instead."""
    files = {}
    for path, content in split_files(printed()).items():
        if not path.endswith(".cf"):
            continue
        if connection.vendor == "sqlite":
            content = re.sub(
                r"^dbpath = .*$", f"dbpath = {tmp_path / 'db.sqlite3'}", content, flags=re.M
            )
        target = tmp_path / Path(path).name
        target.write_text(content)
        files[target.stem] = target
    return files


def snapshot_sqlite(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        return
    connection.ensure_connection()
    target = sqlite3.connect(tmp_path / "db.sqlite3")
    with target:
        connection.connection.backup(target)
    target.close()


def postmap(key: str, table: Path) -> str | None:
    result = subprocess.run(
        ["postmap", "-q", key, f"{lookup_type()}:{table}"], capture_output=True, text=True
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.strip() or None


@pytest.mark.django_db(transaction=True)
def test_postmap_answers_from_the_database(org, other, tmp_path):
    postmap_or_skip()
    sales = make_subaccount(org.kim, "sales")
    make_subaccount(other.kim, "sales-kr")
    maps = write_maps(tmp_path)
    snapshot_sqlite(tmp_path)

    alias, mailbox, domains = (
        maps["virtual_alias_maps"],
        maps["virtual_mailbox_maps"],
        maps["virtual_mailbox_domains"],
    )
    # A sub-account address → the owner, with its folder as the extension.
    assert postmap("sales@gabiaedu.com", alias) == "minjun.kim+INBOX.sales@gabiaedu.com"
    assert postmap("Sales@GabiaEdu.com", alias) == "minjun.kim+INBOX.sales@gabiaedu.com"
    assert postmap("sales-kr@other.co.kr", alias) == "minjun.kim+INBOX.sales-kr@other.co.kr"
    assert postmap("sales-kr@gabiaedu.com", alias) is None
    assert postmap("minjun.kim@gabiaedu.com", alias) is None
    # A primary address of an account with mail → its Maildir.
    assert postmap("minjun.kim@gabiaedu.com", mailbox) == "gabiaedu.com/minjun.kim/"
    assert postmap("help@gabiaedu.com", mailbox) == "gabiaedu.com/help/"
    assert postmap("nomail@gabiaedu.com", mailbox) is None
    assert postmap("sales@gabiaedu.com", mailbox) is None
    assert postmap("gabiaedu.com", domains) == "gabiaedu.com"
    assert postmap("nowhere.kr", domains) is None
    # Who may send as an address: its account, for sub-account addresses too.
    senders = maps["sender_login_maps"]
    assert postmap("minjun.kim@gabiaedu.com", senders) == "minjun.kim@gabiaedu.com"
    assert postmap("Sales@gabiaedu.com", senders) == "minjun.kim@gabiaedu.com"
    assert postmap("sales-kr@other.co.kr", senders) == "minjun.kim@other.co.kr"
    assert postmap("sales-kr@gabiaedu.com", senders) is None
    assert postmap("friend@outside.example", senders) is None

    delete_subaccount(sales)
    snapshot_sqlite(tmp_path)

    assert postmap("sales@gabiaedu.com", alias) is None
    assert postmap("sales-kr@other.co.kr", alias) == "minjun.kim+INBOX.sales-kr@other.co.kr"


@pytest.mark.django_db(transaction=True)
def test_postmap_tables_for_one_office(org, other, tmp_path):
    postmap_or_skip()
    text = printed("--domain", "gabiaedu.com")
    for path, content in split_files(text).items():
        if path.endswith("virtual_mailbox_maps.cf"):
            if connection.vendor == "sqlite":
                content = re.sub(
                    r"^dbpath = .*$", f"dbpath = {tmp_path / 'db.sqlite3'}", content, flags=re.M
                )
            (tmp_path / "mailbox.cf").write_text(content)
    snapshot_sqlite(tmp_path)

    assert postmap("admin@gabiaedu.com", tmp_path / "mailbox.cf") == "gabiaedu.com/admin/"
    assert postmap("admin@other.co.kr", tmp_path / "mailbox.cf") is None


# --- the command -----------------------------------------------------------


def test_config_names_every_file_and_the_database(org):
    files = split_files(printed())
    kind = lookup_type()
    assert list(files) == [
        "/etc/postfix/mailadmin/virtual_mailbox_domains.cf",
        "/etc/postfix/mailadmin/virtual_mailbox_maps.cf",
        "/etc/postfix/mailadmin/virtual_alias_maps.cf",
        "/etc/postfix/mailadmin/sender_login_maps.cf",
        "/etc/postfix/mailadmin/extension_guard.regexp",
        "/etc/postfix/main.cf (add these lines)",
        "/etc/dovecot/mailadmin-sql.conf.ext",
        "/etc/dovecot/conf.d/99-mailadmin.conf",
    ]
    main_cf = files["/etc/postfix/main.cf (add these lines)"]
    assert (
        f"virtual_alias_maps = proxy:{kind}:/etc/postfix/mailadmin/virtual_alias_maps.cf" in main_cf
    )
    assert "recipient_delimiter = +" in main_cf
    sql_conf = files["/etc/dovecot/mailadmin-sql.conf.ext"]
    assert f"driver = {kind}\n" in sql_conf
    assert f"password_query = {mailserver.dovecot_password_query()}\n" in sql_conf
    dovecot_conf = files["/etc/dovecot/conf.d/99-mailadmin.conf"]
    assert "lmtp_save_to_detail_mailbox = yes" in dovecot_conf
    settings_dict = connection.settings_dict
    if kind == "sqlite":
        assert (
            f"dbpath = {settings_dict['NAME']}\n"
            in files["/etc/postfix/mailadmin/virtual_alias_maps.cf"]
        )
    else:
        alias_cf = files["/etc/postfix/mailadmin/virtual_alias_maps.cf"]
        assert f"dbname = {settings_dict['NAME']}\n" in alias_cf
        assert f"dbname={settings_dict['NAME']}" in sql_conf


def test_config_for_the_other_database(org):
    other_kind = "pgsql" if lookup_type() == "sqlite" else "sqlite"
    out, err = io.StringIO(), io.StringIO()
    call_command("mailserver_config", "--db", other_kind, stdout=out, stderr=err)
    assert "placeholders" in err.getvalue()
    files = split_files(out.getvalue())
    assert (
        f"virtual_mailbox_maps = proxy:{other_kind}:"
        in files["/etc/postfix/main.cf (add these lines)"]
    )


def test_dovecot_24_is_no_longer_printed(org):
    with pytest.raises(CommandError):
        printed("--dovecot", "2.4")


def test_the_dovecot_store_adds_the_doveadm_listener_and_usage_rows(org, settings):
    settings.MAIL_STORE = "dovecot"
    settings.DOVEADM_URL = "http://127.0.0.1:8091/doveadm/v1"
    settings.DOVEADM_API_KEY = "k3y-of-the-console"
    files = split_files(printed())
    conf = files["/etc/dovecot/conf.d/99-mailadmin.conf"]
    assert "doveadm_api_key = k3y-of-the-console\n" in conf
    assert re.search(
        r"service doveadm \{\s*inet_listener http \{\s*address = 127.0.0.1\s*port = 8091", conf
    )
    assert "mail_plugins = $mail_plugins quota quota_clone" in conf
    assert "quota = count:User quota" in conf
    assert "lda_mailbox_autocreate = no" in conf  # the console creates the folders
    dict_sql = files["/etc/dovecot/mailadmin-dict-sql.conf.ext"]
    assert "table = mailserver_mailusage" in dict_sql
    assert "pattern = priv/quota/storage" in dict_sql


def test_the_dovecot_store_needs_a_doveadm_url_it_can_print(org, settings):
    settings.MAIL_STORE = "dovecot"
    settings.DOVEADM_URL = "https://mail.example.com/api"
    settings.DOVEADM_API_KEY = "key"
    with pytest.raises(CommandError, match="DOVEADM_URL must look like"):
        printed()
    settings.DOVEADM_URL = "http://127.0.0.1:8091/doveadm/v1"
    settings.DOVEADM_API_KEY = "with$dollar"
    with pytest.raises(CommandError, match="DOVEADM_API_KEY"):
        printed()


def test_the_vmail_user_of_the_readme_is_the_only_mail_uid(org):
    uid, gid = mailserver.vmail_ids()
    conf = split_files(printed())["/etc/dovecot/conf.d/99-mailadmin.conf"]
    assert f"first_valid_uid = {uid}\nlast_valid_uid = {uid}\n" in conf
    assert f"first_valid_gid = {gid}\n" in conf
    assert "mail_uid = vmail\n" in conf


def test_config_refuses_an_unknown_office(db):
    with pytest.raises(CommandError, match="No office with the domain nowhere.kr"):
        printed("--domain", "nowhere.kr")
