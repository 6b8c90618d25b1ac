"""사용자 관리 actions beyond renaming and switching: admin roles, adding a
user, passwords and the mail-only password, quotas, the office's default
quota, deleting and restoring users.

Like :mod:`accounts.services`, each service is one transaction, locks the
rows it changes, records one audit event and raises
:class:`~accounts.services.DomainError` with a sentence an admin can read.
Whatever changes what the mail servers' password check answers is followed,
after the commit, by ``get_mail_store().refresh_auth(account)``: flushed
before it, a login in between could put the old answer back into the mail
server's cache.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.formatting import human_bytes
from accounts.mailstore import get_mail_store
from accounts.models import Account, Address, AuditEvent, Folder, Mailbox, MailListing, Office
from accounts.permissions import can_write
from accounts.services import DomainError, _clean_account_name, _refresh_auth, mailbox_create
from accounts.validators import validate_local_part

# How long a deleted user is kept, restorable, before purge_deleted_users
# removes it and its mail.
DELETED_RETENTION = timedelta(days=30)


GENERATED_PASSWORD_LENGTH = 16
# Letters and digits that cannot be mistaken for one another when read aloud
# or copied by hand.
_PASSWORD_ALPHABET = "".join(
    ch for ch in string.ascii_letters + string.digits if ch not in "0OoIl1"
)


def generate_password(length: int = GENERATED_PASSWORD_LENGTH) -> str:
    """A random password with at least one lower-case letter, one capital
    and one digit."""
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


# -- quota text -------------------------------------------------------------

_QUOTA_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_QUOTA_TEXT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$", re.IGNORECASE)
QUOTA_MAX_BYTES = 1024**5  # 1 PB: anything above is a typing mistake


def parse_quota(text: str) -> int | None:
    """``2 GB``, ``500MB``, ``1.5 G`` → bytes (1024-based, as the screens
    show sizes); ``unlimited`` / ``무제한`` → None. Raises DomainError."""
    value = (text or "").strip()
    if value.lower() in ("unlimited", "무제한", "none"):
        return None
    match = _QUOTA_TEXT.match(value)
    if not match:
        raise DomainError(
            _("Enter a size like “2 GB” or “500 MB”, or choose unlimited."), code="quota_invalid"
        )
    number, unit = match.groups()
    size = int(float(number) * _QUOTA_UNITS[unit.upper()])
    if size <= 0 or size > QUOTA_MAX_BYTES:
        raise DomainError(_("Enter a quota above 0 and at most 1 PB."), code="quota_range")
    return size


# -- helpers ----------------------------------------------------------------


def _same_office(actor: Account | None, account: Account) -> None:
    if actor is not None and actor.office_id != account.office_id:
        raise DomainError(_("This account belongs to another office."), code="other_office")


def _require_writer(actor: Account | None) -> None:
    """A service called with an actor acts for that admin: a view-only admin
    is refused here too, not only by the views."""
    if actor is not None and not can_write(actor):
        raise DomainError(_("Only a super admin can change this."), code="not_allowed")


def _lock_admins(office_id: int) -> set[int]:
    """Lock the office's super admins (in primary-key order, so two admins
    acting on each other queue instead of deadlocking) and return the
    active ones that are not deleted."""
    rows = (
        Account.objects.select_for_update()
        .filter(office_id=office_id, role=Account.Role.SUPER_ADMIN)
        .order_by("pk")
        .values_list("pk", "status", "deleted_at")
    )
    return {pk for pk, status, deleted in rows if status == Account.Status.ACTIVE and not deleted}


def _require_active_admin(actor: Account, active_admins: set[int]) -> None:
    """Under the admins' lock: the actor is still an active super admin (a
    concurrent request may just have demoted, suspended or deleted it)."""
    if actor.pk not in active_admins:
        raise DomainError(_("Only a super admin can change this."), code="not_allowed")


def _refresh_after_commit(account: Account, *, actor: Account | None, ip: str | None) -> None:
    transaction.on_commit(lambda: _refresh_auth(account, actor=actor, ip=ip))


def _lock_account(account: Account, *, deleted: bool = False) -> Account:
    target = (
        Account.objects.select_for_update(of=("self",))
        .select_related("office")
        .filter(pk=account.pk, office_id=account.office_id, deleted_at__isnull=not deleted)
        .first()
    )
    if target is None:
        if deleted:
            raise DomainError(_("This user is not deleted."), code="not_deleted")
        raise DomainError(_("This user has been deleted."), code="deleted")
    return target


def _lock_mailbox(account: Account) -> Mailbox:
    mailbox = Mailbox.objects.select_for_update().filter(account=account).first()
    if mailbox is None:
        raise DomainError(
            _("This account does not use mail, so it has no mailbox."), code="no_mailbox"
        )
    return mailbox


def _validated_password(password: str, account: Account) -> str:
    try:
        validate_password(password, user=account)
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="password_invalid") from error
    return password


# -- roles ------------------------------------------------------------------


@transaction.atomic
def role_set(*, actor: Account, account: Account, role: str, ip: str | None = None) -> bool:
    """Grant or revoke a console role. Only users (not group or shared mail)
    can hold one; the office's last active super admin keeps theirs.
    Returns whether anything changed."""
    _same_office(actor, account)
    _require_writer(actor)
    if role not in Account.Role.values:
        raise DomainError(_("Choose a valid role."), code="role_invalid")
    active_admins = _lock_admins(account.office_id)
    _require_active_admin(actor, active_admins)
    target = _lock_account(account)
    if target.role == role:
        return False
    if role != Account.Role.USER and target.kind != Account.Kind.USER:
        raise DomainError(
            _("Group mail and shared mail cannot be administrators."), code="role_kind"
        )
    if target.role == Account.Role.SUPER_ADMIN and not (active_admins - {target.pk}):
        raise DomainError(
            _("The office's last super admin cannot lose the role."), code="last_admin"
        )
    before = target.role
    target.role = role
    target.save(update_fields=["role"])
    audit.record(
        office=target.office,
        action=AuditEvent.Action.ROLE_CHANGE,
        actor=actor,
        target=target,
        data={"role": {"before": before, "after": role}},
        ip=ip,
    )
    account.role = role
    return True


# -- adding a user ----------------------------------------------------------

# ``quota`` of :func:`account_create`: the office's default.
OFFICE_DEFAULT = "default"


@dataclass(frozen=True)
class Created:
    account: Account
    # The password to show once when it was generated, else "".
    generated_password: str


def _id_taken(office: Office, local_part: str) -> bool:
    return (
        Address.objects.alias(lower=Lower("local_part"))
        .filter(office=office, lower=local_part)
        .exists()
    )


@transaction.atomic
def account_create(
    *,
    actor: Account | None,
    office: Office,
    login_id: str,
    name: str,
    department: str = "",
    kind: str = Account.Kind.USER,
    uses_mail: bool = True,
    quota: int | None | str = OFFICE_DEFAULT,
    password: str = "",
    must_change_password: bool = False,
    ip: str | None = None,
) -> Created:
    """사용자 추가: the account, its address in the registry, and (with mail)
    its mailbox with the standard folders, all at once. ``password`` empty
    generates one (returned once, never stored in clear); group and shared
    mail cannot sign in and get no usable password."""
    if actor is not None and actor.office_id != office.id:
        raise DomainError(_("This account belongs to another office."), code="other_office")
    _require_writer(actor)
    try:
        local_part = validate_local_part(login_id, required=_("Enter the ID."))
    except ValidationError as error:
        raise DomainError(" ".join(error.messages), code="login_id_invalid") from error
    name = _clean_account_name(name)
    department = department.strip()[:100]
    if kind not in Account.Kind.values:
        raise DomainError(_("Choose a valid kind."), code="kind_invalid")
    if quota == OFFICE_DEFAULT:
        quota = office.default_quota_bytes
    elif quota is not None and (not isinstance(quota, int) or quota <= 0):
        raise DomainError(_("Enter a quota above 0 and at most 1 PB."), code="quota_range")
    if _id_taken(office, local_part):
        raise DomainError(
            _(
                "%(address)s is already used by another account or sub-account of this "
                "office (or by a deleted user that can still be restored). Choose another ID."
            )
            % {"address": f"{local_part}@{office.domain}"},
            code="login_id_taken",
        )
    generated = ""
    signs_in = kind == Account.Kind.USER
    if signs_in:
        if not password:
            password = generated = generate_password()
        probe = Account(office=office, login_id=local_part, name=name, email="")
        _validated_password(password, probe)
    try:
        with transaction.atomic():
            account = Account.objects.create_account(
                office=office,
                login_id=local_part,
                name=name,
                password=password if signs_in else None,
                department=department,
                kind=kind,
                password_change_required_at=(
                    timezone.now() if signs_in and must_change_password else None
                ),
            )
    except IntegrityError as error:  # the same ID added at the same moment
        raise DomainError(
            _("%(address)s was just taken. Choose another ID.")
            % {"address": f"{local_part}@{office.domain}"},
            code="login_id_taken",
        ) from error
    if uses_mail:
        mailbox_create(account=account, quota_bytes=quota)
        # mailbox_create reads "None" as the office default: unlimited is asked for.
        if quota is None and account.mailbox.quota_bytes is not None:
            Mailbox.objects.filter(pk=account.mailbox.pk).update(quota_bytes=None)
            account.mailbox.quota_bytes = None
    _refresh_after_commit(account, actor=actor, ip=ip)
    audit.record(
        office=office,
        action=AuditEvent.Action.ACCOUNT_CREATE,
        actor=actor,
        target=account,
        data={
            "name": name,
            "department": department,
            "kind": kind,
            "mail": uses_mail,
            "quota": quota if uses_mail else None,
            "generated": bool(generated),
            "must_change_password": bool(signs_in and must_change_password),
        },
        ip=ip,
    )
    return Created(account=account, generated_password=generated)


# -- passwords --------------------------------------------------------------


@transaction.atomic
def password_reset(
    *,
    actor: Account,
    account: Account,
    password: str = "",
    must_change: bool = False,
    ip: str | None = None,
) -> str:
    """Set the account password (empty: generate one, returned to show
    once). With ``must_change`` the next web sign-in asks for a new one."""
    _same_office(actor, account)
    _require_writer(actor)
    target = _lock_account(account)
    if target.kind != Account.Kind.USER:
        raise DomainError(
            _("Group mail and shared mail cannot sign in, so they have no password."),
            code="no_password_kind",
        )
    generated = ""
    if not password:
        password = generated = generate_password()
    _validated_password(password, target)
    target.set_password(password)
    target.password_change_required_at = timezone.now() if must_change else None
    target.save(update_fields=["password", "password_change_required_at"])
    _refresh_after_commit(target, actor=actor, ip=ip)
    audit.record(
        office=target.office,
        action=AuditEvent.Action.PASSWORD_RESET,
        actor=actor,
        target=target,
        data={"generated": bool(generated), "must_change": must_change},
        ip=ip,
    )
    account.password = target.password
    account.password_change_required_at = target.password_change_required_at
    return generated


@transaction.atomic
def password_change_own(*, account: Account, password: str) -> None:
    """The user's own new password after an admin's reset asked for one."""
    target = _lock_account(account)
    _validated_password(password, target)
    if target.check_password(password):
        raise DomainError(
            _("Choose a password different from the one the administrator gave you."),
            code="password_same",
        )
    target.set_password(password)
    target.password_change_required_at = None
    target.save(update_fields=["password", "password_change_required_at"])
    _refresh_after_commit(target, actor=account, ip=None)
    account.password = target.password
    account.password_change_required_at = None


@transaction.atomic
def mail_password_set(
    *, actor: Account, account: Account, password: str | None, ip: str | None = None
) -> str:
    """Set (``password``; empty generates one, returned to show once) or,
    with None, remove the mail-only password that POP3 and SMTP accept
    instead of the account password. Always hashed with Argon2id, whatever
    the site's first hasher, because that is the hash Dovecot checks."""
    _same_office(actor, account)
    _require_writer(actor)
    target = _lock_account(account)
    mailbox = _lock_mailbox(target)
    had = bool(mailbox.mail_password)
    generated = ""
    if password is None:
        if not had:
            raise DomainError(
                _("This account has no mail-only password to remove."), code="no_mail_password"
            )
        mailbox.mail_password = ""
    else:
        if not password:
            password = generated = generate_password()
        _validated_password(password, target)
        mailbox.mail_password = make_password(password, hasher=Argon2PasswordHasher())
    mailbox.save(update_fields=["mail_password"])
    _refresh_after_commit(target, actor=actor, ip=ip)
    audit.record(
        office=target.office,
        action=AuditEvent.Action.MAIL_PASSWORD,
        actor=actor,
        target=target,
        data={
            "mail_password": {"before": had, "after": password is not None},
            "generated": bool(generated),
        },
        ip=ip,
    )
    return generated


