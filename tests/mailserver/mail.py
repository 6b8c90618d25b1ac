"""Talking to the private servers like a client would."""

from __future__ import annotations

import poplib
import smtplib
from email.message import EmailMessage
from pathlib import Path

from tests.factories import PASSWORD


def message(sender: str, recipient: str, subject: str = "hello", body_bytes: int = 200) -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = sender, recipient, subject
    mail.set_content("x" * body_bytes)
    return mail.as_bytes()


def smtp(servers, login: str | None = None, password: str = PASSWORD) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", servers.smtp_port, timeout=20)
    client.ehlo()
    if login:
        client.login(login, password)
    return client


def send(servers, recipient: str, sender: str = "friend@outside.example", **kwargs):
    """One message from outside (not logged in); the server's refusals as
    smtplib raises them."""
    with smtp(servers) as client:
        return client.sendmail(sender, [recipient], message(sender, recipient, **kwargs))


def pop3_stat(servers, user: str, password: str = PASSWORD) -> tuple[int, int]:
    client = poplib.POP3("127.0.0.1", servers.pop3_port, timeout=20)
    try:
        client.user(user)
        client.pass_(password)
        return client.stat()
    finally:
        try:
            client.quit()
        except poplib.error_proto:
            pass


def message_files(maildir: Path, folder: str = "") -> list[Path]:
    """The message files of one Maildir++ folder ("" = INBOX, else
    ".INBOX.sales" …)."""
    base = maildir / folder if folder else maildir
    return [p for sub in ("cur", "new") if (base / sub).is_dir() for p in (base / sub).iterdir()]


def all_message_files(maildir: Path) -> list[Path]:
    return [p for p in maildir.rglob("*") if p.parent.name in ("cur", "new") and p.is_file()]
