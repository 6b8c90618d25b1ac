"""No browser or proxy keeps a copy of what the console shows: every
signed-in page, fragment, redirect and download says
``Cache-Control: private, no-store`` (so do the signed-out sign-in pages)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.export_jobs import export_job_run
from accounts.models import ExportJob
from tests.walk import all_routes, identifiers, populate, url_for

pytestmark = pytest.mark.django_db

ROUTES = all_routes()


def assert_no_store(response, what: str) -> None:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    assert {"no-store", "private"} <= directives, f"{what}: {response.get('Cache-Control')!r}"
    assert "public" not in directives, what


@pytest.fixture
def admin(org):
    populate(org)
    client = Client()
    client.force_login(org.admin)
    client.org = org
    return client


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_signed_in_answer_is_no_store(admin, route):
    url = url_for(route, identifiers(admin.org))
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = admin.get(url, **extra)
        assert response.status_code < 500
        assert_no_store(response, f"GET {url} {extra}")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_signed_out_answers_are_no_store_too(client, org, route):
    url = url_for(route, {"domain": org.office.domain, **identifiers(populate(org))})
    assert_no_store(client.get(url), f"GET {url}")


def test_downloads_are_no_store(admin, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    domain = admin.org.office.domain
    for name in ("mail_accounts_export", "audit_export"):
        response = admin.get(reverse(name, args=[domain]))
        assert response["Content-Disposition"].startswith("attachment")
        assert_no_store(response, name)
    job = ExportJob.objects.create(
        office=admin.org.office,
        requested_by=admin.org.admin,
        total=1,
        expires=timezone.now() + dt.timedelta(days=1),
    )
    export_job_run(job_id=str(job.pk))
    response = admin.get(reverse("mail_export_download", args=[domain, job.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert_no_store(response, "background export download")


def test_the_sign_in_answer_is_no_store(client, org):
    org.admin.set_password("correct horse battery")
    org.admin.save()
    response = client.post(
        reverse("login", args=[org.office.domain]),
        {"login_id": "admin", "password": "correct horse battery"},
    )
    assert response.status_code == 302
    assert_no_store(response, "sign-in redirect")
