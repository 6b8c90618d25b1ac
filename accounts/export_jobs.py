"""Roster exports too big for one request.

Above ``MAILADMIN_EXPORT_BACKGROUND_ROWS`` the download becomes an
:class:`~accounts.models.ExportJob`: the request records it (with its audit
event: every download is recorded) and enqueues a django-tasks task; a ``db_worker`` process writes
the xlsx into MEDIA_ROOT from the same generator as the direct download,
updating ``done`` as it goes, so the page can show a progress bar. No web
request waits for the file. Files expire; :func:`export_jobs_prune` deletes
them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from accounts import audit
from accounts.models import Account, AuditEvent, ExportJob, Office

logger = logging.getLogger(__name__)


def background_threshold() -> int:
    return settings.MAILADMIN_EXPORT_BACKGROUND_ROWS


@transaction.atomic
def export_job_start(
    *, office: Office, actor: Account, params: dict, total: int, ip: str | None = None
) -> ExportJob:
    """Record the job and its audit event, and queue the work once the
    transaction has committed (the worker must find the row)."""
    job = ExportJob.objects.create(
        office=office,
        requested_by=actor,
        language=translation.get_language() or "",
        params=params,
        total=total,
        expires=timezone.now() + dt.timedelta(seconds=settings.MAILADMIN_EXPORT_TTL_SECONDS),
    )
    audit.record(
        office=office,
        action=AuditEvent.Action.ROSTER_EXPORT,
        actor=actor,
        data={"filters": params, "rows": total, "background": True, "job": str(job.pk)},
        ip=ip,
    )
    from accounts.tasks import run_export_job

    transaction.on_commit(lambda: run_export_job.enqueue(str(job.pk)))
    return job


class _Progress:
    """Counts rows as they pass and writes ``done`` every few thousand rows
    (one small UPDATE each), pausing if the settings ask for it."""

    def __init__(self, job: ExportJob):
        self.job = job
        self.every = max(1, settings.MAILADMIN_EXPORT_PROGRESS_ROWS)
        self.pause = settings.MAILADMIN_EXPORT_CHUNK_PAUSE
        self.done = 0

    def wrap(self, rows):
        for row in rows:
            yield row
            self.done += 1
            if self.done % self.every == 0:
                self.save()
                if self.pause:
                    time.sleep(self.pause)

    def save(self) -> None:
        done = min(self.done, self.job.total)
        ExportJob.objects.filter(pk=self.job.pk).update(done=done)


def export_job_run(*, job_id: str) -> None:
    """The worker's side: write the file, then mark the job ready."""
    from accounts.exports import roster_write  # the one writer of the roster

    job = ExportJob.objects.select_related("office").get(pk=job_id)
    if job.status != ExportJob.Status.QUEUED:
        return
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    export_jobs_prune()
    progress = _Progress(job)
    folder = Path(settings.MEDIA_ROOT) / "exports" / str(job.office_id) / str(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / "partial.xlsx"
    try:
        with partial.open("wb") as target, translation.override(job.language or None):
            roster = roster_write(
                target, office=job.office, params=job.params, wrap_rows=progress.wrap
            )
        os.replace(partial, folder / roster.filename)
    except Exception as error:
        logger.exception("export %s failed", job.pk)
        partial.unlink(missing_ok=True)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=str(error)[:2000], finished=timezone.now()
        )
        raise
    # The count was taken when the job started; rows may have changed since.
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        total=roster.rows,
        done=roster.rows,
        file=f"exports/{job.office_id}/{job.pk}/{roster.filename}",
        filename=roster.filename,
        finished=timezone.now(),
    )


def export_jobs_prune(now: dt.datetime | None = None) -> int:
    """Delete expired jobs and their files; returns how many went."""
    now = now or timezone.now()
    expired = list(ExportJob.objects.filter(expires__lte=now).values_list("pk", "office_id"))
    for pk, office_id in expired:
        shutil.rmtree(Path(settings.MEDIA_ROOT) / "exports" / str(office_id) / str(pk), True)
    ExportJob.objects.filter(pk__in=[pk for pk, _ in expired]).delete()
    return len(expired)