# -- quotas -----------------------------------------------------------------


@transaction.atomic
def quota_set(
    *,
    actor: Account,
    account: Account,
    quota_bytes: int | None,
    confirm_below_usage: bool = False,
    ip: str | None = None,
) -> bool:
    """Change a mailbox's quota (None: unlimited). A quota below what the
    mailbox already holds is refused unless the admin confirmed it (the
    mailbox then accepts no mail until it shrinks). Returns whether it
    changed."""
    _same_office(actor, account)
    _require_writer(actor)
    if quota_bytes is not None and not 0 < quota_bytes <= QUOTA_MAX_BYTES:
        raise DomainError(_("Enter a quota above 0 and at most 1 PB."), code="quota_range")
    target = _lock_account(account)
    mailbox = _lock_mailbox(target)
    if mailbox.quota_bytes == quota_bytes:
        return False
    if quota_bytes is not None and quota_bytes < mailbox.used_bytes and not confirm_below_usage:
        raise DomainError(
            _(
                "The new quota (%(quota)s) is below what the mailbox already holds "
                "(%(used)s): it would accept no more mail. Tick the confirmation to set it anyway."
            )
            % {"quota": human_bytes(quota_bytes), "used": human_bytes(mailbox.used_bytes)},
            code="quota_below_usage",
        )
    before = mailbox.quota_bytes
    mailbox.quota_bytes = quota_bytes
    mailbox.save(update_fields=["quota_bytes"])
    # The quota is part of what the mail server's user lookup answers (and
    # may hold in its auth cache).
    _refresh_after_commit(target, actor=actor, ip=ip)
    audit.record(
        office=target.office,
        action=AuditEvent.Action.QUOTA_CHANGE,
        actor=actor,
        target=target,
        data={
            "quota": {"before": before, "after": quota_bytes},
            "used": mailbox.used_bytes,
            "below_usage": quota_bytes is not None and quota_bytes < mailbox.used_bytes,
        },
        ip=ip,
    )
    if hasattr(account, "mailbox"):
        account.mailbox.quota_bytes = quota_bytes
    return True


