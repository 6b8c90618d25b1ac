"""The mail store when the mail lives in Dovecot (``MAIL_STORE=dovecot``).

Actions and figures go through the doveadm HTTP API (``DOVEADM_URL``,
``DOVEADM_API_KEY``); the usage list reads the mailboxes' counters, which
Dovecot keeps current itself: its ``quota_clone`` plugin writes every
user's usage into ``mailserver_mailusage`` and triggers copy it into the
mailboxes (migration mailserver/0001).

Dovecot names a user by the account's primary address (what the printed
userdb answers) and a folder by its path with ``.`` between the levels:
``INBOX``, ``INBOX.<sub-account ID>``, ``Sent``. The console keeps its
``Folder`` rows in this mode too (sub-account addresses point at them); the
store creates and deletes them along with Dovecot's.
"""

from __future__ import annotations

from django.db.models.expressions import RawSQL
from django.utils.translation import gettext

from accounts.doveadm import EXIT_EXISTS, EXIT_NO_USER, EXIT_NOT_FOUND, Doveadm, DoveadmError
from accounts.mailstore import (
    FOLDER_ORDER,
    FolderDrift,
    FolderFigure,
    MailStoreError,
    Usage,
    _folder_tree_sql,
    order_folders,
)
from accounts.models import Account, Address, Folder, Mailbox

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


# The standard folders, as Debian's 15-mailboxes.conf names them. They are
# made real whenever INBOX gets a child: Dovecot 2.3's listing of a
# Maildir++ whose only folders are INBOX's children skips INBOX itself,
# and its quota count (the usage the console shows) would miss INBOX.
STANDARD_FOLDERS = ("Drafts", "Sent", "Junk", "Trash")


def user_of(mailbox: Mailbox) -> str:
    return mailbox.account.email


def dovecot_name(folder: Folder) -> str:
    """The folder's name in Dovecot: its path from the top, the inbox being
    ``INBOX`` (a sub-account's folder is ``INBOX.<ID>``)."""
    names = []
    while folder is not None:
        names.append(INBOX if folder.role == Folder.Role.INBOX else folder.name)
        folder = folder.parent
    return SEPARATOR.join(reversed(names))


class _Row:
    """One Dovecot mailbox on its way to a FolderFigure."""

    def __init__(self, name: str, messages: int, size: int, parent: str | None):
        self.full_name, self.messages, self.size, self.parent = name, messages, size, parent
        self.name = name if parent is None else name[len(parent) + 1 :]
        self.role = Folder.Role.CUSTOM
        self.address = ""
        self.depth = 0

    @property
    def sort_key(self):
        return (FOLDER_ORDER.get(self.role, len(FOLDER_ORDER)), self.name.lower())


