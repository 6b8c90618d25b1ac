"""A background export survives the death of its worker: a real
`manage.py db_worker` process is killed (SIGKILL) half way through a file,
and another worker started afterwards finishes the job from scratch, with no
one watching the page, within two minutes; the dead run's partial file is
gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from accounts.models import ExportJob
from devtools.bench import child_env
from tests.factories import make_account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAILADMIN_EXPORT_BACKGROUND_ROWS = 5
    settings.MAILADMIN_JOB_STALE_SECONDS = 3
    return settings.MEDIA_ROOT


def start_worker(media: Path, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(django_settings.BASE_DIR) / "manage.py"),
            "db_worker",
            "--no-reload",
            "--interval",
            "0.2",
            "--no-startup-delay",
        ],
        env=child_env(
            MEDIA_ROOT=str(media),
            MAILADMIN_EXPORT_PROGRESS_ROWS="5",
            MAILADMIN_JOB_HEARTBEAT_SECONDS="0.5",
            MAILADMIN_JOB_STALE_SECONDS="3",
            **extra,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def partials(folder: Path) -> list[Path]:
    return sorted(folder.glob("partial*.xlsx"))


def test_a_killed_worker_s_export_is_finished_by_another_worker(org, media):
    for n in range(60):
        make_account(org.office, f"crowd{n:02d}", f"군중{n:02d}", password=None)
    client = Client()
    client.force_login(org.admin)
    response = client.get(reverse("mail_accounts_export", args=[org.office.domain]))
    assert response.status_code == 302
    job = ExportJob.objects.get()
    folder = media / "exports" / str(org.office.pk) / str(job.pk)

    first = start_worker(media, MAILADMIN_EXPORT_CHUNK_PAUSE="0.5")
    second = None
    try:
        wait_for(
            lambda: ExportJob.objects.filter(pk=job.pk, done__gt=0).exists() and partials(folder),
            60,
            "the first worker to be half way",
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        job.refresh_from_db()
        assert job.status == ExportJob.Status.RUNNING and 0 < job.done < job.total
        assert partials(folder)

        killed_at = time.monotonic()
        second = start_worker(media)
        wait_for(
            lambda: ExportJob.objects.filter(
                pk=job.pk, status__in=[ExportJob.Status.DONE, ExportJob.Status.FAILED]
            ).exists(),
            120,
            "another worker to take the job over",
        )
        assert time.monotonic() - killed_at < 120
    finally:
        stop(first)
        if second is not None:
            stop(second)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE, job.error
    assert job.attempts == 2
    assert job.done == job.total > 60
    assert (media / job.file.name).exists()
    assert partials(folder) == []
    # The dead run's task does not say "running" forever.
    from django_tasks_db.models import DBTaskResult

    assert not DBTaskResult.objects.filter(status="RUNNING").exists()