@transaction.atomic
def office_default_quota_set(
    *, actor: Account, office: Office, quota_bytes: int | None, ip: str | None = None
) -> bool:
    """The quota new mailboxes get (existing mailboxes keep theirs)."""
    if actor.office_id != office.id:
        raise DomainError(_("This account belongs to another office."), code="other_office")
    _require_writer(actor)
    if quota_bytes is not None and not 0 < quota_bytes <= QUOTA_MAX_BYTES:
        raise DomainError(_("Enter a quota above 0 and at most 1 PB."), code="quota_range")
    locked = Office.objects.select_for_update().get(pk=office.pk)
    if locked.default_quota_bytes == quota_bytes:
        return False
    before = locked.default_quota_bytes
    locked.default_quota_bytes = quota_bytes
    locked.save(update_fields=["default_quota_bytes"])
    audit.record(
        office=locked,
        action=AuditEvent.Action.OFFICE_SETTINGS,
        actor=actor,
        target_label=locked.domain,
        data={"default_quota": {"before": before, "after": quota_bytes}},
        ip=ip,
    )
    office.default_quota_bytes = quota_bytes
    return True


@transaction.atomic
def office_home_countries_set(
    *, actor: Account, office: Office, countries: list[str], ip: str | None = None
) -> bool:
    """The countries POP3/SMTP sign-ins are expected from (an empty list:
    the office's own country); a sign-in from elsewhere is flagged."""
    if actor.office_id != office.id:
        raise DomainError(_("This account belongs to another office."), code="other_office")
    _require_writer(actor)
    value = ",".join(countries) or None
    locked = Office.objects.select_for_update().get(pk=office.pk)
    if (locked.home_countries or None) == value:
        return False
    before = locked.home_countries or ""
    locked.home_countries = value
    locked.save(update_fields=["home_countries"])
    audit.record(
        office=locked,
        action=AuditEvent.Action.OFFICE_SETTINGS,
        actor=actor,
        target_label=locked.domain,
        data={"home_countries": {"before": before, "after": value or ""}},
        ip=ip,
    )
    office.home_countries = value
    return True


