"""Bulk actions on the usage list: confirmation with the count, one
transaction, one audit event per changed account plus a summary."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from accounts.account_services import account_create
from accounts.bulk import BulkAction, accounts_bulk_update
from accounts.models import Account, AuditEvent, Mailbox

pytestmark = pytest.mark.django_db

GB = 1024**3


def bulk_url(org):
    return reverse("mail_accounts_bulk", args=[org.office.domain])


def make_many(org, count: int) -> list[Account]:
    return [
        account_create(
            office=org.office, actor=org.admin, login_id=f"bulk{n:04d}", name=f"일괄 {n:04d}"
        ).account
        for n in range(count)
    ]


def test_thousand_accounts_suspended_in_one_action_with_one_event_each(admin_client, org):
    accounts = make_many(org, 1000)
    filters = {"q": "bulk"}
    first = admin_client.post(bulk_url(org), {"action": "suspend", "scope": "filtered", **filters})
    assert first.status_code == 200
    assert "1,000" in first.content.decode()
    assert not Account.objects.filter(status="suspended", login_id__startswith="bulk").exists()
    before = AuditEvent.objects.count()
    response = admin_client.post(
        bulk_url(org),
        {"action": "suspend", "scope": "filtered", "confirm": "1", "expected": "1000", **filters},
    )
    assert response.status_code == 302
    assert response["Location"].endswith("?q=bulk")
    assert (
        Account.objects.filter(
            pk__in=[a.pk for a in accounts], status=Account.Status.SUSPENDED
        ).count()
        == 1000
    )
    events = AuditEvent.objects.filter(pk__gt=0).order_by("pk")[before:]
    per_account = [e for e in events if e.action == AuditEvent.Action.ACCOUNT_UPDATE]
    summaries = [e for e in events if e.action == AuditEvent.Action.BULK_UPDATE]
    assert len(per_account) == 1000
    assert len({e.target_id for e in per_account}) == 1000
    assert len(summaries) == 1
    assert summaries[0].data["changed"] == 1000
    assert all(e.data["batch"] == summaries[0].pk for e in per_account)
    assert per_account[0].data["status"] == {"before": "active", "after": "suspended"}


def test_confirmation_states_count_and_changes_nothing(admin_client, org):
    response = admin_client.post(
        bulk_url(org),
        {"action": "pop3_off", "scope": "selected", "ids": [org.kim.login_id, org.lee.login_id]},
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="bulk-count"' in body and ">2<" in body
    assert Mailbox.objects.filter(pop3_enabled=False).count() == 0


def test_checked_rows_pop3_off(admin_client, org):
    response = admin_client.post(
        bulk_url(org),
        {
            "action": "pop3_off",
            "scope": "selected",
            "ids": [org.kim.login_id, org.lee.login_id],
            "confirm": "1",
            "expected": "2",
        },
    )
    assert response.status_code == 302
    assert set(Mailbox.objects.filter(pop3_enabled=False).values_list("account_id", flat=True)) == {
        org.kim.pk,
        org.lee.pk,
    }


def test_htmx_confirm_closes_dialog_and_refreshes(admin_client, org):
    response = admin_client.post(
        bulk_url(org),
        {
            "action": "smtp_off",
            "scope": "selected",
            "ids": [org.kim.login_id],
            "confirm": "1",
            "expected": "1",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert "accountsChanged" in response["HX-Trigger"]
    assert not Mailbox.objects.get(account=org.kim).smtp_enabled


def test_set_quota_parses_text(admin_client, org):
    admin_client.post(
        bulk_url(org),
        {
            "action": "set_quota",
            "quota": "2 GB",
            "scope": "selected",
            "ids": [org.kim.login_id],
            "confirm": "1",
            "expected": "1",
        },
    )
    assert Mailbox.objects.get(account=org.kim).quota_bytes == 2 * GB
    admin_client.post(
        bulk_url(org),
        {
            "action": "set_quota",
            "quota": "무제한",
            "scope": "selected",
            "ids": [org.kim.login_id],
            "confirm": "1",
            "expected": "1",
        },
    )
    assert Mailbox.objects.get(account=org.kim).quota_bytes is None


def test_bad_quota_is_refused_with_a_message(admin_client, org):
    response = admin_client.post(
        bulk_url(org),
        {
            "action": "set_quota",
            "quota": "lots",
            "scope": "selected",
            "ids": [org.kim.login_id],
            "confirm": "1",
            "expected": "1",
        },
    )
    assert response.status_code == 400
    assert "bulk-error" in response.content.decode()
    assert Mailbox.objects.get(account=org.kim).quota_bytes == 1024 * 1024 * 1024


def test_changed_count_asks_again(admin_client, org):
    response = admin_client.post(
        bulk_url(org),
        {"action": "suspend", "scope": "filtered", "confirm": "1", "expected": "3"},
    )
    assert response.status_code == 200
    assert "bulk-notice" in response.content.decode()
    assert Account.objects.filter(office=org.office, status="suspended").count() == 1


def test_admin_never_suspends_themselves(org):
    ids = list(Mailbox.objects.filter(office=org.office).values_list("account_id", flat=True))
    result = accounts_bulk_update(
        office=org.office, actor=org.admin, action=BulkAction.SUSPEND, account_ids=ids
    )
    org.admin.refresh_from_db()
    assert org.admin.status == Account.Status.ACTIVE
    assert result.skipped == ["admin"]
    assert result.unchanged == 1  # jiho.park was suspended already


def test_other_offices_accounts_are_untouched(admin_client, org, other):
    admin_client.post(
        bulk_url(org),
        {
            "action": "suspend",
            "scope": "selected",
            "ids": [other.kim.login_id],
            "confirm": "1",
            "expected": "1",
        },
    )
    other.kim.refresh_from_db()
    org.kim.refresh_from_db()
    # The ID exists in both offices: only this office's account changes.
    assert other.kim.status == Account.Status.ACTIVE
    assert org.kim.status == Account.Status.SUSPENDED


def test_other_office_admin_gets_404(other_admin_client, org):
    response = other_admin_client.post(bulk_url(org), {"action": "suspend", "scope": "filtered"})
    assert response.status_code == 404


def test_ordinary_user_gets_403(user_client, org):
    response = user_client.post(bulk_url(org), {"action": "suspend", "scope": "filtered"})
    assert response.status_code == 403


def test_get_goes_back_to_the_list(admin_client, org):
    response = admin_client.get(bulk_url(org))
    assert response.status_code == 302
    assert response["Location"] == reverse("mail_accounts", args=[org.office.domain])


def test_failure_midway_leaves_every_account_untouched(org, monkeypatch):
    make_many(org, 30)
    ids = list(Mailbox.objects.filter(office=org.office).values_list("account_id", flat=True))
    import accounts.bulk as bulk

    calls = {"n": 0}
    real = bulk.bulk_apply_chunk

    def failing(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker died")
        return real(**kwargs)

    monkeypatch.setattr(bulk, "CHUNK_SIZE", 10)
    monkeypatch.setattr(bulk, "bulk_apply_chunk", failing)
    with pytest.raises(RuntimeError):
        bulk.accounts_bulk_update(
            office=org.office, actor=org.admin, action=BulkAction.POP3_OFF, account_ids=ids
        )
    assert not Mailbox.objects.filter(pop3_enabled=False).exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.BULK_UPDATE).exists()


def test_list_shows_checkboxes_and_bar(admin_client, org):
    body = admin_client.get(reverse("mail_accounts", args=[org.office.domain])).content.decode()
    assert 'id="bulk-form"' in body
    assert f'value="{org.kim.login_id}" form="bulk-form"' in body


def test_query_count_does_not_grow_with_accounts(org, django_assert_max_num_queries):
    make_many(org, 120)
    ids = list(Mailbox.objects.filter(office=org.office).values_list("account_id", flat=True))
    connection.queries_log.clear()
    with django_assert_max_num_queries(12):
        accounts_bulk_update(
            office=org.office, actor=org.admin, action=BulkAction.SMTP_OFF, account_ids=ids
        )


# -- In the background -------------------------------------------------------


def start_job(client, org, settings, capture, **extra):
    from accounts.models import BulkJob

    settings.MAILADMIN_BULK_BACKGROUND_ROWS = 10
    with capture(execute=False):
        response = client.post(
            bulk_url(org),
            {
                "action": "smtp_off",
                "scope": "filtered",
                "q": "bulk",
                "confirm": "1",
                "expected": "30",
                **extra,
            },
        )
    job = BulkJob.objects.get()
    return response, job


def test_big_action_becomes_a_background_job(
    admin_client, org, settings, django_capture_on_commit_callbacks
):
    from accounts.bulk import bulk_job_run

    make_many(org, 30)
    response, job = start_job(admin_client, org, settings, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response["Location"] == reverse("mail_bulk_job", args=[org.office.domain, job.pk])
    assert job.total == 30 and job.done == 0
    assert not Mailbox.objects.filter(smtp_enabled=False).exists()
    page = admin_client.get(response["Location"]).content.decode()
    assert 'hx-trigger="every 1s"' in page
    bulk_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == "done" and job.done == 30 and job.changed == 30
    assert Mailbox.objects.filter(smtp_enabled=False).count() == 30
    assert AuditEvent.objects.filter(action="account_update").count() == 30
    summary = AuditEvent.objects.get(action="bulk_update")
    assert summary.data["changed"] == 30 and summary.data["job"] == str(job.pk)
    fragment = admin_client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and 'value="100"' in fragment


def test_interrupted_job_leaves_accounts_done_or_untouched_and_resumes(
    admin_client, org, settings, django_capture_on_commit_callbacks, monkeypatch
):
    import accounts.bulk as bulk

    make_many(org, 30)
    _response, job = start_job(admin_client, org, settings, django_capture_on_commit_callbacks)
    monkeypatch.setattr(bulk, "CHUNK_SIZE", 10)
    real = bulk.bulk_apply_chunk
    calls = {"n": 0}

    def dies_in_second_chunk(**kwargs):
        calls["n"] += 1
        real(**kwargs)  # the chunk's rows are written …
        if calls["n"] == 2:
            raise RuntimeError("worker killed")  # … and rolled back with it

    monkeypatch.setattr(bulk, "bulk_apply_chunk", dies_in_second_chunk)
    with pytest.raises(RuntimeError):
        bulk.bulk_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.done == 10
    off = set(Mailbox.objects.filter(smtp_enabled=False).values_list("account_id", flat=True))
    assert off == set(job.account_ids[:10])
    events = AuditEvent.objects.filter(action="account_update")
    assert set(events.values_list("target_id", flat=True)) == off

    # Run again (as a retry would): it resumes after the finished chunk.
    monkeypatch.setattr(bulk, "bulk_apply_chunk", real)
    bulk.BulkJob.objects.filter(pk=job.pk).update(status="running")
    bulk.bulk_job_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert job.status == "done" and job.changed == 30
    assert Mailbox.objects.filter(smtp_enabled=False).count() == 30
    assert AuditEvent.objects.filter(action="account_update").count() == 30


def test_other_office_cannot_see_a_job(
    client, org, other, settings, django_capture_on_commit_callbacks
):
    make_many(org, 30)
    client.force_login(org.admin)
    response, job = start_job(client, org, settings, django_capture_on_commit_callbacks)
    client.force_login(other.admin)
    assert client.get(response["Location"]).status_code == 404
    url = reverse("mail_bulk_job", args=[other.office.domain, job.pk])
    assert client.get(url).status_code == 404


def test_a_bulk_quota_change_reaches_the_mail_servers_after_the_commit(
    admin_client, org, settings, django_capture_on_commit_callbacks
):
    from tests.accounts.test_user_admin import RecordingMailStore

    settings.MAIL_STORE = "tests.accounts.test_user_admin.RecordingMailStore"
    RecordingMailStore.refreshed = []
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        admin_client.post(
            bulk_url(org),
            {
                "action": "set_quota",
                "quota": "2 GB",
                "scope": "selected",
                "ids": [org.kim.login_id, org.lee.login_id],
                "confirm": "1",
                "expected": "2",
            },
        )
    assert RecordingMailStore.refreshed == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert sorted(RecordingMailStore.refreshed) == sorted([org.kim.login_id, org.lee.login_id])
