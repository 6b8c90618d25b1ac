"""A big [목록 다운로드] runs in a real background worker process while the
page shows its progress (issue 7)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from devtools.bench import child_env
from tests.browser.conftest import login
from tests.factories import PASSWORD, make_account

SHOTS = Path("test-results")
USAGE = "/gabiaedu.com/manage/mail/accounts/"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAILADMIN_EXPORT_BACKGROUND_ROWS = 5
    return settings.MEDIA_ROOT


@pytest.fixture
def worker(transactional_db, media):
    """`manage.py db_worker` in its own process, on the test database, with
    progress saved every 5 rows and a pause after each chunk so the page
    can be seen half way."""
    process = subprocess.Popen(
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
            MAILADMIN_EXPORT_CHUNK_PAUSE="0.6",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture
def crowd(office_data):
    for n in range(40):
        make_account(office_data.office, f"crowd{n:02d}", f"군중{n:02d}", password=None)
    return office_data


def progress_value(page) -> float:
    return float(page.locator("#export-progress-bar").get_attribute("value"))


def test_big_download_shows_progress_then_the_file_that_matches_the_list(
    page, live_server, crowd, worker, console_errors, tmp_path
):
    SHOTS.mkdir(exist_ok=True)
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(live_server.url + USAGE + "?q=crowd&sort=-login_id&per_page=100")
    listed = page.locator("#account-table tbody .usage-table__id").all_inner_texts()
    assert len(listed) == 40

    page.locator("#usage-download").click()  # no `download` attribute: a page
    expect(page.get_by_role("heading", name="목록 다운로드")).to_be_visible()
    assert "/manage/mail/accounts/exports/" in page.url

    # Half way: strictly between 0 and 100, as the worker writes.
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        seen.append(progress_value(page))
        if 0 < seen[-1] < 100:
            break
        page.wait_for_timeout(200)
    assert any(0 < value < 100 for value in seen), (seen, worker.poll())
    page.screenshot(path=str(SHOTS / "export-progress.png"), full_page=True)

    expect(page.locator("#export-progress-bar")).to_have_attribute("value", "100", timeout=60_000)
    link = page.get_by_role("link", name="파일 받기")
    expect(link).to_be_visible()
    page.screenshot(path=str(SHOTS / "export-ready.png"), full_page=True)
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.startswith("mail-usage_gabiaedu.com_")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    sheet = openpyxl.load_workbook(path).active
    exported = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert exported == listed
