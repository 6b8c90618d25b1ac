"""The mail store: where the mail itself lives, behind one small interface.

The console keeps its own records (accounts, mailboxes with their usage
counters, folders, the address registry, the audit log). The mail -- the
messages and the folders that hold them -- lives in a mail store, and every
operation the console performs on mail goes through this seam:

- folder figures of one mailbox (the detail pane),
- the figures of one folder and the folders below it (the sub-account
  delete dialog),
- the real usage of many mailboxes (``reconcile_usage``), and the folders
  whose counters differ from their mail (and their recount),
- empty a mailbox (비우기),
- create a sub-account folder inside the inbox,
- move a folder's mail into the inbox and delete the folder (returning
  how many messages moved),
- tell the store that what its password check answers for an account
  changed (suspension, POP3/SMTP switches, passwords).

Services call the store *first* and record the change in the console only
after the store has done it, so a store that fails (raising
:class:`MailStoreError`, whose message an admin can read) leaves the
console unchanged.

:class:`DatabaseMailStore` is the embedded store: messages are rows of the
console's own database (``Message``), kept in the same transaction as the
counters (the mailbox's, and each folder's own). It serves the demo,
``make run`` and the fast tests. A store for a real mail server is picked
with the ``MAIL_STORE`` setting; nothing outside this module (and the
stores) touches ``Message`` rows for these operations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, OuterRef, Subquery, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils.module_loading import import_string

from accounts.models import Account, Address, Folder, Mailbox, Message


class MailStoreError(Exception):
    """The mail store could not do what was asked; nothing was changed. The
    message is shown to the admin as it is."""


@dataclass(frozen=True)
class Usage:
    bytes: int
    messages: int


@dataclass(frozen=True)
class FolderFigure:
    """One folder as the detail pane shows it."""

    name: str
    role: str
    role_label: str
    depth: int
    message_total: int
    size_total: int
    # The local part of the sub-account address delivering into this
    # folder, if any (the caller knows the domain).
    address: str = ""


@dataclass(frozen=True)
class FolderDrift:
    """A folder whose counters differ from the mail it holds."""

    mailbox_id: int
    folder: str
    stored: Usage
    actual: Usage


# Standard folders first, in the order mail clients show them.
FOLDER_ORDER = {
    Folder.Role.INBOX: 0,
    Folder.Role.SENT: 1,
    Folder.Role.DRAFTS: 2,
    Folder.Role.SPAM: 3,
    Folder.Role.TRASH: 4,
}


class MailStore(Protocol):
    def folder_figures(self, mailbox: Mailbox) -> list[FolderFigure]: ...

    def folder_tree_usage(self, folder: Folder) -> Usage: ...

    def usage(self, mailboxes: list[Mailbox]) -> dict[int, Usage]: ...

    def folder_drift(self, mailboxes: list[Mailbox]) -> list[FolderDrift]: ...

    def recount_folders(self, mailbox: Mailbox) -> None: ...

    def empty(self, mailbox: Mailbox) -> Usage: ...

    def create_folder(
        self, mailbox: Mailbox, *, parent: Folder, name: str, role: str
    ) -> Folder: ...

    def move_folder_to_inbox(self, mailbox: Mailbox, folder: Folder) -> int: ...

    def refresh_auth(self, account: Account) -> None: ...


def order_folders(folders: list, key_of_parent, key_of) -> list:
    """Folders as a tree walk: standard folders first, then by name; each
    item gets ``depth``. ``key_of(folder)`` and ``key_of_parent(folder)``
    identify a folder and its parent."""
    children: dict = {}
    for folder in folders:
        children.setdefault(key_of_parent(folder), []).append(folder)
    ordered: list = []
    seen: set = set()

    def walk(parent, depth: int) -> None:
        for folder in sorted(children.get(parent, []), key=lambda f: f.sort_key):
            if key_of(folder) in seen:
                continue
            seen.add(key_of(folder))
            folder.depth = depth
            ordered.append(folder)
            walk(key_of(folder), depth + 1)

    walk(None, 0)
    # A folder whose parent is missing (never expected) still shows.
    for folder in folders:
        if key_of(folder) not in seen:
            folder.depth = 0
            ordered.append(folder)
    return ordered


def _folder_tree_sql() -> str:
    """A folder and every folder below it, for ``IN (…)``."""
    table = connection.ops.quote_name(Folder._meta.db_table)
    return (
        f"WITH RECURSIVE tree(id) AS ("
        f"SELECT id FROM {table} WHERE id = %s "
        f"UNION SELECT f.id FROM {table} f JOIN tree ON f.parent_id = tree.id"
        f") SELECT id FROM tree"
    )


def counted_from_messages(count: str = "message_count", size: str = "size_bytes") -> dict:
    """A folder's count and size of messages as correlated subqueries (read
    from the (folder, size_bytes) index), for ``annotate`` or, with the
    default names, for a set-based ``update`` of folders' counters."""
    per_folder = Message.objects.filter(folder=OuterRef("pk")).order_by().values("folder")
    return {
        count: Coalesce(Subquery(per_folder.annotate(n=Count("*")).values("n")), 0),
        size: Coalesce(Subquery(per_folder.annotate(total=Sum("size_bytes")).values("total")), 0),
    }


