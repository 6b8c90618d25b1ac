"""Roster exports too big for one request.

Above ``MAILADMIN_EXPORT_BACKGROUND_ROWS`` the download becomes an
:class:`~accounts.models.ExportJob`: the request records it (with its audit
event: every download is recorded) and enqueues a django-tasks task; a ``db_worker`` process writes
the xlsx into MEDIA_ROOT from the same generator as the direct download,
updating ``done`` as it goes, so the page can show a progress bar. No web
request waits for the file. Files expire; :func:`export_jobs_prune` deletes
them.

A worker can die mid-file (killed, out of memory, machine gone). While a
job runs, its worker touches ``heartbeat`` every
``MAILADMIN_JOB_HEARTBEAT_SECONDS`` (from a thread, so a slow chunk is not
mistaken for death); :func:`recover_stale_jobs` finds running jobs whose
heartbeat is older than ``MAILADMIN_JOB_STALE_SECONDS``, removes their
partial file and queues them again from scratch, at most
``MAILADMIN_JOB_MAX_RETRIES`` times, then marks them failed. It runs from a
small sweep task that stays queued while any job is unfinished (so a newly
started worker picks it up), at the start of every export run, and when the
progress page is polled. Each run is numbered (``attempts``): a run that
finds the job no longer its own -- recovered while it was merely stalled --
stops and removes its own partial file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
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
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_pk) -> None:
    """Queue a run of the job, and the sweep that watches over it."""
    from accounts.tasks import run_export_job

    result = run_export_job.enqueue(str(job_pk))
    ExportJob.objects.filter(pk=job_pk).update(task_id=str(result.id))
    schedule_sweep()


def sweep_interval() -> float:
    return max(1.0, settings.MAILADMIN_JOB_STALE_SECONDS / 2)


def schedule_sweep() -> None:
    """Keep one sweep task waiting in the queue while any job is unfinished:
    a worker started after another died then finds the dead one's job."""
    from django_tasks_db.models import DBTaskResult

    from accounts.tasks import sweep_jobs

    unfinished = ExportJob.objects.filter(
        status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
    )
    waiting = DBTaskResult.objects.filter(task_path=sweep_jobs.module_path, status="READY")
    if unfinished.exists() and not waiting.exists():
        run_after = timezone.now() + dt.timedelta(seconds=sweep_interval())
        sweep_jobs.using(run_after=run_after).enqueue()


def _job_folder(job: ExportJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "exports" / str(job.office_id) / str(job.pk)


def _remove_partials(job: ExportJob) -> None:
    for partial in _job_folder(job).glob("partial*.xlsx"):
        partial.unlink(missing_ok=True)


def _stale(now: dt.datetime) -> Q:
    before = now - dt.timedelta(seconds=settings.MAILADMIN_JOB_STALE_SECONDS)
    return Q(status=ExportJob.Status.RUNNING) & (
        Q(heartbeat__lt=before) | Q(heartbeat__isnull=True, created__lt=before)
    )


def recover_stale_jobs(now: dt.datetime | None = None) -> int:
    """Queue again (or give up on) every running job whose worker stopped
    beating; returns how many were found."""
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    found = 0
    for pk in list(ExportJob.objects.filter(_stale(now)).values_list("pk", flat=True)):
        with transaction.atomic():
            job = ExportJob.objects.select_for_update().filter(_stale(now), pk=pk).first()
            if job is None:  # recovered by someone else meanwhile
                continue
            found += 1
            _remove_partials(job)
            # The dead worker's task would otherwise say "running" forever.
            if job.task_id:
                DBTaskResult.objects.filter(pk=job.task_id, status="RUNNING").update(
                    status="FAILED", finished_at=now
                )
            if job.attempts <= settings.MAILADMIN_JOB_MAX_RETRIES:
                logger.warning("export %s lost its worker; queued again", job.pk)
                ExportJob.objects.filter(pk=job.pk).update(
                    status=ExportJob.Status.QUEUED, done=0, heartbeat=None
                )
                transaction.on_commit(lambda pk=job.pk: _enqueue(pk))
            else:
                logger.warning("export %s lost its worker %d times; failed", job.pk, job.attempts)
                ExportJob.objects.filter(pk=job.pk).update(
                    status=ExportJob.Status.FAILED,
                    error="the background worker stopped",
                    finished=now,
                )
    return found


class _Superseded(Exception):
    """The job was recovered from this run (taken for dead) and belongs to
    another run now."""


class _Heartbeat:
    """Touches the job's heartbeat from a thread while the run lasts; notes
    when the job is no longer this run's."""

    def __init__(self, job_pk, attempt: int):
        self.mine = ExportJob.objects.filter(
            pk=job_pk, attempts=attempt, status=ExportJob.Status.RUNNING
        )
        self.interval = settings.MAILADMIN_JOB_HEARTBEAT_SECONDS
        self.stopping = threading.Event()
        self.lost = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"heartbeat {job_pk}", daemon=True)

    def beat(self, **changes) -> bool:
        """Touch the heartbeat (with ``changes``); False once the job is no
        longer this run's."""
        if not self.mine.update(heartbeat=timezone.now(), **changes):
            self.lost.set()
        return not self.lost.is_set()

    def _loop(self) -> None:
        try:
            while not self.stopping.wait(self.interval):
                try:
                    if not self.mine.update(heartbeat=timezone.now()):
                        self.lost.set()
                        return
                except Exception:  # a database hiccup: try again next beat
                    logger.exception("heartbeat failed")
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=self.interval + 5)


