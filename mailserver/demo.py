"""The demo office's mail, put into Dovecot (``seed_demo`` with
``MAIL_STORE=dovecot``): the same folders and messages ``seed_demo`` writes
for the embedded store, saved through doveadm, so every figure the console
shows is Dovecot's own. Bodies are capped (the demo's sizes reach hundreds
of megabytes) -- the figures are what Dovecot then counts, not the plan's.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime

from accounts.doveadm import EXIT_EXISTS, Doveadm, DoveadmError
from accounts.mailstore_dovecot import INBOX, STANDARD_FOLDERS, dovecot_name
from accounts.maintenance import reconcile_usage
from accounts.models import Folder, Mailbox, Message, Office

BODY_CAP = 16 * 1024
# The console's standard folders under Dovecot's names.
DOVECOT_NAMES = {
    Folder.Role.INBOX: INBOX,
    Folder.Role.SENT: "Sent",
    Folder.Role.DRAFTS: "Drafts",
    Folder.Role.SPAM: "Junk",
    Folder.Role.TRASH: "Trash",
}


def _folder_name(folder: Folder) -> str:
    if folder.role in DOVECOT_NAMES:
        return DOVECOT_NAMES[folder.role]
    return dovecot_name(folder)


def _message(message: Message, recipient: str) -> str:
    mail = EmailMessage()
    mail["From"] = message.sender or recipient
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.received_at)
    mail["Message-ID"] = f"<demo-{message.pk}@{recipient.rsplit('@', 1)[1]}>"
    line = "메일 사용 현황 데모 메시지입니다. This is a demo message.\n"
    body = line * max(1, min(message.size_bytes, BODY_CAP) // len(line.encode()))
    mail.set_content(body)
    return mail.as_string()


def push_office_to_dovecot(
    office: Office, *, doveadm: Doveadm | None = None, progress: Callable[[str], None] | None = None
) -> int:
    """Every mailbox's folders and messages into Dovecot; the console then
    keeps no message rows and shows Dovecot's figures. Returns the number
    of messages saved."""
    doveadm = doveadm or Doveadm.from_settings()
    saved = 0
    mailboxes = Mailbox.objects.filter(office=office).select_related("account").order_by("pk")
    for number, mailbox in enumerate(mailboxes, 1):
        user = mailbox.account.email
        folders = {f.pk: f for f in Folder.objects.filter(mailbox=mailbox).select_related("parent")}
        names = {pk: _folder_name(f) for pk, f in folders.items()}
        for name in [*STANDARD_FOLDERS, *sorted(set(names.values()) - {INBOX})]:
            try:
                doveadm.mailbox_create(user, name)
            except DoveadmError as error:
                if error.exit_code != EXIT_EXISTS:
                    raise
        for message in Message.objects.filter(mailbox=mailbox).order_by("pk").iterator():
            doveadm.run(
                "save", user=user, mailbox=names[message.folder_id], file=_message(message, user)
            )
            saved += 1
        Message.objects.filter(mailbox=mailbox).delete()
        # The rows are gone, so are their counts (Dovecot counts from now on).
        Folder.objects.filter(mailbox=mailbox).update(message_count=0, size_bytes=0)
        if progress and number % 50 == 0:
            progress(f"{number:,} mailboxes in Dovecot")
    # Dovecot's usage rows set the counters as it went; a row SQLite could
    # not take while the console wrote is caught up here.
    reconcile_usage(office=office, fix=True)
    return saved