class DatabaseMailStore:
    """The embedded store: messages are ``Message`` rows; every operation is
    a bounded number of statements whatever the size of the mailbox, inside
    the caller's transaction."""

    def folder_figures(self, mailbox: Mailbox) -> list[FolderFigure]:
        # One query: the mailbox's folders with their counters and the
        # sub-account address delivering into each; no message is read, so
        # a folder of 200,000 messages costs what an empty one does.
        address = Address.objects.filter(folder=OuterRef("pk")).values("local_part")[:1]
        folders = list(
            Folder.objects.filter(mailbox=mailbox).order_by().annotate(address=Subquery(address))
        )
        for folder in folders:
            folder.sort_key = (
                FOLDER_ORDER.get(folder.role, len(FOLDER_ORDER)),
                folder.name.lower(),
                folder.pk,
            )
        ordered = order_folders(folders, lambda f: f.parent_id, lambda f: f.pk)
        return [
            FolderFigure(
                name=f.name,
                role=f.role,
                role_label=f.get_role_display(),
                depth=f.depth,
                message_total=f.message_count,
                size_total=f.size_bytes,
                address=f.address or "",
            )
            for f in ordered
        ]

    def folder_tree_usage(self, folder: Folder) -> Usage:
        # The counters of the folder and the folders below it.
        totals = Folder.objects.filter(
            mailbox_id=folder.mailbox_id, pk__in=RawSQL(_folder_tree_sql(), [folder.pk])
        ).aggregate(n=Sum("message_count"), size=Sum("size_bytes"))
        return Usage(bytes=totals["size"] or 0, messages=totals["n"] or 0)

    def usage(self, mailboxes: list[Mailbox]) -> dict[int, Usage]:
        found = {
            row["mailbox_id"]: Usage(bytes=row["total"] or 0, messages=row["count"])
            for row in Message.objects.filter(mailbox_id__in=[m.pk for m in mailboxes])
            .values("mailbox_id")
            .annotate(total=Sum("size_bytes"), count=Count("id"))
        }
        return {m.pk: found.get(m.pk, Usage(0, 0)) for m in mailboxes}

    def folder_drift(self, mailboxes: list[Mailbox]) -> list[FolderDrift]:
        """The folders of these mailboxes whose counters are not what their
        messages add up to, in one query."""
        drifted = (
            Folder.objects.filter(mailbox_id__in=[m.pk for m in mailboxes])
            .annotate(**counted_from_messages("actual_count", "actual_size"))
            .exclude(message_count=F("actual_count"), size_bytes=F("actual_size"))
            .order_by("mailbox_id", "pk")
        )
        return [
            FolderDrift(
                mailbox_id=f.mailbox_id,
                folder=f.name,
                stored=Usage(bytes=f.size_bytes, messages=f.message_count),
                actual=Usage(bytes=f.actual_size, messages=f.actual_count),
            )
            for f in drifted
        ]

    def recount_folders(self, mailbox: Mailbox) -> None:
        """Every folder's counters set to its messages in one UPDATE; the
        caller holds the mailbox lock."""
        Folder.objects.filter(mailbox=mailbox).update(**counted_from_messages())

    def empty(self, mailbox: Mailbox) -> Usage:
        """Delete every message of the mailbox, in every folder, and set
        every folder's counters to zero; the caller holds the mailbox lock
        and resets the mailbox's counters."""
        messages = Message.objects.filter(office_id=mailbox.office_id, mailbox=mailbox)
        totals = messages.aggregate(size=Sum("size_bytes"))
        deleted, _per_model = messages.delete()
        Folder.objects.filter(mailbox=mailbox).update(message_count=0, size_bytes=0)
        return Usage(bytes=totals["size"] or 0, messages=deleted)

    def create_folder(self, mailbox: Mailbox, *, parent: Folder, name: str, role: str) -> Folder:
        return Folder.objects.create(
            office_id=mailbox.office_id, mailbox=mailbox, parent=parent, name=name, role=role
        )

    def move_folder_to_inbox(self, mailbox: Mailbox, folder: Folder) -> int:
        """Every message of ``folder`` and the folders below it moves to the
        inbox in one UPDATE, the inbox's counters grow by theirs; then
        the folders go. The mailbox's usage does not change: the mail stays
        in the same mailbox.

        The folder rows are locked first. Storing a message takes a
        key-share lock on its folder row, so while we hold them no message
        can arrive in a folder that is about to go, and a delivery already
        under way is waited for (and then moved with the rest): no message
        is left behind for the folders' deletion to take.
        """
        # The mailbox first, as 비우기 takes it (for update) before it zeroes
        # the folders' counters: taken in that order by both, the two queue
        # up rather than deadlock over the folder rows. (No key update:
        # deliveries still store their messages meanwhile, and wait only to
        # move the counters.)
        list(Mailbox.objects.select_for_update(no_key=True).filter(pk=mailbox.pk).values("pk"))
        locked = list(
            Folder.objects.select_for_update()
            .filter(pk__in=RawSQL(_folder_tree_sql(), [folder.pk]))
            .values_list("pk", "message_count", "size_bytes")
        )
        folder_ids = [pk for pk, _count, _size in locked]
        inbox = Folder.objects.get(mailbox=mailbox, role=Folder.Role.INBOX)
        moving = Message.objects.filter(mailbox_id=mailbox.pk, folder_id__in=folder_ids)
        moved = moving.update(folder=inbox)
        # The inbox takes over the moving folders' counters (read under
        # their lock, so they are the messages that moved): the folders'
        # counters still add up to the mailbox's, and no message is read
        # to count them. A drifted counter moves with its mail, for
        # ``reconcile_usage`` to find.
        Folder.objects.filter(pk=inbox.pk).update(
            message_count=F("message_count") + sum(count for _pk, count, _size in locked),
            size_bytes=F("size_bytes") + sum(size for _pk, _count, size in locked),
        )
        # Empty by now (everything moved, nothing can arrive).
        Folder.objects.filter(pk__in=folder_ids).delete()
        return moved

    def refresh_auth(self, account: Account) -> None:
        """The console's database is what the password check reads: nothing
        is cached elsewhere."""


@cache
def _store_class(path: str):
    return import_string(path)


STORES = {
    "db": "accounts.mailstore.DatabaseMailStore",
    "dovecot": "accounts.mailstore_dovecot.DovecotMailStore",
}


def get_mail_store() -> MailStore:
    """The configured store (``settings.MAIL_STORE``: a name of ``STORES``
    or a dotted path to a class)."""
    name = getattr(settings, "MAIL_STORE", "db")
    return _store_class(STORES.get(name, name))()
