"""The console and a real Postfix + Dovecot, configured from what
``mailserver_config`` prints: files on disk and protocol answers."""

from __future__ import annotations

import io
import poplib
import smtplib
import statistics
import time

import pytest
from django.core.management import call_command
from django.test.utils import override_settings

from accounts.mailstore import get_mail_store
from accounts.models import AuditEvent, Folder, Mailbox, Message
from subaccounts.models import SubAccount
from subaccounts.services import messages_to_move, subaccount_add
from tests.mailserver.mail import (
    all_message_files,
    message,
    message_files,
    pop3_stat,
    send,
    smtp,
)
from tests.mailserver.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "gabiaedu.com"
KIM = f"minjun.kim@{DOMAIN}"
LIST_URL = f"/{DOMAIN}/manage/mail/accounts/"


def add_subaccount(owner, local_part: str):
    """Through the service, which has Dovecot create the folder first."""
    return subaccount_add(actor=None, owner=owner, local_part=local_part)


def admin(client, org):
    client.force_login(org.admin)
    return client


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            return result
        time.sleep(0.1)
    return result


def test_delivery_lands_in_inbox_and_the_subaccount_folder(servers, org):
    add_subaccount(org.kim, "sales")
    send(servers, KIM, subject="to kim")
    send(servers, f"sales@{DOMAIN}", subject="to sales")
    maildir = servers.maildir(DOMAIN, "minjun.kim")

    assert wait_until(lambda: message_files(maildir) and message_files(maildir, ".INBOX.sales"))
    assert len(message_files(maildir)) == 1
    assert b"Subject: to kim" in message_files(maildir)[0].read_bytes()
    assert len(message_files(maildir, ".INBOX.sales")) == 1
    assert b"Subject: to sales" in message_files(maildir, ".INBOX.sales")[0].read_bytes()


def test_a_delivery_shows_in_the_usage_list_within_seconds(servers, org, client):
    client.force_login(org.admin)
    sent_at = time.monotonic()
    send(servers, KIM, body_bytes=5000)

    def shown():
        mailbox = Mailbox.objects.get(account=org.kim)
        return mailbox.message_count == 1 and mailbox.used_bytes > 5000

    assert wait_until(shown, timeout=15), "the delivery did not reach the console in 15 s"
    delay = time.monotonic() - sent_at
    response = client.get(LIST_URL, {"sort": "-usage"})
    row = next(r for r in response.context["rows"] if r.login_id == "minjun.kim")
    assert row.mailbox.used_bytes == Mailbox.objects.get(account=org.kim).used_bytes
    assert response.context["rows"][0].login_id == "minjun.kim"
    print(f"delivery to list: {delay:.2f} s")


def test_the_pane_shows_dovecots_folder_figures(servers, org, client):
    add_subaccount(org.kim, "sales")
    send(servers, KIM)
    send(servers, KIM)
    send(servers, f"sales@{DOMAIN}")
    maildir = servers.maildir(DOMAIN, "minjun.kim")
    assert wait_until(lambda: len(all_message_files(maildir)) == 3)

    response = admin(client, org).get(f"{LIST_URL}minjun.kim/")
    figures = {f.name: f for f in response.context["folders"]}
    assert [f.name for f in response.context["folders"]] == [
        "INBOX",
        "sales",
        "Sent",
        "Drafts",
        "Junk",
        "Trash",
    ]
    assert figures["INBOX"].message_total == 2
    assert figures["sales"].message_total == 1
    assert figures["sales"].role == "subaccount"
    assert figures["sales"].address == "sales"
    assert figures["sales"].depth == 1
    # Dovecot's sizes (the W= of the files: sizes as clients see them).
    on_disk = [int(p.name.split(",W=")[1].split(":")[0]) for p in message_files(maildir)]
    assert figures["INBOX"].size_total == sum(on_disk)


