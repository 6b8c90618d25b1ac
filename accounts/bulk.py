"""Bulk actions on many mail accounts at once: suspend/resume, POP3 on/off,
SMTP on/off, set the quota.

The accounts are the checked rows of the usage list or every account its
filters select (:func:`accounts.selectors.usage_rows`, so the action hits
exactly what the admin saw counted). However many there are, one call is
one transaction made of a fixed number of statements per chunk of rows: a
lock on the rows, one UPDATE, one INSERT of the audit events. Each changed
account gets its own audit event (``account_update``, as a change on
사용자 관리 would), and the action one summary event (``bulk_update``)
that the per-account events point to.

An admin never suspends themselves this way: their own row is skipped and
the summary says so. (The last active super admin cannot be suspended
either; since the admin acting is one and is skipped, that holds too.)

More accounts than ``MAILADMIN_BULK_BACKGROUND_ROWS`` become a
:class:`~accounts.models.BulkJob` that the background worker applies a
chunk per transaction, with a progress bar like a big roster download; see
:func:`bulk_job_run` for why an interrupted run never half-changes an
account.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.mailstore import get_mail_store
from accounts.models import Account, AuditEvent, BulkJob, Mailbox, Office

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500


class BulkAction(models.TextChoices):
    SUSPEND = "suspend", _("Suspend")
    RESUME = "resume", _("Resume (set active)")
    POP3_ON = "pop3_on", _("Turn POP3 on")
    POP3_OFF = "pop3_off", _("Turn POP3 off")
    SMTP_ON = "smtp_on", _("Turn SMTP on")
    SMTP_OFF = "smtp_off", _("Turn SMTP off")
    SET_QUOTA = "set_quota", _("Set the quota")


# action -> (model the field lives on, field, value); the quota's value is
# the caller's.
_EFFECTS: dict[str, tuple[type[models.Model], str, Any]] = {
    BulkAction.SUSPEND: (Account, "status", Account.Status.SUSPENDED),
    BulkAction.RESUME: (Account, "status", Account.Status.ACTIVE),
    BulkAction.POP3_ON: (Mailbox, "pop3_enabled", True),
    BulkAction.POP3_OFF: (Mailbox, "pop3_enabled", False),
    BulkAction.SMTP_ON: (Mailbox, "smtp_enabled", True),
    BulkAction.SMTP_OFF: (Mailbox, "smtp_enabled", False),
    BulkAction.SET_QUOTA: (Mailbox, "quota_bytes", None),
}

# Changes a mail server's password check answers differently for.
# What the mail servers' user and password lookups answer (and Dovecot
# caches): a change must reach them at the next login or delivery.
_AUTH_FIELDS = {"status", "pop3_enabled", "smtp_enabled", "quota_bytes"}


@dataclass
class BulkResult:
    changed: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)
    summary: AuditEvent | None = None

    @property
    def total(self) -> int:
        return self.changed + self.unchanged + len(self.skipped)


def _chunks(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def bulk_apply_chunk(
    *,
    office: Office,
    actor: Account,
    action: str,
    account_ids: list[int],
    quota_bytes: int | None = None,
    summary: AuditEvent,
    ip: str | None = None,
    result: BulkResult,
) -> None:
    """Apply ``action`` to some accounts (ids of ``office``'s mail accounts)
    inside the caller's transaction: lock, one UPDATE, one INSERT of audit
    events. Accounts that already have the value are counted unchanged."""
    model, field_name, value = _EFFECTS[action]
    if action == BulkAction.SET_QUOTA:
        value = quota_bytes
    if model is Account:
        rows = (
            Account.objects.select_for_update()
            .filter(office=office, pk__in=account_ids, mailbox__isnull=False)
            .order_by("pk")
            .values_list("pk", "login_id", field_name)
        )
    else:
        rows = (
            Mailbox.objects.select_for_update()
            .filter(office=office, account_id__in=account_ids)
            .order_by("account_id")
            .values_list("account_id", "account__login_id", field_name)
        )
    changing: list[tuple[int, str, Any]] = []
    for pk, login_id, before in rows:
        if action == BulkAction.SUSPEND and pk == actor.pk:
            result.skipped.append(login_id)
        elif before == value:
            result.unchanged += 1
        else:
            changing.append((pk, login_id, before))
    if not changing:
        return
    ids = [pk for pk, _login_id, _before in changing]
    if model is Account:
        Account.objects.filter(office=office, pk__in=ids).update(**{field_name: value})
    else:
        Mailbox.objects.filter(office=office, account_id__in=ids).update(**{field_name: value})
    actor_label = actor.login_id
    AuditEvent.objects.bulk_create(
        AuditEvent(
            office=office,
            action=AuditEvent.Action.ACCOUNT_UPDATE,
            actor=actor,
            actor_label=actor_label,
            target_id=pk,
            target_label=login_id,
            data={field_name: {"before": before, "after": value}, "batch": summary.pk},
            ip=ip,
        )
        for pk, login_id, before in changing
    )
    if field_name in _AUTH_FIELDS:
        refreshed = list(Account.objects.filter(pk__in=ids).select_related("office"))

        def refresh() -> None:
            # After the commit: flushed earlier, the old answer could be
            # cached again before the change is visible.
            store = get_mail_store()
            for account in refreshed:
                store.refresh_auth(account)

        transaction.on_commit(refresh)
    result.changed += len(changing)


def bulk_summary(
    *,
    office: Office,
    actor: Account,
    action: str,
    total: int,
    quota_bytes: int | None = None,
    filters: dict[str, Any] | None = None,
    ip: str | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditEvent:
    data: dict[str, Any] = {"action": action, "accounts": total}
    if action == BulkAction.SET_QUOTA:
        data["quota_bytes"] = quota_bytes
    if filters is not None:
        data["filters"] = filters
    data.update(extra or {})
    return audit.record(
        office=office, action=AuditEvent.Action.BULK_UPDATE, actor=actor, data=data, ip=ip
    )


def _finish_summary(summary: AuditEvent, result: BulkResult) -> None:
    summary.data.update(changed=result.changed, unchanged=result.unchanged, skipped=result.skipped)
    AuditEvent.objects.filter(pk=summary.pk).update(data=summary.data)


@transaction.atomic
def accounts_bulk_update(
    *,
    office: Office,
    actor: Account,
    action: str,
    account_ids: Iterable[int],
    quota_bytes: int | None = None,
    filters: dict[str, Any] | None = None,
    ip: str | None = None,
) -> BulkResult:
    """Apply ``action`` to the accounts ``account_ids`` (ids outside the
    office's mail accounts are ignored) in one transaction: every account
    changes, or none does."""
    if action not in _EFFECTS:
        raise ValueError(f"unknown bulk action {action!r}")
    ids = sorted(set(account_ids))
    summary = bulk_summary(
        office=office,
        actor=actor,
        action=action,
        total=len(ids),
        quota_bytes=quota_bytes,
        filters=filters,
        ip=ip,
    )
    result = BulkResult(summary=summary)
    for chunk in _chunks(ids, CHUNK_SIZE):
        bulk_apply_chunk(
            office=office,
            actor=actor,
            action=action,
            account_ids=chunk,
            quota_bytes=quota_bytes,
            summary=summary,
            ip=ip,
            result=result,
        )
    _finish_summary(summary, result)
    return result


# -- In the background ---------------------------------------------------------


def background_threshold() -> int:
    return settings.MAILADMIN_BULK_BACKGROUND_ROWS


@transaction.atomic
def bulk_job_start(
    *,
    office: Office,
    actor: Account,
    action: str,
    account_ids: Iterable[int],
    quota_bytes: int | None = None,
    filters: dict[str, Any] | None = None,
    ip: str | None = None,
) -> BulkJob:
    """Record the job with the accounts the admin confirmed and its summary
    audit event, and queue the work once this transaction has committed."""
    if action not in _EFFECTS:
        raise ValueError(f"unknown bulk action {action!r}")
    ids = sorted(set(account_ids))
    summary = bulk_summary(
        office=office,
        actor=actor,
        action=action,
        total=len(ids),
        quota_bytes=quota_bytes,
        filters=filters,
        ip=ip,
        extra={"background": True},
    )
    job = BulkJob.objects.create(
        office=office,
        requested_by=actor,
        action=action,
        quota_bytes=quota_bytes,
        account_ids=ids,
        summary=summary,
        ip=ip,
        params=filters or {},
        total=len(ids),
    )
    summary.data["job"] = str(job.pk)
    AuditEvent.objects.filter(pk=summary.pk).update(data=summary.data)
    from accounts.tasks import run_bulk_job

    transaction.on_commit(lambda: run_bulk_job.enqueue(str(job.pk)))
    return job


def bulk_job_run(*, job_id: str) -> None:
    """The worker's side: apply the job a chunk at a time, each chunk in its
    own transaction together with the job's progress, resuming after the
    last chunk a previous (interrupted) run finished."""
    job = BulkJob.objects.select_related("office", "requested_by", "summary").get(pk=job_id)
    if job.status in (BulkJob.Status.DONE, BulkJob.Status.FAILED):
        return
    BulkJob.objects.filter(pk=job.pk).update(status=BulkJob.Status.RUNNING)
    ids: list[int] = job.account_ids
    actor = job.requested_by
    try:
        if actor is None:
            raise RuntimeError("the admin who started this job no longer exists")
        while job.done < len(ids):
            chunk = ids[job.done : job.done + CHUNK_SIZE]
            with transaction.atomic():
                result = BulkResult()
                bulk_apply_chunk(
                    office=job.office,
                    actor=actor,
                    action=job.action,
                    account_ids=chunk,
                    quota_bytes=job.quota_bytes,
                    summary=job.summary,
                    ip=job.ip,
                    result=result,
                )
                job.done += len(chunk)
                job.changed += result.changed
                job.unchanged += result.unchanged
                job.skipped = [*job.skipped, *result.skipped]
                BulkJob.objects.filter(pk=job.pk).update(
                    done=job.done,
                    changed=job.changed,
                    unchanged=job.unchanged,
                    skipped=job.skipped,
                )
            if settings.MAILADMIN_BULK_CHUNK_PAUSE:
                time.sleep(settings.MAILADMIN_BULK_CHUNK_PAUSE)
    except Exception as error:
        logger.exception("bulk job %s failed", job.pk)
        BulkJob.objects.filter(pk=job.pk).update(
            status=BulkJob.Status.FAILED, error=str(error)[:2000], finished=timezone.now()
        )
        raise
    with transaction.atomic():
        if job.summary is not None:
            _finish_summary(
                job.summary,
                BulkResult(changed=job.changed, unchanged=job.unchanged, skipped=job.skipped),
            )
        BulkJob.objects.filter(pk=job.pk).update(
            status=BulkJob.Status.DONE, finished=timezone.now()
        )