def purge_due(now=None):
    """The moment before which a deleted user is purged."""
    return (now or timezone.now()) - DELETED_RETENTION


# -- deleting and restoring users ----------------------------------------------


def _listing_hide(account: Account) -> None:
    """Take a deleted user off the usage list's read model (its rows are
    otherwise written by triggers only: none of them fires on a deletion
    that keeps every row)."""
    MailListing.objects.filter(account_id=account.pk).delete()


def _listing_show(account: Account) -> None:
    """Put a restored user back on the read model, as the mailbox insert
    trigger would have (the flag included: the importer may have flagged
    the mailbox while its user was deleted)."""
    mailbox = Mailbox.objects.filter(account_id=account.pk).values("access_flag_at").first()
    if mailbox is not None:
        MailListing.objects.create(
            account_id=account.pk,
            office_id=account.office_id,
            name=account.name,
            login_id=account.login_id,
            status=account.status,
            subaccount_count=account.subaccount_count,
            access_flag_at=mailbox["access_flag_at"],
        )


@dataclass(frozen=True)
class DeletionFacts:
    """What the confirmation and the audit event say about a user."""

    used_bytes: int
    messages: int
    subaccounts: int


def deletion_facts(account: Account) -> DeletionFacts:
    mailbox = Mailbox.objects.filter(account_id=account.pk).first()
    return DeletionFacts(
        used_bytes=mailbox.used_bytes if mailbox else 0,
        messages=mailbox.message_count if mailbox else 0,
        subaccounts=account.subaccount_count,
    )


