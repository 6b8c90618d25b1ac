"""The console and a real Postfix + Dovecot, configured from what
``mailserver_config`` prints: files on disk and protocol answers."""

from __future__ import annotations

import smtplib
import time

import pytest

from accounts.mailstore import get_mail_store
from accounts.models import Mailbox
from subaccounts.services import subaccount_add
from tests.mailserver.mail import (
    all_message_files,
    message,
    message_files,
    pop3_stat,
    send,
    smtp,
)

pytestmark = pytest.mark.django_db(transaction=True)

DOMAIN = "gabiaedu.com"
KIM = f"minjun.kim@{DOMAIN}"
LIST_URL = f"/{DOMAIN}/manage/mail/accounts/"


def add_subaccount(owner, local_part: str):
    subaccount = subaccount_add(actor=None, owner=owner, local_part=local_part)
    get_mail_store().create_folder(owner.mailbox, local_part)
    return subaccount


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


def test_folder_figures_are_dovecots(servers, org):
    add_subaccount(org.kim, "sales")
    send(servers, KIM)
    send(servers, KIM)
    send(servers, f"sales@{DOMAIN}")
    maildir = servers.maildir(DOMAIN, "minjun.kim")
    assert wait_until(lambda: len(all_message_files(maildir)) == 3)

    figures = {f.name: f for f in get_mail_store().folder_figures(org.kim.mailbox)}
    assert figures["INBOX"].messages == 2
    assert figures["INBOX.sales"].messages == 1
    assert figures["INBOX.sales"].role == "subaccount"
    on_disk = sum(int(p.name.split(",S=")[1].split(",")[0]) for p in message_files(maildir))
    assert figures["INBOX"].bytes >= on_disk


def test_extension_addresses_are_refused_from_outside_and_from_the_host(servers, org):
    add_subaccount(org.kim, "sales")
    for recipient in (f"minjun.kim+Trash@{DOMAIN}", f"minjun.kim+INBOX.sales@{DOMAIN}"):
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send(servers, recipient)
        code, _text = refused.value.recipients[recipient]
        assert code == 550
    assert not (servers.maildir(DOMAIN, "minjun.kim") / ".Trash").exists()


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
