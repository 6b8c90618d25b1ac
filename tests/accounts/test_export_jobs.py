"""Big roster downloads run in the background with a progress bar ."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
from django.core.management import call_command
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from accounts.export_jobs import export_job_run, export_jobs_prune
from accounts.models import Account, AuditEvent, ExportJob
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAILADMIN_EXPORT_BACKGROUND_ROWS = 5
    settings.MAILADMIN_EXPORT_PROGRESS_ROWS = 3
    return settings.MEDIA_ROOT


@pytest.fixture
def crowd(org):
    for n in range(12):
        make_account(org.office, f"crowd{n:02d}", f"군중{n:02d}")
    return org


def export_url(org, query=""):
    url = reverse("mail_accounts_export", args=[org.office.domain])
    return f"{url}?{query}" if query else url


def job_urls(job):
    args = [job.office.domain, job.pk]
    return {
        "job": reverse("mail_export_job", args=args),
        "progress": reverse("mail_export_progress", args=args),
        "download": reverse("mail_export_download", args=args),
    }


def start(admin_client, org, query="", capture=None):
    response = admin_client.get(export_url(org, query))
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert response["Location"] == job_urls(job)["job"]
    return job


def test_small_export_stays_a_direct_download(admin_client, org, settings):
    settings.MAILADMIN_EXPORT_BACKGROUND_ROWS = 1000
    response = admin_client.get(export_url(org))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert not ExportJob.objects.exists()


def test_big_export_starts_a_job_and_queues_the_work(
    admin_client, crowd, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    with django_capture_on_commit_callbacks(execute=True):
        job = start(admin_client, crowd, "status=active")
    assert job.status == ExportJob.Status.QUEUED
    assert job.requested_by == crowd.admin
    assert job.params == {"status": "active"}
    assert job.total == 17  # 12 + admin, kim, lee, group, shared (park is suspended)
    assert job.done == 0
    from accounts.tasks import run_export_job, sweep_jobs

    task = DBTaskResult.objects.get(task_path=run_export_job.module_path)
    assert task.args_kwargs["args"] == [str(job.pk)]
    job.refresh_from_db()
    assert job.task_id == str(task.pk)
    # and the sweep that finds the job again should its worker die, waiting
    sweep = DBTaskResult.objects.get(task_path=sweep_jobs.module_path)
    assert sweep.status == "READY" and sweep.run_after > timezone.now()
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROSTER_EXPORT)
    assert event.data["rows"] == 17 and event.data["background"] is True


def test_the_job_page_shows_a_progress_bar_that_polls(admin_client, crowd):
    job = start(admin_client, crowd)
    ExportJob.objects.filter(pk=job.pk).update(done=7)
    page = admin_client.get(job_urls(job)["job"]).content.decode()
    assert 'max="100" value="38"' in page  # 7 of 18
    assert f'hx-get="{job_urls(job)["progress"]}"' in page
    assert 'hx-trigger="every 1s"' in page
    fragment = admin_client.get(job_urls(job)["progress"], headers={"HX-Request": "true"})
    html = fragment.content.decode()
    assert "<html" not in html and 'value="38"' in html
    page = admin_client.get(job_urls(job)["progress"]).content.decode()
    assert "<html" in page and "<title>" in page  # opened directly: the whole page


def test_worker_writes_the_file_that_matches_the_list(admin_client, crowd, media):
    job = start(admin_client, crowd, "q=crowd&sort=-login_id")
    export_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE
    assert job.done == job.total == 12
    assert job.filename.startswith("mail-usage_gabiaedu.com_") and job.filename.endswith(".xlsx")
    assert (media / job.file.name).exists()

    fragment = admin_client.get(
        job_urls(job)["progress"], headers={"HX-Request": "true"}
    ).content.decode()
    assert 'value="100"' in fragment and "hx-trigger" not in fragment
    assert job_urls(job)["download"] in fragment

    response = admin_client.get(job_urls(job)["download"])
    assert response.status_code == 200
    assert job.filename in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    ids = [row[1] for row in workbook.active.iter_rows(min_row=2, values_only=True)]
    assert ids == [f"crowd{n:02d}" for n in reversed(range(12))]


def test_progress_is_saved_while_the_file_is_written(admin_client, crowd, settings, monkeypatch):
    settings.MAILADMIN_EXPORT_CHUNK_PAUSE = 0.01
    job = start(admin_client, crowd)
    seen = []

    def pause(seconds):  # between two chunks: what would a poll see now?
        seen.append(ExportJob.objects.get(pk=job.pk).percent)

    monkeypatch.setattr("accounts.export_jobs.time.sleep", pause)
    export_job_run(job_id=str(job.pk))
    assert seen == [16, 33, 50, 66, 83, 99]


def test_download_before_the_file_is_ready_goes_back_to_the_job_page(admin_client, crowd):
    job = start(admin_client, crowd)
    response = admin_client.get(job_urls(job)["download"])
    assert response.status_code == 302 and response["Location"] == job_urls(job)["job"]


def test_expired_file_is_refused_and_pruned(admin_client, crowd, media):
    job = start(admin_client, crowd)
    export_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    path = media / job.file.name
    ExportJob.objects.filter(pk=job.pk).update(expires=timezone.now() - dt.timedelta(seconds=1))
    response = admin_client.get(job_urls(job)["download"])
    assert response.status_code == 410
    assert export_jobs_prune() == 1
    assert not path.exists() and not ExportJob.objects.exists()


def test_prune_command_keeps_files_still_in_time(admin_client, crowd, media):
    job = start(admin_client, crowd)
    export_job_run(job_id=str(job.pk))
    call_command("prune_exports", stdout=io.StringIO())
    assert ExportJob.objects.filter(pk=job.pk).exists()


def test_any_admin_of_the_office_may_fetch_the_file(client, crowd):
    client.force_login(crowd.admin)
    job = start(client, crowd)
    export_job_run(job_id=str(job.pk))
    other_admin = make_account(crowd.office, "admin2", "관리자2", role=Account.Role.SUPER_ADMIN)
    client.force_login(other_admin)
    assert client.get(job_urls(job)["download"]).status_code == 200


@pytest.mark.parametrize("which", ["job", "progress", "download"])
def test_answers_of_spec_f2(client, crowd, other, which):
    client.force_login(crowd.admin)
    job = start(client, crowd)
    export_job_run(job_id=str(job.pk))
    url = job_urls(job)[which]

    client.force_login(other.admin)  # another office's admin: 404 before anything
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    client.force_login(crowd.kim)  # an ordinary account of the office: 403
    assert client.get(url).status_code == 403
    client.logout()  # signed out: to the office's login
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login", args=[crowd.office.domain]))


def test_another_offices_job_is_not_found_in_this_office(client, crowd, other):
    client.force_login(other.admin)
    for n in range(6):
        make_account(other.office, f"o{n}", f"다른{n}")
    job = start(client, other)
    client.force_login(crowd.admin)
    wrong_office = [crowd.office.domain, job.pk]
    for name in ("mail_export_job", "mail_export_progress", "mail_export_download"):
        assert client.get(reverse(name, args=wrong_office)).status_code == 404


def test_unknown_job_is_404(admin_client, org):
    url = reverse(
        "mail_export_job", args=[org.office.domain, "00000000-0000-0000-0000-000000000000"]
    )
    assert admin_client.get(url).status_code == 404


def test_an_account_called_exports_keeps_its_pane_url(admin_client, org):
    make_account(org.office, "exports", "내보내기")
    url = reverse("mail_account_detail", args=[org.office.domain, "exports"])
    assert url.endswith("/accounts/exports/")


@pytest.mark.parametrize("which", ["job", "progress"])
def test_job_page_and_fragment_are_kept_apart_by_caches(admin_client, crowd, which):
    url = job_urls(start(admin_client, crowd))[which]
    for headers in ({}, {"HX-Request": "true"}):
        assert "HX-Request" in admin_client.get(url, headers=headers)["Vary"]


@pytest.mark.parametrize("which", ["job", "progress"])
def test_history_restore_of_the_job_page_gets_the_full_page(admin_client, crowd, which):
    url = job_urls(start(admin_client, crowd))[which]
    response = admin_client.get(
        url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.content.decode()


# A worker that dies mid-file.


def orphan(job, media, *, attempts=1, seconds_ago=61):
    """Make ``job`` look like its worker died ``seconds_ago`` seconds into
    run number ``attempts``, leaving a partial file behind."""
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING,
        attempts=attempts,
        done=4,
        heartbeat=timezone.now() - dt.timedelta(seconds=seconds_ago),
    )
    folder = media / "exports" / str(job.office_id) / str(job.pk)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"partial-{attempts}.xlsx"
    partial.write_bytes(b"half a file")
    return partial


def test_a_job_whose_worker_stopped_beating_is_run_again_from_scratch(
    admin_client, crowd, media, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from accounts.export_jobs import recover_stale_jobs
    from accounts.tasks import run_export_job

    with django_capture_on_commit_callbacks(execute=True):
        job = start(admin_client, crowd)
    first_task = DBTaskResult.objects.get(task_path=run_export_job.module_path)
    DBTaskResult.objects.filter(pk=first_task.pk).update(status="RUNNING")
    partial = orphan(job, media)
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_stale_jobs() == 1
    job.refresh_from_db()
    assert job.status == ExportJob.Status.QUEUED and job.done == 0
    assert not partial.exists()
    first_task.refresh_from_db()
    assert first_task.status == "FAILED"
    again = DBTaskResult.objects.get(task_path=run_export_job.module_path, status="READY")
    assert job.task_id == str(again.pk)
    export_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and job.attempts == 2
    assert job.done == job.total == 18


def test_a_job_still_beating_is_left_alone(admin_client, crowd, media):
    from accounts.export_jobs import recover_stale_jobs

    job = start(admin_client, crowd)
    partial = orphan(job, media, seconds_ago=30)
    assert recover_stale_jobs() == 0
    assert partial.exists()
    assert ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.RUNNING


def test_after_two_retries_the_job_fails_and_the_page_offers_to_try_again(
    admin_client, crowd, media
):
    job = start(admin_client, crowd, "q=crowd&status=active")
    partial = orphan(job, media, attempts=3)
    # The page being watched notices by itself.
    fragment = admin_client.get(job_urls(job)["progress"], headers={"HX-Request": "true"})
    html = fragment.content.decode()
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED
    assert not partial.exists()
    assert "hx-trigger" not in html  # polling stops
    assert "다시 시도" in html
    retry = export_url(crowd, "q=crowd&amp;status=active")
    assert f'href="{retry}"' in html


def test_a_run_taken_for_dead_stops_and_removes_its_own_partial(
    admin_client, crowd, media, settings, monkeypatch
):
    """A worker that was only stalled, not dead, finds its job run by
    another worker and gives up without touching the job."""
    settings.MAILADMIN_EXPORT_CHUNK_PAUSE = 0.01
    job = start(admin_client, crowd)

    def taken_over(seconds):
        ExportJob.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)

    monkeypatch.setattr("accounts.export_jobs.time.sleep", taken_over)
    export_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == ExportJob.Status.RUNNING and not job.file
    assert list((media / "exports").rglob("*.xlsx")) == []


def test_the_sweep_stays_queued_only_while_jobs_are_unfinished(admin_client, crowd, media):
    from django_tasks_db.models import DBTaskResult

    from accounts.tasks import sweep_jobs

    def waiting():
        return DBTaskResult.objects.filter(task_path=sweep_jobs.module_path, status="READY")

    job = start(admin_client, crowd)
    waiting().delete()
    sweep_jobs.call()
    assert waiting().count() == 1
    sweep_jobs.call()  # one is enough
    assert waiting().count() == 1
    export_job_run(job_id=str(job.pk))
    waiting().delete()
    sweep_jobs.call()
    assert not waiting().exists()
