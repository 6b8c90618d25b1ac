"""The mail store when the mail lives in Dovecot (``MAIL_STORE=dovecot``).

Actions and per-folder figures go through the doveadm HTTP API; usage for
many mailboxes at once comes from the rows Dovecot's ``quota_clone`` keeps
in the console's own database (``mailserver.MailUsage``), which triggers
also copy into the mailboxes' counters for the usage list.

Dovecot names a user by the account's primary address (what the printed
userdb answers), and a sub-account's folder ``INBOX.<ID>``.
"""

from __future__ import annotations

from accounts.doveadm import Doveadm, DoveadmError
from accounts.mailstore import FolderFigure, MailStoreError, Usage
from accounts.models import Folder

INBOX = "INBOX"
SEPARATOR = "."
# Dovecot's usual names of the special folders (Debian's 15-mailboxes.conf
# and what common clients create).
ROLE_BY_NAME = {
    "sent": Folder.Role.SENT,
    "sent messages": Folder.Role.SENT,
    "sent items": Folder.Role.SENT,
    "drafts": Folder.Role.DRAFTS,
    "junk": Folder.Role.SPAM,
    "spam": Folder.Role.SPAM,
    "trash": Folder.Role.TRASH,
    "deleted messages": Folder.Role.TRASH,
}


def subaccount_folder(name: str) -> str:
    return f"{INBOX}{SEPARATOR}{name}"


def role_of(mailbox_name: str) -> str:
    if mailbox_name.upper() == INBOX:
        return Folder.Role.INBOX
    if mailbox_name.startswith(INBOX + SEPARATOR):
        return Folder.Role.SUBACCOUNT
    return ROLE_BY_NAME.get(mailbox_name.lower(), Folder.Role.CUSTOM)


def _user(mailbox) -> str:
    return mailbox.account.email


class DovecotMailStore:
    def __init__(self, doveadm: Doveadm):
        self.doveadm = doveadm

    @classmethod
    def from_settings(cls) -> DovecotMailStore:
        return cls(Doveadm.from_settings())

    # --- reading ---------------------------------------------------------

    def folder_figures(self, mailbox) -> list[FolderFigure]:
        """Every folder Dovecot has for the mailbox, INBOX first, then by name."""
        rows = self.doveadm.mailbox_status(_user(mailbox))
        figures = [
            FolderFigure(
                name=row["mailbox"],
                role=role_of(row["mailbox"]),
                messages=row["messages"],
                bytes=row["vsize"],
            )
            for row in rows
        ]
        return sorted(figures, key=lambda f: (f.role != Folder.Role.INBOX, f.name.lower()))

    def usage(self, mailboxes) -> dict[int, Usage]:
        """What Dovecot last reported (quota_clone), in one query; a mailbox
        Dovecot never wrote a row for holds nothing yet."""
        from mailserver.models import MailUsage

        mailboxes = list(mailboxes)
        emails = {_user(m).lower(): m.pk for m in mailboxes}
        found = {
            row.username.lower(): Usage(bytes=max(row.bytes, 0), messages=max(row.messages, 0))
            for row in MailUsage.objects.filter(username__in=[_user(m) for m in mailboxes])
        }
        return {pk: found.get(email, Usage(0, 0)) for email, pk in emails.items()}

    def totals(self, mailbox) -> Usage:
        """The mailbox's figures counted by Dovecot now (all folders)."""
        rows = self.doveadm.mailbox_status(_user(mailbox))
        return Usage(bytes=sum(r["vsize"] for r in rows), messages=sum(r["messages"] for r in rows))

    # --- actions ---------------------------------------------------------

    def empty(self, mailbox) -> Usage:
        """Expunge every message of every folder; the folders stay. Returns
        what Dovecot removed (its figures before minus after)."""
        user = _user(mailbox)
        before = self.totals(mailbox)
        if before.messages:
            self.doveadm.expunge(user, "*")
        # Mail delivered meanwhile stays (the admin confirmed what was
        # there); the figures say what went.
        after = self.totals(mailbox) if before.messages else Usage(0, 0)
        return Usage(
            bytes=max(before.bytes - after.bytes, 0),
            messages=max(before.messages - after.messages, 0),
        )

    def create_folder(self, mailbox, name: str) -> None:
        """Create the sub-account folder ``INBOX.<name>``, subscribed. An
        existing empty one is taken as is (a retried request); one that
        holds mail is a clash the admin has to hear about."""
        user, folder = _user(mailbox), subaccount_folder(name)
        try:
            self.doveadm.mailbox_create(user, folder)
        except DoveadmError as error:
            if error.exit_code != 65:
                raise
            held = self.doveadm.mailbox_status(user, folder)
            if any(row["messages"] for row in held):
                raise MailStoreError(
                    f"The mailbox already has a folder {folder} holding mail; "
                    "choose another ID or empty that folder first."
                ) from error

    def move_folder_to_inbox(self, mailbox, name: str) -> Usage:
        """Move every message of ``INBOX.<name>`` into INBOX, then delete
        the folder; returns what was moved. A folder Dovecot does not have
        (never delivered to, already deleted) moves nothing."""
        user, folder = _user(mailbox), subaccount_folder(name)
        try:
            rows = self.doveadm.mailbox_status(user, folder)
        except DoveadmError as error:
            if error.exit_code == 68:
                return Usage(0, 0)
            raise
        rows = [r for r in rows if r["mailbox"] == folder]
        if not rows:
            return Usage(0, 0)
        moved = Usage(bytes=rows[0]["vsize"], messages=rows[0]["messages"])
        if moved.messages:
            self.doveadm.move(user, folder, INBOX)
        self.doveadm.mailbox_delete(user, folder)
        return moved

    def refresh_auth(self, account) -> None:
        """Forget Dovecot's cached passdb answers for the account, so what
        the console just changed applies at the next login."""
        self.doveadm.auth_cache_flush(account.email)