class DovecotMailStore:
    def __init__(self, doveadm: Doveadm | None = None):
        self.doveadm = doveadm or Doveadm.from_settings()

    # --- reading ---------------------------------------------------------

    def _subaccount_folders(self, mailbox: Mailbox) -> dict[str, str]:
        """{Dovecot name of a sub-account's folder: its address's local part},
        one query."""
        rows = Address.objects.filter(
            account_id=mailbox.account_id, folder__isnull=False
        ).values_list("local_part", "folder__name")
        return {f"{INBOX}{SEPARATOR}{name}": local for local, name in rows}

    def folder_figures(self, mailbox: Mailbox) -> list[FolderFigure]:
        """Every folder Dovecot has for the mailbox (``mailboxStatus``):
        standard folders first, sub-account folders inside the inbox."""
        status = self.doveadm.mailbox_status(user_of(mailbox))
        subaccounts = self._subaccount_folders(mailbox) if len(status) > 1 else {}
        names = {row["mailbox"] for row in status}
        rows = []
        for row in status:
            name = row["mailbox"]
            if name in subaccounts:
                parent = INBOX
            else:
                # The nearest existing level above (Maildir++ may lack one).
                parts = name.split(SEPARATOR)
                parent = next(
                    (
                        SEPARATOR.join(parts[:i])
                        for i in range(len(parts) - 1, 0, -1)
                        if SEPARATOR.join(parts[:i]) in names
                    ),
                    None,
                )
            item = _Row(name, row["messages"], row["vsize"], parent)
            if name.upper() == INBOX:
                item.role = Folder.Role.INBOX
            elif name in subaccounts:
                item.role, item.address = Folder.Role.SUBACCOUNT, subaccounts[name]
            elif parent is None:
                item.role = ROLE_BY_NAME.get(name.lower(), Folder.Role.CUSTOM)
            rows.append(item)
        ordered = order_folders(rows, lambda r: r.parent, lambda r: r.full_name)
        return [
            FolderFigure(
                name=r.name,
                role=str(r.role),
                role_label=str(Folder.Role(r.role).label),
                depth=r.depth,
                message_total=r.messages,
                size_total=r.size,
                address=r.address,
            )
            for r in ordered
        ]

    def _tree_status(self, mailbox: Mailbox, folder: Folder) -> tuple[str, list[dict]]:
        """Dovecot's rows for ``folder`` and the folders below it -- not
        another sub-account's folder that merely shares the prefix
        (``INBOX.a.b`` of sub-account ``a.b`` is no child of ``a``'s)."""
        name = dovecot_name(folder)
        try:
            rows = self.doveadm.mailbox_status(user_of(mailbox), name)
            rows += self.doveadm.mailbox_status(user_of(mailbox), f"{name}{SEPARATOR}*")
        except DoveadmError as error:
            if error.exit_code == EXIT_NOT_FOUND:
                return name, []
            raise
        others = set(self._subaccount_folders(mailbox)) - {name}
        return name, [
            r
            for r in rows
            if not any(r["mailbox"] == o or r["mailbox"].startswith(o + SEPARATOR) for o in others)
        ]

    def folder_tree_usage(self, folder: Folder) -> Usage:
        mailbox = Mailbox.objects.select_related("account").get(pk=folder.mailbox_id)
        _name, rows = self._tree_status(mailbox, folder)
        return Usage(bytes=sum(r["vsize"] for r in rows), messages=sum(r["messages"] for r in rows))

    def usage(self, mailboxes: list[Mailbox]) -> dict[int, Usage]:
        """What Dovecot holds now, asked of Dovecot (one request per
        mailbox: this is for ``reconcile_usage``, not for screens). A user
        Dovecot does not know (no mail yet) holds nothing."""
        found = {}
        for mailbox in mailboxes:
            try:
                found[mailbox.pk] = self.totals(mailbox)
            except DoveadmError as error:
                if error.exit_code not in (EXIT_NOT_FOUND, EXIT_NO_USER):
                    raise
                found[mailbox.pk] = Usage(0, 0)
        return found

    def totals(self, mailbox: Mailbox) -> Usage:
        rows = self.doveadm.mailbox_status(user_of(mailbox))
        return Usage(bytes=sum(r["vsize"] for r in rows), messages=sum(r["messages"] for r in rows))

    def folder_drift(self, mailboxes: list[Mailbox]) -> list[FolderDrift]:
        """Dovecot counts its own folders (the pane asks it); the console
        keeps no folder counters for this store, so none can drift."""
        return []

    def recount_folders(self, mailbox: Mailbox) -> None:
        """Nothing to recount: see :meth:`folder_drift`."""

    # --- actions ---------------------------------------------------------

    def empty(self, mailbox: Mailbox) -> Usage:
        """Expunge every message of every folder; the folders stay. Returns
        what Dovecot removed (its figures before minus after: mail
        delivered meanwhile stays, it is not what the admin confirmed)."""
        before = self.totals(mailbox)
        if not before.messages:
            return Usage(0, 0)
        self.doveadm.expunge(user_of(mailbox), "*")
        after = self.totals(mailbox)
        return Usage(
            bytes=max(before.bytes - after.bytes, 0),
            messages=max(before.messages - after.messages, 0),
        )

    def create_folder(self, mailbox: Mailbox, *, parent: Folder, name: str, role: str) -> Folder:
        """The console's row first (its constraints refuse a clash before
        Dovecot is touched), then Dovecot's folder, subscribed. An existing
        empty Dovecot folder of that name is taken as it is (a retried
        request); one holding mail is a clash the admin has to hear about,
        or the new sub-account would inherit someone's mail."""
        folder = Folder.objects.create(
            office_id=mailbox.office_id, mailbox=mailbox, parent=parent, name=name, role=role
        )
        user, target = user_of(mailbox), dovecot_name(folder)
        for standard in STANDARD_FOLDERS:
            try:
                self.doveadm.mailbox_create(user, standard)
            except DoveadmError as error:
                if error.exit_code != EXIT_EXISTS:
                    raise
        try:
            self.doveadm.mailbox_create(user, target)
        except DoveadmError as error:
            if error.exit_code != EXIT_EXISTS:
                raise
            if any(r["messages"] for r in self.doveadm.mailbox_status(user, target)):
                raise MailStoreError(
                    gettext(
                        "The mailbox already has a folder %(folder)s holding mail; "
                        "choose another ID, or empty that folder first."
                    )
                    % {"folder": target}
                ) from error
        return folder

    def move_folder_to_inbox(self, mailbox: Mailbox, folder: Folder) -> int:
        """Move every message of the folder (and of the folders below it)
        into INBOX, delete them in Dovecot, then the console's rows; returns
        how many messages moved. A folder Dovecot lacks moves nothing."""
        user = user_of(mailbox)
        _name, rows = self._tree_status(mailbox, folder)
        moved = 0
        # Deepest first, so a parent is empty of children when it goes.
        for row in sorted(rows, key=lambda r: r["mailbox"].count(SEPARATOR), reverse=True):
            if row["messages"]:
                self.doveadm.move(user, row["mailbox"], INBOX)
                moved += row["messages"]
            self.doveadm.mailbox_delete(user, row["mailbox"])
        Folder.objects.filter(pk__in=RawSQL(_folder_tree_sql(), [folder.pk])).delete()
        return moved

    def refresh_auth(self, account: Account) -> None:
        """Forget Dovecot's cached passdb answers for the account, so what
        the console just changed applies at the next login."""
        self.doveadm.auth_cache_flush(account.email)