class _Progress:
    """Counts rows as they pass and writes ``done`` every few thousand rows
    (one small UPDATE each), pausing if the settings ask for it."""

    def __init__(self, job: ExportJob, heartbeat: _Heartbeat):
        self.job = job
        self.heartbeat = heartbeat
        self.every = max(1, settings.MAILADMIN_EXPORT_PROGRESS_ROWS)
        self.pause = settings.MAILADMIN_EXPORT_CHUNK_PAUSE
        self.done = 0

    def wrap(self, rows):
        for row in rows:
            yield row
            self.done += 1
            if self.done % self.every == 0:
                if not self.save():
                    # Taken over: end the rows here, so the writer closes its
                    # file normally; the run then sees it lost the job and
                    # throws the file away.
                    return
                if self.pause:
                    time.sleep(self.pause)

    def save(self) -> bool:
        return self.heartbeat.beat(done=min(self.done, self.job.total))


def export_job_run(*, job_id: str) -> None:
    """The worker's side: claim the job, write the file, mark it ready."""
    from accounts.exports import roster_write  # the one writer of the roster

    # Whoever runs work also looks after the runs that died.
    recover_stale_jobs()
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING,
        attempts=F("attempts") + 1,
        heartbeat=timezone.now(),
        done=0,
    )
    if not claimed:
        return
    job = ExportJob.objects.select_related("office").get(pk=job_id)
    export_jobs_prune()
    folder = _job_folder(job)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"partial-{job.attempts}.xlsx"
    heartbeat = _Heartbeat(job.pk, job.attempts)
    try:
        with (
            heartbeat,
            partial.open("wb") as target,
            translation.override(job.language or None),
        ):
            roster = roster_write(
                target,
                office=job.office,
                params=job.params,
                wrap_rows=_Progress(job, heartbeat).wrap,
            )
        if heartbeat.lost.is_set():
            raise _Superseded
        os.replace(partial, folder / roster.filename)
    except _Superseded:
        logger.warning("export %s run %d was taken over; stopping", job.pk, job.attempts)
        partial.unlink(missing_ok=True)
        return
    except Exception as error:
        logger.exception("export %s failed", job.pk)
        partial.unlink(missing_ok=True)
        heartbeat.mine.update(
            status=ExportJob.Status.FAILED, error=str(error)[:2000], finished=timezone.now()
        )
        raise
    # The count was taken when the job started; rows may have changed since.
    heartbeat.mine.update(
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