def test_extension_addresses_are_refused_from_outside_and_from_the_host(servers, org):
    add_subaccount(org.kim, "sales")
    for recipient in (f"minjun.kim+Trash@{DOMAIN}", f"minjun.kim+INBOX.sales@{DOMAIN}"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(servers, recipient)
        code, _text = refused.value.recipients[recipient]
        assert code == 550
    maildir = servers.maildir(DOMAIN, "minjun.kim")
    assert message_files(maildir, ".Trash") == [] and message_files(maildir) == []


def test_owner_may_send_as_its_subaccount_address_and_nobody_elses(servers, org, other):
    add_subaccount(org.kim, "sales")
    add_subaccount(org.lee, "hr")
    recipient = f"friend@{DOMAIN.replace('gabiaedu', 'other.co')}"
    with smtp(servers, login=KIM) as client:
        for sender in (KIM, f"sales@{DOMAIN}"):
            client.sendmail(sender, [f"admin@{DOMAIN}"], message(sender, f"admin@{DOMAIN}"))
        for sender in (f"hr@{DOMAIN}", f"seoyeon.lee@{DOMAIN}", "minjun.kim@other.co.kr"):
            with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                client.sendmail(sender, [f"admin@{DOMAIN}"], message(sender, recipient))
            code, text = refused.value.recipients[f"admin@{DOMAIN}"]
            assert 500 <= code < 600 and b"not owned by user" in text
    # Nobody may use the office's addresses without signing in as their owner.
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(servers, f"admin@{DOMAIN}", sender=f"sales@{DOMAIN}")
    assert refused.value.recipients[f"admin@{DOMAIN}"][0] == 553


def test_over_quota_is_refused_at_rcpt_on_the_declared_size(servers, org):
    Mailbox.objects.filter(account=org.kim).update(quota_bytes=20_000)
    send(servers, KIM, body_bytes=12_000)
    maildir = servers.maildir(DOMAIN, "minjun.kim")
    assert wait_until(lambda: len(message_files(maildir)) == 1)

    with smtp(servers) as client:
        code, _ = client.mail("friend@outside.example", options=["SIZE=12000"])
        assert code == 250
        code, text = client.rcpt(KIM)
        assert code == 552, text
        assert b"Mailbox is full" in text
        client.rset()
        # What still fits is accepted.
        client.mail("friend@outside.example", options=["SIZE=2000"])
        assert client.rcpt(KIM)[0] == 250
    assert len(message_files(maildir)) == 1


def test_pop3_counts_what_was_delivered(servers, org):
    send(servers, KIM)
    maildir = servers.maildir(DOMAIN, "minjun.kim")
    assert wait_until(lambda: len(message_files(maildir)) == 1)
    assert pop3_stat(servers, KIM)[0] == 1


def deliver(servers, recipient: str, count: int = 1, **kwargs) -> None:
    for _ in range(count):
        send(servers, recipient, **kwargs)


def wait_for_files(servers, login_id: str, count: int) -> None:
    maildir = servers.maildir(DOMAIN, login_id)
    assert wait_until(lambda: len(all_message_files(maildir)) == count), (
        f"{len(all_message_files(maildir))} message files, expected {count}"
    )


def test_emptying_leaves_no_message_files(servers, org, client):
    add_subaccount(org.kim, "sales")
    deliver(servers, KIM, 2)
    deliver(servers, f"sales@{DOMAIN}")
    wait_for_files(servers, "minjun.kim", 3)
    maildir = servers.maildir(DOMAIN, "minjun.kim")
    size = sum(int(p.name.split(",W=")[1].split(":")[0]) for p in all_message_files(maildir))

    response = admin(client, org).post(f"{LIST_URL}minjun.kim/empty/")

    assert response.status_code == 302
    # When the redirect arrives, the files are gone: Dovecot has done it.
    assert all_message_files(maildir) == []
    assert (maildir / ".INBOX.sales").is_dir()  # folders remain
    assert pop3_stat(servers, KIM) == (0, 0)
    event = AuditEvent.objects.get(action=AuditEvent.Action.MAILBOX_EMPTY)
    assert event.data["messages"] == 3
    assert event.data["bytes"] == size
    mailbox = Mailbox.objects.get(account=org.kim)
    assert (mailbox.used_bytes, mailbox.message_count) == (0, 0)


def test_dovecot_unreachable_while_emptying_changes_nothing(servers, org, client, settings):
    deliver(servers, KIM, 2)
    wait_for_files(servers, "minjun.kim", 2)
    mailbox = Mailbox.objects.get(account=org.kim)
    assert wait_until(lambda: Mailbox.objects.get(pk=mailbox.pk).message_count == 2)
    mailbox.refresh_from_db()
    settings.DOVEADM_URL = f"http://127.0.0.1:{free_port()}/doveadm/v1"

    response = admin(client, org).post(f"{LIST_URL}minjun.kim/empty/")

    assert response.status_code == 503  # the confirmation again, saying why
    text = response.content.decode()
    # In the admin's language (Korean by default): unreachable, nothing changed.
    assert "연결할 수 없습니다" in text and "아무것도 변경되지 않았습니다" in text
    assert len(all_message_files(servers.maildir(DOMAIN, "minjun.kim"))) == 2
    after = Mailbox.objects.get(pk=mailbox.pk)
    assert (after.message_count, after.used_bytes) == (2, mailbox.used_bytes)
    event = AuditEvent.objects.get(action=AuditEvent.Action.MAILBOX_EMPTY)
    assert "연결할 수 없습니다" in event.data["failed"]


def test_deleting_a_subaccount_moves_its_mail_to_inbox_and_unknows_the_address(
    servers, org, client
):
    add_subaccount(org.kim, "sales")
    deliver(servers, f"sales@{DOMAIN}", 2)
    deliver(servers, KIM)
    wait_for_files(servers, "minjun.kim", 3)
    maildir = servers.maildir(DOMAIN, "minjun.kim")
    # What the confirmation announces is Dovecot's count.
    assert messages_to_move(SubAccount.objects.get(local_part="sales")) == 2

    response = admin(client, org).post(f"{LIST_URL}minjun.kim/subaccounts/sales/delete/")

    assert response.status_code in (200, 302)
    assert not (maildir / ".INBOX.sales").exists()
    assert len(message_files(maildir)) == 3
    assert pop3_stat(servers, KIM)[0] == 3
    event = AuditEvent.objects.get(action=AuditEvent.Action.SUBACCOUNT_DELETE)
    assert event.data["messages_moved"] == 2
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(servers, f"sales@{DOMAIN}")
    assert refused.value.recipients[f"sales@{DOMAIN}"][0] == 550

    # The same ID again starts empty.
    add_subaccount(org.kim, "sales")
    assert message_files(maildir, ".INBOX.sales") == []
    figures = {f.name: f for f in get_mail_store().folder_figures(org.kim.mailbox)}
    assert figures["sales"].message_total == 0 and figures["INBOX"].message_total == 3


def test_suspending_refuses_the_very_next_pop3_login(servers, org, client):
    deliver(servers, KIM)
    wait_for_files(servers, "minjun.kim", 1)
    assert pop3_stat(servers, KIM)[0] == 1  # the answer is cached now

    response = admin(client, org).post(
        f"/{DOMAIN}/manage/users/minjun.kim/",
        {"name": org.kim.name, "status": "suspended", "pop3_enabled": "on", "smtp_enabled": "on"},
    )

    assert response.status_code == 302
    with pytest.raises(poplib.error_proto):
        pop3_stat(servers, KIM)
    # Back to active: the next login works again.
    admin(client, org).post(
        f"/{DOMAIN}/manage/users/minjun.kim/",
        {"name": org.kim.name, "status": "active", "pop3_enabled": "on", "smtp_enabled": "on"},
    )
    assert pop3_stat(servers, KIM)[0] == 1


def test_pop3_switched_off_refuses_the_next_login(servers, org, client):
    assert pop3_stat(servers, KIM) == (0, 0)
    admin(client, org).post(
        f"/{DOMAIN}/manage/users/minjun.kim/",
        {"name": org.kim.name, "status": "active", "smtp_enabled": "on"},
    )
    with pytest.raises(poplib.error_proto):
        pop3_stat(servers, KIM)


def test_reconcile_compares_the_console_with_dovecot(servers, org):
    add_subaccount(org.kim, "sales")
    deliver(servers, KIM)
    deliver(servers, f"sales@{DOMAIN}")
    wait_for_files(servers, "minjun.kim", 2)
    dovecot = get_mail_store().usage([Mailbox.objects.get(account=org.kim)])
    actual = next(iter(dovecot.values()))
    assert actual.messages == 2
    assert wait_until(lambda: Mailbox.objects.get(account=org.kim).message_count == 2)
    # Drift the console's figures (as a lost update would).
    Mailbox.objects.filter(account=org.kim).update(used_bytes=1, message_count=9)

    out = io.StringIO()
    call_command("reconcile_usage", "--domain", DOMAIN, stdout=out)
    assert f"drift: {KIM} message_count: stored 9, actual 2" in out.getvalue()
    assert f"drift: {KIM} used_bytes: stored 1, actual {actual.bytes}" in out.getvalue()

    call_command("reconcile_usage", "--fix", "--domain", DOMAIN, stdout=io.StringIO())
    mailbox = Mailbox.objects.get(account=org.kim)
    assert (mailbox.used_bytes, mailbox.message_count) == (actual.bytes, 2)
    out = io.StringIO()
    call_command("reconcile_usage", "--domain", DOMAIN, stdout=out)
    assert "with drift: 0" in out.getvalue()


def write_maildir(root, folders: dict[str, list[bytes]]) -> None:
    for folder, messages in folders.items():
        base = root / folder if folder else root
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        for number, raw in enumerate(messages):
            (base / "cur" / f"17000000{number:02d}.M1P1.old,S={len(raw)}:2,S").write_bytes(raw)


def test_import_maildir_migrates_into_dovecot_once(servers, org, tmp_path):
    add_subaccount(org.kim, "sales")
    old = tmp_path / "old-maildir"
    write_maildir(
        old,
        {
            "": [message("a@x.example", KIM, "one"), message("b@x.example", KIM, "two")],
            ".INBOX.sales": [message("c@x.example", f"sales@{DOMAIN}", "three")],
            ".Sent": [b"Subject: no message id\r\n\r\nsent without an id\r\n"],
        },
    )

    out = io.StringIO()
    call_command("import_maildir", "--domain", DOMAIN, "--account", "minjun.kim", old, stdout=out)
    assert "messages stored in Dovecot: 4" in out.getvalue()
    call_command(
        "import_maildir", "--domain", DOMAIN, "--account", "minjun.kim", "--append", old,
        stdout=(again := io.StringIO()),
    )  # fmt: skip
    assert "messages stored in Dovecot: 0" in again.getvalue()
    assert "already in Dovecot (skipped): 4" in again.getvalue()

    maildir = servers.maildir(DOMAIN, "minjun.kim")
    assert len(message_files(maildir)) == 2
    assert len(message_files(maildir, ".INBOX.sales")) == 1
    assert len(message_files(maildir, ".Sent")) == 1
    # Dovecot counted each once, and the console shows Dovecot's count.
    assert wait_until(lambda: Mailbox.objects.get(account=org.kim).message_count == 4)


def test_pane_latency_and_delivery_to_list_delay(servers, org, client):
    """Figures for the record (printed; shown with -s): the pane's median
    over 20 requests with each store, and a delivery's way into the list."""
    add_subaccount(org.kim, "sales")
    deliver(servers, KIM, 3)
    deliver(servers, f"sales@{DOMAIN}", 2)
    wait_for_files(servers, "minjun.kim", 5)
    admin(client, org)
    url = f"{LIST_URL}minjun.kim/"

    def median_ms() -> float:
        for _ in range(2):
            client.get(url)
        times = []
        for _ in range(20):
            started = time.perf_counter()
            assert client.get(url).status_code == 200
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    dovecot = median_ms()
    with override_settings(MAIL_STORE="db"):
        embedded = median_ms()
    delays = []
    for _ in range(5):
        before = Mailbox.objects.get(account=org.kim).message_count
        started = time.monotonic()
        send(servers, KIM)
        assert wait_until(
            lambda before=before: Mailbox.objects.get(account=org.kim).message_count > before
        )
        delays.append(time.monotonic() - started)
    print(
        f"\npane median over 20: dovecot {dovecot:.1f} ms, db {embedded:.1f} ms "
        f"(+{dovecot - embedded:.1f} ms); delivery to list: median "
        f"{statistics.median(delays):.2f} s, max {max(delays):.2f} s"
    )
    assert dovecot < 1000


def test_the_pane_says_why_when_dovecot_is_unreachable(servers, org, client, settings):
    settings.DOVEADM_URL = f"http://127.0.0.1:{free_port()}/doveadm/v1"
    response = admin(client, org).get(f"{LIST_URL}minjun.kim/")
    assert response.status_code == 200
    assert response.context["folders"] == []
    assert "연결할 수 없습니다" in response.content.decode()


def test_a_new_password_retires_the_old_one_at_the_next_login(servers, org):
    assert pop3_stat(servers, KIM) == (0, 0)  # the old password, cached now
    org.kim.set_password("a brand new password")
    org.kim.save()
    with pytest.raises(poplib.error_proto):
        pop3_stat(servers, KIM)
    assert pop3_stat(servers, KIM, "a brand new password") == (0, 0)


def test_seed_demo_puts_the_demo_mail_into_dovecot(servers, transactional_db):
    out = io.StringIO()
    call_command("seed_demo", "--domain", "demo.test", "--accounts", "10", stdout=out)
    assert "demo messages in Dovecot" in out.getvalue()
    store = get_mail_store()
    mailboxes = list(Mailbox.objects.filter(office__domain="demo.test").select_related("account"))
    assert not Message.objects.filter(office__domain="demo.test").exists()
    dovecot = store.usage(mailboxes)
    assert sum(u.messages for u in dovecot.values()) > 0
    for mailbox in mailboxes:
        assert (mailbox.message_count, mailbox.used_bytes) == (
            dovecot[mailbox.pk].messages,
            dovecot[mailbox.pk].bytes,
        )
    with_subaccounts = next(
        m for m in mailboxes if Folder.objects.filter(mailbox=m, role="subaccount").exists()
    )
    names = {f.name for f in store.folder_figures(with_subaccounts)}
    for folder in Folder.objects.filter(mailbox=with_subaccounts, role="subaccount"):
        assert folder.name in names


def test_dovecot_unreachable_while_adding_a_subaccount_adds_nothing(servers, org, client, settings):
    settings.DOVEADM_URL = f"http://127.0.0.1:{free_port()}/doveadm/v1"
    response = admin(client, org).post(
        f"{LIST_URL}minjun.kim/subaccounts/", {"local_part": "sales"}
    )
    assert response.status_code >= 400
    assert "연결할 수 없습니다" in response.content.decode()
    assert not SubAccount.objects.exists()
    assert not Folder.objects.filter(mailbox__account=org.kim, name="sales").exists()
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(servers, f"sales@{DOMAIN}")
    event = AuditEvent.objects.get(action=AuditEvent.Action.SUBACCOUNT_ADD)
    assert "failed" in event.data


def test_a_mail_only_password_set_here_is_the_one_pop3_accepts(servers, org):
    from accounts.account_services import mail_password_set

    assert pop3_stat(servers, KIM) == (0, 0)  # the account password, cached now
    mail_password_set(actor=org.admin, account=org.kim, password="mail-only-Secret-7")
    assert pop3_stat(servers, KIM, "mail-only-Secret-7") == (0, 0)
    with pytest.raises(poplib.error_proto):
        pop3_stat(servers, KIM)  # the account password no longer opens POP3
    mail_password_set(actor=org.admin, account=org.kim, password=None)
    assert pop3_stat(servers, KIM) == (0, 0)


def test_a_deleted_user_is_unknown_to_the_mail_servers_until_restored(servers, org):
    from accounts.account_services import account_delete, account_restore

    assert pop3_stat(servers, KIM) == (0, 0)
    account_delete(actor=org.admin, account=org.kim)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send(servers, KIM)
    with pytest.raises(poplib.error_proto):
        pop3_stat(servers, KIM)
    org.kim.refresh_from_db()
    account_restore(actor=org.admin, account=org.kim)
    deliver(servers, KIM)
    wait_for_files(servers, "minjun.kim", 1)
    assert pop3_stat(servers, KIM)[0] == 1
