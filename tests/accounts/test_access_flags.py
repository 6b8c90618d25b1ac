"""Flagged POP3/SMTP sign-ins: a new country, abroad, a burst of failures;
never a private address; the list's badge, its access=flagged filter (count,
rows, export) and one audit event per occurrence."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest
import time_machine
from django.utils import translation

from accounts.importers import import_access_log
from accounts.models import AccessFlag, AccessLog, AuditEvent, Mailbox

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=SEOUL)
LIST = "/gabiaedu.com/manage/mail/accounts/"
KR, JP, US = "211.234.10.20", "133.242.1.2", "8.8.4.4"


def login(user: str, at: dt.datetime, ip: str, *, ok: bool = True, session: str = "") -> str:
    stamp = at.isoformat()
    if ok:
        return (
            f"{stamp} mail dovecot: pop3-login: Login: user=<{user}>, method=PLAIN, "
            f"rip={ip}, lip=10.0.0.5, session=<{session or at.strftime('%H%M%S') + ip}>"
        )
    return (
        f"{stamp} mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in 2 secs): "
        f"user=<{user}>, method=PLAIN, rip={ip}, lip=10.0.0.5"
    )


def kst(day, hour, minute=0, second=0):
    return dt.datetime(2025, 3, day, hour, minute, second, tzinfo=SEOUL)


def run(office, lines):
    with time_machine.travel(NOW, tick=False):
        return import_access_log(office=office, lines=lines, now=NOW)


def flagged_events(account):
    return list(
        AuditEvent.objects.filter(action=AuditEvent.Action.ACCESS_FLAGGED, target=account)
        .order_by("at")
        .values_list("data", flat=True)
    )


def test_a_new_country_is_flagged_once_then_abroad_without_new_events(org):
    run(org.office, [login("minjun.kim", kst(10, 9), KR), login("minjun.kim", kst(11, 9), KR)])
    assert not AccessLog.objects.exclude(flag="").exists()

    stats = run(
        org.office,
        [
            login("minjun.kim", kst(14, 9), JP),
            login("minjun.kim", kst(14, 9, 30), JP),
            login("minjun.kim", kst(14, 11), JP),  # the next hour: "abroad", same occurrence
        ],
    )

    flags = dict(AccessLog.objects.filter(account=org.kim).values_list("hour", "flag"))
    assert flags[kst(14, 9)] == "new_country" and flags[kst(14, 11)] == "foreign"
    assert flags[kst(10, 9)] == ""
    events = flagged_events(org.kim)
    assert len(events) == 1 and events[0]["flag"] == "new_country"
    assert events[0]["country"] == "JP" and events[0]["sign_in_ip"] == JP
    assert stats.flagged == {"new_country": 1}
    mailbox = Mailbox.objects.get(account=org.kim)
    assert (mailbox.access_flag, mailbox.access_flag_at) == ("foreign", kst(14, 11))
    # The countries the next import asks, without reading the history.
    assert mailbox.access_countries == {"KR": "2025-03-11", "JP": "2025-03-14"}


def test_sign_ins_from_a_known_home_country_or_a_private_address_never_flag(org):
    lines = [login("minjun.kim", kst(10, h), KR) for h in range(8, 12)]
    lines += [login("minjun.kim", kst(12, 9), "10.1.2.3"), login("minjun.kim", kst(12, 10), "::1")]
    # Even many failures from the office's own network are no attack.
    lines += [login("minjun.kim", kst(13, 9, m), "192.168.0.7", ok=False) for m in range(15)]

    run(org.office, lines)

    assert not AccessLog.objects.exclude(flag="").exists()
    assert flagged_events(org.kim) == []
    assert Mailbox.objects.get(account=org.kim).access_flag_at is None


def test_a_burst_of_failed_sign_ins_is_flagged_once(org):
    start = kst(14, 3)
    step = dt.timedelta(seconds=20)
    lines = [login("seoyeon.lee", start + step * n, US, ok=False) for n in range(9)]
    run(org.office, lines)
    assert flagged_events(org.lee) == []  # nine are not a burst

    # The next hourly import goes on with the burst.
    run(org.office, [login("seoyeon.lee", kst(14, 3, 3, 5 + s), US, ok=False) for s in range(5)])

    events = flagged_events(org.lee)
    assert len(events) == 1 and events[0]["flag"] == "burst"
    assert AccessLog.objects.filter(account=org.lee, flag="burst").exists()
    assert Mailbox.objects.get(account=org.lee).access_flag == "burst"


def test_failures_spread_over_more_than_ten_minutes_are_no_burst(org):
    run(org.office, [login("seoyeon.lee", kst(14, 3, m * 2), US, ok=False) for m in range(12)])
    assert flagged_events(org.lee) == []


def test_home_countries_are_an_office_setting(org):
    org.office.home_countries = "KR,JP"
    org.office.save()
    run(org.office, [login("minjun.kim", kst(10, 9), KR)])
    # JP is a home country now, but new for this account.
    run(org.office, [login("minjun.kim", kst(14, 9), JP), login("jiho.park", kst(14, 9), JP)])

    assert [e["flag"] for e in flagged_events(org.kim)] == ["new_country"]
    # Jiho had no known country yet: a home country teaches it, no flag.
    assert flagged_events(org.park) == []


def test_the_office_country_defaults_to_its_time_zones(org):
    assert org.office.home_country_codes() == {"KR"}
    org.office.time_zone = "Asia/Tokyo"
    assert org.office.home_country_codes() == {"JP"}


@pytest.fixture
def flagged_office(org):
    run(org.office, [login("minjun.kim", kst(10, 9), KR), login("minjun.kim", kst(14, 9), US)])
    run(org.office, [login("seoyeon.lee", kst(14, 9), KR)])
    return org


def test_the_list_shows_a_badge_and_filters_on_flagged_sign_ins(admin_client, flagged_office):
    with time_machine.travel(NOW, tick=False):
        everyone = admin_client.get(LIST)
        flagged = admin_client.get(LIST, {"access": "flagged"})

    assert 'data-flag="new_country"' in everyone.content.decode()
    assert flagged.context["page_obj"].paginator.count == 1
    assert [a.login_id for a in flagged.context["rows"]] == ["minjun.kim"]
    body = flagged.content.decode()
    assert 'data-flag="new_country"' in body
    assert '<option value="flagged" selected>' in body


def test_the_export_applies_the_filter_and_names_the_flag(admin_client, flagged_office):
    with time_machine.travel(NOW, tick=False):
        response = admin_client.get(LIST + "export.xlsx", {"access": "flagged"})
    content = b"".join(response.streaming_content)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2  # the header and the one flagged account
    assert rows[1][1] == "minjun.kim"
    with translation.override("ko"):
        assert rows[1][-2] == str(AccessFlag.NEW_COUNTRY.label)
    assert rows[1][-1] == dt.datetime(2025, 3, 14, 9, 0)


def test_an_admin_sets_the_home_countries_and_it_is_audited(admin_client, org):
    url = "/gabiaedu.com/manage/settings/"
    page = admin_client.get(url)
    assert 'name="home_countries"' in page.content.decode()

    refused = admin_client.post(url, {"section": "home_countries", "home_countries": "Korea"})
    assert refused.status_code == 400
    response = admin_client.post(url, {"section": "home_countries", "home_countries": "kr, jp"})

    assert response.status_code == 302
    org.office.refresh_from_db()
    assert org.office.home_countries == "KR,JP"
    assert org.office.home_country_codes() == {"KR", "JP"}
    event = AuditEvent.objects.get(action=AuditEvent.Action.OFFICE_SETTINGS)
    assert event.data == {"home_countries": {"before": "", "after": "KR,JP"}}
    # Emptied: back to the office's own country.
    admin_client.post(url, {"section": "home_countries", "home_countries": ""})
    org.office.refresh_from_db()
    assert org.office.home_countries is None and org.office.home_country_codes() == {"KR"}


def test_a_view_only_admin_cannot_change_the_home_countries(client, org):
    from accounts.models import Account

    org.lee.role = Account.Role.VIEWER
    org.lee.save()
    client.force_login(org.lee)
    response = client.post(
        "/gabiaedu.com/manage/settings/", {"section": "home_countries", "home_countries": "US"}
    )
    assert response.status_code in (400, 403)
    org.office.refresh_from_db()
    assert org.office.home_countries is None