@transaction.atomic
def account_delete(*, actor: Account, account: Account, ip: str | None = None) -> DeletionFacts:
    """삭제: the account, its addresses and its sub-accounts stop working at
    once -- no sign-in anywhere, no address answered to the mail servers,
    off every list -- but every row and all mail are kept, unchanged, so a
    super admin can restore it within :data:`DELETED_RETENTION`; its IDs
    stay taken meanwhile. Nobody deletes themselves or the office's last
    active super admin."""
    _same_office(actor, account)
    _require_writer(actor)
    active_admins = _lock_admins(account.office_id)
    _require_active_admin(actor, active_admins)
    target = _lock_account(account)
    if target.pk == actor.pk:
        raise DomainError(_("You cannot delete your own account."), code="delete_self")
    if target.role == Account.Role.SUPER_ADMIN and not (active_admins - {target.pk}):
        raise DomainError(
            _("The office's last super admin cannot be deleted."), code="delete_last_admin"
        )
    facts = deletion_facts(target)
    target.deleted_at = timezone.now()
    target.save(update_fields=["deleted_at"])
    _listing_hide(target)
    _refresh_after_commit(target, actor=actor, ip=ip)
    audit.record(
        office=target.office,
        action=AuditEvent.Action.ACCOUNT_DELETE,
        actor=actor,
        target=target,
        data={
            "used_bytes": facts.used_bytes,
            "messages": facts.messages,
            "subaccounts": facts.subaccounts,
            "addresses": sorted(target.addresses.values_list("local_part", flat=True)),
        },
        ip=ip,
    )
    _schedule_purge(target.deleted_at + DELETED_RETENTION)
    account.deleted_at = target.deleted_at
    return facts


