"""일괄 등록: register and change accounts from an Excel sheet.

The sheet's columns are recognised by their headers, in Korean or English,
and they are the roster download's own headers (이름, 아이디, 유형, 용량,
POP3, SMTP, 상태 …) plus 부서 and 비밀번호: a downloaded list can be edited
and uploaded again, and only what was edited changes. Columns the import
does not know (이메일, 사용량, 마지막 접속 …) are ignored; a known column
that is missing, or an empty cell of an existing account, leaves that field
as it is.

An upload never writes anything: :func:`preview` reads every row against
the office as it is now and marks it new, changed, unchanged or in error,
with the reason per cell. Only a preview without errors can be applied,
and :func:`apply` checks the file again (the office may have changed since)
and writes every row in one transaction: each new account as
:func:`accounts.account_services.account_create` makes it, each change with its
own audit event, and one summary event.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import audit, tallies
from accounts.formatting import human_quota
from accounts.mailstore import get_mail_store
from accounts.models import Account, Address, AuditEvent, Folder, Mailbox, Office
from accounts.quota_text import checked_quota, parse_quota
from accounts.services import (
    DEFAULT_FOLDERS,
    DEPARTMENT_MAX_LENGTH,
    DomainError,
    _clean_account_name,
    validate_account_id,
)
from accounts.xlsx_reader import Cell, Sheet, column_letter, read_sheet


@dataclass(frozen=True)
class ImportColumn:
    key: str
    header: Any  # a lazy translation: matched in every language
    width: float
    note: Any = ""


COLUMNS: tuple[ImportColumn, ...] = (
    ImportColumn("name", gettext_lazy("Name"), 16, gettext_lazy("Required.")),
    ImportColumn(
        "login_id",
        gettext_lazy("ID"),
        22,
        gettext_lazy(
            "Required. English letters, digits, dots, hyphens and underscores; "
            "an existing ID changes that account, a new one adds an account."
        ),
    ),
    ImportColumn("department", gettext_lazy("Department"), 16, gettext_lazy("Optional.")),
    ImportColumn(
        "kind",
        gettext_lazy("Kind"),
        12,
        gettext_lazy("User, group mail or shared mail (empty: user). Cannot change afterwards."),
    ),
    ImportColumn(
        "status", gettext_lazy("Status"), 10, gettext_lazy("Active or suspended (empty: active).")
    ),
    ImportColumn(
        "quota",
        gettext_lazy("Quota"),
        12,
        gettext_lazy("A size such as 2 GB or 500 MB, or “unlimited” (empty: the office default)."),
    ),
    ImportColumn(
        "pop3",
        "POP3",
        10,
        gettext_lazy("On or off (empty: on for users, off for group and shared mail)."),
    ),
    ImportColumn("smtp", "SMTP", 10, gettext_lazy("On or off (empty: on).")),
    ImportColumn(
        "password",
        gettext_lazy("Password"),
        16,
        gettext_lazy(
            "Only for new accounts; optional (without one, set it later in user management). "
            "Never written back into a downloaded list."
        ),
    ),
)
# The roster download has the quota in bytes too; read when present.
QUOTA_BYTES_HEADER = gettext_lazy("Quota (bytes)")
LANGUAGES = ("ko", "en")


def _in_languages(text) -> set[str]:
    names = set()
    for language in LANGUAGES:
        with translation.override(language):
            names.add(_normal(str(text)))
    return names


def _normal(text: str) -> str:
    return "".join(unicodedata.normalize("NFC", text).split()).lower()


def _header_keys() -> dict[str, str]:
    keys = {}
    for column in COLUMNS:
        for name in _in_languages(column.header):
            keys[name] = column.key
    for name in _in_languages(QUOTA_BYTES_HEADER):
        keys[name] = "quota_bytes"
    return keys


def _choice_words(choices, extra: dict[str, str]) -> dict[str, str]:
    words = {_normal(value): value for value, _label in choices}
    for value, label in choices:
        for name in _in_languages(label):
            words[name] = value
    words.update({_normal(k): v for k, v in extra.items()})
    return words


def _switch_words() -> dict[str, bool]:
    words = {}
    for text, value in (("On", True), ("Off", False)):
        for name in _in_languages(gettext_lazy(text)):
            words[name] = value
    for text in ("on", "yes", "y", "true", "1", "o", "사용", "켜짐", "예"):
        words[_normal(text)] = True
    for text in ("off", "no", "n", "false", "0", "x", "사용안함", "꺼짐", "아니오", "미사용"):
        words[_normal(text)] = False
    return words


# -- Preview -----------------------------------------------------------------

NEW, CHANGED, UNCHANGED, ERROR = "new", "changed", "unchanged", "error"


@dataclass
class RowPreview:
    number: int  # the row in the sheet
    login_id: str
    values: dict[str, Any]  # what the row asks for, cleaned (for new rows)
    status: str = UNCHANGED
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # column key -> reason
    cells: dict[str, str] = field(default_factory=dict)  # column key -> text as typed
    # A new account's password: kept out of ``values`` (the digest).
    password: str = field(default="", repr=False)

    def error(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)


@dataclass
class Preview:
    filename: str
    columns: list[str]  # the keys the sheet has, in template order
    rows: list[RowPreview]
    sheet_errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def has_errors(self) -> bool:
        return bool(self.sheet_errors) or any(row.status == ERROR for row in self.rows)

    def digest(self) -> str:
        """A fingerprint of what applying would do: confirming a preview
        must apply exactly what the admin saw."""
        plan = [
            (row.number, row.login_id, row.status, row.changes, row.values)
            for row in self.rows
            if row.status in (NEW, CHANGED)
        ]
        return hashlib.sha256(json.dumps(plan, sort_keys=True, default=str).encode()).hexdigest()


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("On") if value else _("Off")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def preview(
    upload: IO[bytes],
    *,
    office: Office,
    actor: Account | None,
    filename: str,
    size: int | None = None,
) -> Preview:
    """Read the upload and compare every row with the office; writes
    nothing. Raises :class:`accounts.xlsx_reader.SpreadsheetError` when the
    file itself cannot be read."""
    sheet = read_sheet(upload, filename=filename, size=size)
    return preview_sheet(sheet, office=office, actor=actor, filename=filename)


def preview_sheet(sheet: Sheet, *, office: Office, actor: Account | None, filename: str) -> Preview:
    header_keys = _header_keys()
    positions: dict[str, int] = {}
    sheet_errors = []
    for index, title in enumerate(sheet.header):
        key = header_keys.get(_normal(_text(title)))
        if key and key not in positions:
            positions[key] = index
    for required in ("name", "login_id"):
        if required not in positions:
            label = next(str(c.header) for c in COLUMNS if c.key == required)
            sheet_errors.append(
                _("The sheet has no “%(column)s” column in its first row.") % {"column": label}
            )
    keys = [c.key for c in COLUMNS if c.key in positions]
    result = Preview(filename=filename, columns=keys, rows=[], sheet_errors=sheet_errors)
    if sheet_errors:
        return result

    raw_rows = []
    for number, cells in sheet.rows:
        raw = {
            key: (cells[index] if index < len(cells) else None) for key, index in positions.items()
        }
        raw_rows.append((number, raw))

    ids = [_text(raw.get("login_id")).lower() for _number, raw in raw_rows]
    existing = {
        account.login_id: account
        for account in Account.objects.filter(office=office, login_id__in=[i for i in ids if i])
        .select_related("mailbox")
        .only(
            "pk",
            "login_id",
            "name",
            "department",
            "kind",
            "status",
            "role",
            "mailbox__quota_bytes",
            "mailbox__pop3_enabled",
            "mailbox__smtp_enabled",
            "mailbox__id",
        )
    }
    # Addresses held by something other than an account of the same ID:
    # sub-accounts (and any ID whose case differs).
    other_addresses = {
        local.lower(): owner
        for local, owner in Address.objects.filter(
            office=office, local_part__in=[i for i in ids if i]
        )
        .exclude(folder__isnull=True)
        .values_list("local_part", "account__login_id")
    }
    active_admins = set(
        Account.objects.filter(
            office=office, role=Account.Role.SUPER_ADMIN, status=Account.Status.ACTIVE
        ).values_list("pk", flat=True)
    )
    context = _Context(
        office=office,
        kinds=_choice_words(
            Account.Kind.choices, {"그룹": "group", "공용": "shared", "일반": "user"}
        ),
        statuses=_choice_words(
            Account.Status.choices, {"중지": "suspended", "suspend": "suspended"}
        ),
        switches=_switch_words(),
        active_admins=active_admins,
        actor=actor,
    )
    seen: dict[str, int] = {}
    for number, raw in raw_rows:
        row = RowPreview(number=number, login_id="", values={})
        row.cells = {key: _text(raw.get(key)) for key in keys}
        _check_row(row, raw, existing, other_addresses, seen, context)
        if row.errors:
            row.status = ERROR
        result.rows.append(row)
    return result


@dataclass
class _Context:
    office: Office
    kinds: dict[str, str]
    statuses: dict[str, str]
    switches: dict[str, bool]
    active_admins: set[int]
    actor: Account | None = None


def _choice(row: RowPreview, raw, key: str, words: dict[str, Any], message: str):
    text = _text(raw.get(key)).strip()
    if not text:
        return None
    value = words.get(_normal(text))
    if value is None:
        row.error(key, message % {"text": text[:40]})
    return value


def _quota(row: RowPreview, raw, account: Account | None) -> tuple[bool, int | None]:
    """Whether the row gives a quota, and the quota (``None``: unlimited).

    A roster download has two quota columns, bytes and text; the bytes are
    exact and win unless the text was edited (it no longer reads as the
    bytes, nor as the account's current quota)."""
    text = _text(raw.get("quota")).strip()
    size = raw.get("quota_bytes")
    if isinstance(size, int | float) and not isinstance(size, bool):
        current = account.mailbox.quota_bytes if account and account.has_mailbox() else 0
        if not text or text in (human_quota(int(size)), human_quota(current)):
            try:
                return True, checked_quota(int(size))
            except ValidationError as error:
                row.error("quota", error.messages[0])
                return False, None
    if not text:
        return False, None
    value = raw.get("quota")
    if isinstance(value, int | float) and not isinstance(value, bool):
        row.error("quota", _("Add a unit to “%(text)s”: KB, MB, GB or TB.") % {"text": text})
        return False, None
    try:
        return True, parse_quota(text)
    except ValidationError as error:
        row.error("quota", error.messages[0])
        return False, None


def _check_row(row, raw, existing, other_addresses, seen, context: _Context) -> None:
    typed_id = _text(raw.get("login_id"))
    try:
        login_id = validate_account_id(typed_id.strip() if typed_id.strip() else "")
        if typed_id != typed_id.strip():
            raise DomainError(_("The ID cannot contain spaces or line breaks."), code="whitespace")
    except DomainError as error:
        row.error("login_id", error.messages[0])
        login_id = typed_id.strip().lower()
    row.login_id = login_id
    if login_id:
        if login_id in seen:
            row.error(
                "login_id",
                _("The same ID is already on row %(row)s of this file.") % {"row": seen[login_id]},
            )
        else:
            seen[login_id] = row.number
    account = existing.get(login_id)
    if account is None and login_id in other_addresses:
        row.error(
            "login_id",
            _("“%(id)s” is already a sub-account address of %(owner)s.")
            % {"id": login_id, "owner": other_addresses[login_id]},
        )

    name_text = _text(raw.get("name"))
    name = None
    if name_text.strip() or account is None:
        try:
            name = _clean_account_name(name_text)
        except DomainError as error:
            row.error("name", error.messages[0])
    department = _text(raw.get("department")).strip() if "department" in raw else None
    if department and len(department) > DEPARTMENT_MAX_LENGTH:
        row.error(
            "department",
            _("A department can have at most %(limit)d characters.")
            % {"limit": DEPARTMENT_MAX_LENGTH},
        )
    kind = _choice(
        row,
        raw,
        "kind",
        context.kinds,
        _("“%(text)s” is not a kind: write user, group mail or shared mail."),
    )
    status = _choice(
        row, raw, "status", context.statuses, _("“%(text)s” is not a status: active or suspended.")
    )
    pop3 = _choice(row, raw, "pop3", context.switches, _("“%(text)s” is not on or off."))
    smtp = _choice(row, raw, "smtp", context.switches, _("“%(text)s” is not on or off."))
    quota_given, quota = _quota(row, raw, account)
    password = _text(raw.get("password")) if "password" in raw else ""

    if account is None:
        kind = kind or Account.Kind.USER
        if pop3 is None:
            pop3 = kind == Account.Kind.USER
        if pop3 and kind != Account.Kind.USER:
            row.error("pop3", _("Group mail and shared mail cannot use POP3."))
        if password:
            try:
                validate_password(password)
            except ValidationError as error:
                row.error("password", " ".join(error.messages))
        row.values = {
            "login_id": login_id,
            "name": name,
            "department": department or "",
            "kind": kind,
            "status": status or Account.Status.ACTIVE,
            "quota": quota if quota_given else "default",
            "pop3": pop3,
            "smtp": True if smtp is None else smtp,
            "password": bool(password),
        }
        row.password = password
        if not row.errors:
            row.status = NEW
        return

    if password:
        row.error("password", _("Passwords of existing accounts are not changed here."))
    if kind is not None and kind != account.kind:
        row.error("kind", _("The kind of an existing account cannot be changed."))
    mailbox = getattr(account, "mailbox", None) if account.has_mailbox() else None
    changes: dict[str, dict[str, Any]] = {}

    def change(key, before, after):
        if after is not None and after != before:
            changes[key] = {"before": before, "after": after}

    change("name", account.name, name)
    change("department", account.department, department if department else None)
    change("status", account.status, status)
    if mailbox is None:
        if quota_given or pop3 is not None or smtp is not None:
            wants = (
                (quota_given and True) or (pop3 is not None and pop3) or (smtp is not None and smtp)
            )
            if wants:
                row.error("login_id", _("This account does not use mail."))
    else:
        if quota_given and quota != mailbox.quota_bytes:
            changes["quota_bytes"] = {"before": mailbox.quota_bytes, "after": quota}
        change("pop3_enabled", mailbox.pop3_enabled, pop3)
        change("smtp_enabled", mailbox.smtp_enabled, smtp)
        if changes.get("pop3_enabled", {}).get("after") and account.kind != Account.Kind.USER:
            row.error("pop3", _("Group mail and shared mail cannot use POP3."))
    if changes.get("status", {}).get("after") == Account.Status.SUSPENDED:
        if context.actor is not None and account.pk == context.actor.pk:
            row.error("status", _("You cannot suspend your own account."))
        elif account.pk in context.active_admins and len(context.active_admins) <= 1:
            row.error("status", _("The office's last active super admin cannot be suspended."))
    row.values = {"account_id": account.pk}
    row.changes = changes
    if not row.errors:
        row.status = CHANGED if changes else UNCHANGED


# -- Apply ---------------------------------------------------------------------


class PreviewChanged(Exception):
    """The office changed between the preview and the confirmation; the
    new preview is attached."""

    def __init__(self, preview: Preview):
        super().__init__("the preview changed")
        self.preview = preview


@dataclass
class ImportResult:
    created: int
    updated: int
    unchanged: int
    summary: AuditEvent


def apply(
    upload: IO[bytes],
    *,
    office: Office,
    actor: Account,
    filename: str,
    digest: str,
    ip: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Apply a previewed file: read it again, and if the plan is still the
    one the admin confirmed (``digest``), write every row in one
    transaction. Raises :class:`PreviewChanged` otherwise."""
    sheet = read_sheet(upload, filename=filename)
    try:
        return _apply(
            sheet,
            office=office,
            actor=actor,
            filename=filename,
            digest=digest,
            ip=ip,
            progress=progress,
        )
    except IntegrityError:
        # An ID registered meanwhile by someone else: the unique index
        # refused it and the whole file rolled back. Show the new plan.
        raise PreviewChanged(
            preview_sheet(sheet, office=office, actor=actor, filename=filename)
        ) from None


def _apply(sheet, *, office, actor, filename, digest, ip, progress) -> ImportResult:
    with transaction.atomic():
        # Serialise with other changes of these accounts, then plan again
        # under the lock so what is written is what the preview showed.
        list(
            Account.objects.select_for_update()
            .filter(office=office, role=Account.Role.SUPER_ADMIN)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        current = preview_sheet(sheet, office=office, actor=actor, filename=filename)
        if current.has_errors or current.digest() != digest:
            raise PreviewChanged(current)
        summary = audit.record(
            office=office,
            action=AuditEvent.Action.BULK_IMPORT,
            actor=actor,
            data={
                "filename": filename[:200],
                "rows": len(current.rows),
                "created": current.count(NEW),
                "updated": current.count(CHANGED),
                "unchanged": current.count(UNCHANGED),
            },
            ip=ip,
        )
        new_rows = [row for row in current.rows if row.status == NEW]
        changed_rows = [row for row in current.rows if row.status == CHANGED]
        done = 0
        for chunk in _chunks(new_rows):
            _create_many(chunk, office=office, actor=actor, ip=ip, batch=summary.pk)
            done += len(chunk)
            if progress:
                progress(done)
        for chunk in _chunks(changed_rows):
            _update_many(chunk, office=office, actor=actor, ip=ip, batch=summary.pk)
            done += len(chunk)
            if progress:
                progress(done)
        if new_rows:
            # Each new mailbox puts its account on the usage list in a
            # statement of its own (a row trigger), and on PostgreSQL each
            # such statement adds a row to the list's kept count: 10,000
            # rows after a file of 10,000, summed by every page of the list
            # until the nightly fold. Fold them with the file instead.
            tallies.fold(office)
    return ImportResult(
        created=current.count(NEW),
        updated=current.count(CHANGED),
        unchanged=current.count(UNCHANGED),
        summary=summary,
    )


CHUNK_SIZE = 500


def _chunks(rows: list, size: int = CHUNK_SIZE):
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _create_many(rows: list[RowPreview], *, office, actor, ip, batch) -> None:
    """New accounts, as :func:`accounts.account_services.account_create` makes them
    one by one (account, address, mailbox with the standard folders, audit
    event), but a chunk of rows at a time: one INSERT per table instead of
    one per row, which is what lets 10,000 rows apply within a minute. The
    preview has already checked every rule account_create checks, under
    the same transaction; the address registry's unique index still has the
    last word (an ID taken meanwhile rolls the whole file back)."""
    accounts = []
    for row in rows:
        values = row.values
        account = Account(
            office=office,
            login_id=values["login_id"],
            email=f"{values['login_id']}@{office.domain}",
            name=values["name"],
            department=values["department"],
            kind=values["kind"],
            status=values["status"],
        )
        if row.password:
            account.set_password(row.password)
        else:
            account.set_unusable_password()
        accounts.append(account)
    Account.objects.bulk_create(accounts)
    Address.objects.bulk_create(
        Address(office=office, local_part=account.login_id, account=account) for account in accounts
    )
    mailboxes = []
    for row, account in zip(rows, accounts, strict=True):
        quota = row.values["quota"]
        mailboxes.append(
            Mailbox(
                account=account,
                office=office,
                quota_bytes=office.default_quota_bytes if quota == "default" else quota,
                pop3_enabled=row.values["pop3"],
                smtp_enabled=row.values["smtp"],
            )
        )
    Mailbox.objects.bulk_create(mailboxes)
    Folder.objects.bulk_create(
        Folder(office=office, mailbox=mailbox, name=name, role=role)
        for mailbox in mailboxes
        for role, name in DEFAULT_FOLDERS
    )
    actor_label = actor.login_id if actor else ""
    AuditEvent.objects.bulk_create(
        AuditEvent(
            office=office,
            action=AuditEvent.Action.ACCOUNT_CREATE,
            actor=actor,
            actor_label=actor_label,
            target=account,
            target_label=account.login_id,
            data={
                "name": account.name,
                "department": account.department,
                "kind": account.kind,
                "mail": True,
                "quota_bytes": mailbox.quota_bytes,
                "batch": batch,
                "row": row.number,
            },
            ip=ip,
        )
        for row, account, mailbox in zip(rows, accounts, mailboxes, strict=True)
    )


_ACCOUNT_KEYS = ("name", "department", "status")
_MAILBOX_KEYS = ("quota_bytes", "pop3_enabled", "smtp_enabled")


def _update_many(rows: list[RowPreview], *, office, actor, ip, batch) -> None:
    """Changes to existing accounts, a chunk at a time: the rows locked,
    one UPDATE per table, one INSERT of their audit events."""
    ids = [row.values["account_id"] for row in rows]
    accounts = {
        account.pk: account
        for account in Account.objects.select_for_update(of=("self",))
        .select_related("mailbox", "office")
        .filter(office=office, pk__in=ids)
    }
    account_fields: set[str] = set()
    mailbox_fields: set[str] = set()
    for row in rows:
        account = accounts[row.values["account_id"]]
        for key, change in row.changes.items():
            if key in _ACCOUNT_KEYS:
                setattr(account, key, change["after"])
                account_fields.add(key)
            elif key in _MAILBOX_KEYS:
                setattr(account.mailbox, key, change["after"])
                mailbox_fields.add(key)
    if account_fields:
        Account.objects.bulk_update(list(accounts.values()), sorted(account_fields))
    if mailbox_fields:
        Mailbox.objects.bulk_update(
            [a.mailbox for a in accounts.values() if a.has_mailbox()], sorted(mailbox_fields)
        )
    actor_label = actor.login_id if actor else ""
    AuditEvent.objects.bulk_create(
        AuditEvent(
            office=office,
            action=AuditEvent.Action.ACCOUNT_UPDATE,
            actor=actor,
            actor_label=actor_label,
            target_id=row.values["account_id"],
            target_label=row.login_id,
            data={**row.changes, "batch": batch, "row": row.number},
            ip=ip,
        )
        for row in rows
    )
    refreshed = [
        accounts[row.values["account_id"]]
        for row in rows
        if {"status", "pop3_enabled", "smtp_enabled"} & row.changes.keys()
    ]
    if refreshed:

        def refresh() -> None:
            # After the commit: flushed earlier, a login in between could
            # put the old answer back into the mail server's cache.
            store = get_mail_store()
            for account in refreshed:
                store.refresh_auth(account)

        transaction.on_commit(refresh)


# -- Template --------------------------------------------------------------------


def write_template(target: IO[bytes]) -> None:
    """The 일괄 등록 template: the columns with Korean (or the admin's
    language's) headers, drop-downs for kind, status and POP3/SMTP, an
    example row, and a sheet of notes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Users")[:31]
    sheet.append([str(column.header) for column in COLUMNS])
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDE7F3")
    for cell in sheet[1]:
        cell.font = bold
        cell.fill = fill
    example = {
        "name": _("Hong Gildong"),
        "login_id": "gildong.hong",
        "department": _("Sales team 1"),
        "kind": str(Account.Kind.USER.label),
        "status": str(Account.Status.ACTIVE.label),
        "quota": "2 GB",
        "pop3": _("On"),
        "smtp": _("On"),
        "password": "",
    }
    sheet.append([example[column.key] for column in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
        # Text cells: an ID such as 0012 must not lose its zeros.
        for row in range(2, 2002):
            sheet.cell(row=row, column=index).number_format = "@"
    sheet.freeze_panes = "A2"

    def drop_down(key: str, options: list[str]) -> None:
        letter = column_letter([c.key for c in COLUMNS].index(key))
        validation = DataValidation(
            type="list",
            formula1='"' + ",".join(options) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle=_("Choose from the list"),
            error=_("Choose a value from the list."),
        )
        validation.add(f"{letter}2:{letter}10001")
        sheet.add_data_validation(validation)

    drop_down("kind", [str(label) for _value, label in Account.Kind.choices])
    drop_down("status", [str(label) for _value, label in Account.Status.choices])
    drop_down("pop3", [_("On"), _("Off")])
    drop_down("smtp", [_("On"), _("Off")])

    notes = workbook.create_sheet(_("Notes")[:31])
    notes.column_dimensions["A"].width = 18
    notes.column_dimensions["B"].width = 90
    notes.append([_("Bulk registration")])
    notes["A1"].font = bold
    lines = [
        _("Fill in one account per row on the first sheet; replace the example row."),
        _(
            "A new ID adds an account (with a mailbox); an existing ID changes that "
            "account. An empty cell leaves an existing account's value as it is."
        ),
        _("At most 10,000 rows and 10 MB per file. Formulas are not read: enter values."),
        _(
            "A list downloaded from the mail usage screen can be uploaded too: only the "
            "cells you edited change."
        ),
        _("Nothing is saved until you confirm the preview, which shows every row's result."),
    ]
    for line in lines:
        notes.append(["", line])
    notes.append([])
    notes.append([_("Column"), _("What to enter")])
    notes.cell(row=notes.max_row, column=1).font = bold
    notes.cell(row=notes.max_row, column=2).font = bold
    for column in COLUMNS:
        notes.append([str(column.header), str(column.note)])
    workbook.save(target)