def _schedule_purge(when) -> None:
    """Have the background worker purge when the retention ends (the
    command does the same from cron). Only once the deletion committed,
    and only with a task backend that can run a task later."""
    from django_tasks import default_task_backend

    from accounts.tasks import purge_deleted_users_task

    if not default_task_backend.supports_defer:
        return
    run_after = when + timedelta(minutes=1)
    transaction.on_commit(lambda: purge_deleted_users_task.using(run_after=run_after).enqueue())


@transaction.atomic
def account_restore(*, actor: Account, account: Account, ip: str | None = None) -> None:
    """복구: a deleted user works again exactly as before its deletion."""
    _same_office(actor, account)
    _require_writer(actor)
    target = _lock_account(account, deleted=True)
    deleted_at = target.deleted_at
    target.deleted_at = None
    target.save(update_fields=["deleted_at"])
    _listing_show(target)
    _refresh_after_commit(target, actor=actor, ip=ip)
    audit.record(
        office=target.office,
        action=AuditEvent.Action.ACCOUNT_RESTORE,
        actor=actor,
        target=target,
        data={"deleted_at": deleted_at.isoformat()},
        ip=ip,
    )
    account.deleted_at = None


@dataclass(frozen=True)
class Purged:
    accounts: int
    messages: int
    bytes: int


def purge_deleted_users(*, now=None, office: Office | None = None) -> Purged:
    """Remove users deleted more than :data:`DELETED_RETENTION` ago, their
    mail (through the mail store) and every row they own; their IDs are
    free again. One transaction per user, so an interruption leaves each
    either purged or still restorable; running it again finishes the rest
    (and does nothing when nothing is due)."""
    due = Account.objects.filter(deleted_at__lt=purge_due(now))
    if office is not None:
        due = due.filter(office=office)
    totals = [0, 0, 0]
    for pk in due.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            account = (
                Account.objects.select_for_update(of=("self",))
                .select_related("office")
                .filter(pk=pk, deleted_at__lt=purge_due(now))
                .first()
            )
            if account is None:  # restored or purged meanwhile
                continue
            mailbox = Mailbox.objects.select_for_update().filter(account=account).first()
            removed_messages = removed_bytes = 0
            if mailbox is not None:
                removed = get_mail_store().empty(mailbox)
                removed_messages, removed_bytes = removed.messages, removed.bytes
            audit.record(
                office=account.office,
                action=AuditEvent.Action.ACCOUNT_PURGE,
                target=account,
                actor_label="purge_deleted_users",
                data={
                    "deleted_at": account.deleted_at.isoformat(),
                    "messages": removed_messages,
                    "bytes": removed_bytes,
                },
            )
            _delete_rows(account)
            totals[0] += 1
            totals[1] += removed_messages
            totals[2] += removed_bytes
    return Purged(*totals)


def _delete_rows(account: Account) -> None:
    """Every row of the account. Rows of other apps that pin one of its
    folders (a sub-account pins its own) go first, then the addresses (they
    point at folders too), then the account with everything that cascades."""
    folders = Folder.objects.filter(mailbox__account=account)
    for relation in Folder._meta.related_objects:
        if relation.on_delete is models.PROTECT:
            relation.related_model._default_manager.filter(
                **{f"{relation.field.name}__in": folders}
            ).delete()
    Address.objects.filter(account=account).delete()
    account.delete()
