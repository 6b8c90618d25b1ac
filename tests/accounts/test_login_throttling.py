"""Login throttling (SPEC F1, N4): five failures for one ID of one office
from one address lock that pair out for the cool-off period."""

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

LOCKED = "Too many failed login attempts"
LOCKED_KO = "로그인 시도가 너무 많"


def attempt(client, login_id, password, ip="203.0.113.7", domain="gabiaedu.com"):
    return client.post(
        reverse("login", args=[domain]),
        {"login_id": login_id, "password": password},
        REMOTE_ADDR=ip,
    )


def is_locked_page(response):
    body = response.content.decode()
    return response.status_code == 429 and (LOCKED in body or LOCKED_KO in body)


def fail_five_times(client, login_id="admin", **kwargs):
    responses = [attempt(client, login_id, f"wrong {n}", **kwargs) for n in range(5)]
    assert [r.status_code for r in responses[:4]] == [200] * 4
    return responses[-1]


def test_fifth_failure_locks_and_sixth_is_refused_even_with_the_right_password(client, org):
    fifth = fail_five_times(client)
    assert is_locked_page(fifth)
    sixth = attempt(client, "admin", PASSWORD)
    assert is_locked_page(sixth)
    assert "_auth_user_id" not in client.session
    # The refusal is the password step with the message, in Korean first.
    body = sixth.content.decode()
    assert LOCKED_KO in body and 'name="password"' in body and 'role="alert"' in body


def test_lockout_message_says_how_long_in_english_too(client, org):
    client.cookies["mailadmin_language"] = "en"
    body = fail_five_times(client).content.decode()
    assert "blocked for 15 more minutes" in body


def test_other_address_and_other_id_are_not_affected(client, org):
    fail_five_times(client)
    assert attempt(client, "admin", PASSWORD, ip="198.51.100.1").status_code == 302
    client.logout()
    assert attempt(client, "minjun.kim", PASSWORD).status_code == 302


def test_same_id_of_another_office_is_not_affected(client, org, other):
    fail_five_times(client)
    assert attempt(client, "admin", PASSWORD, domain="other.co.kr").status_code == 302


def test_full_address_and_bare_id_count_as_one_id(client, org):
    for n in range(3):
        attempt(client, "admin", f"wrong {n}")
    attempt(client, "ADMIN@gabiaedu.com", "wrong 3")
    assert is_locked_page(attempt(client, "Admin", "wrong 4"))


def test_unknown_ids_are_throttled_the_same_way(client, org):
    # Otherwise the lockout itself would reveal which IDs exist.
    assert is_locked_page(fail_five_times(client, "nobody"))
    assert AuditEvent.objects.filter(action="login_locked", target_label="nobody").count() == 1


def test_lockout_ends_after_the_cool_off(client, org):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail_five_times(client)
        clock.shift(timedelta(minutes=14))
        response = attempt(client, "admin", PASSWORD)
        assert is_locked_page(response)
        assert "1 more minute" in response.content.decode() or "1분" in (response.content.decode())
        clock.shift(timedelta(minutes=1, seconds=1))
        assert attempt(client, "admin", PASSWORD).status_code == 302


def test_refused_attempts_do_not_extend_the_cool_off(client, org):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail_five_times(client)
        for _ in range(3):
            clock.shift(timedelta(minutes=5))
            attempt(client, "admin", "wrong again")
        clock.shift(timedelta(seconds=1))
        assert attempt(client, "admin", PASSWORD).status_code == 302


def test_failures_spread_beyond_the_window_do_not_lock(client, org):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for n in range(4):
            attempt(client, "admin", f"wrong {n}")
        clock.shift(timedelta(minutes=16))
        assert attempt(client, "admin", "wrong 4").status_code == 200
        assert attempt(client, "admin", PASSWORD).status_code == 302


def test_success_resets_the_count(client, org):
    for n in range(4):
        attempt(client, "admin", f"wrong {n}")
    assert attempt(client, "admin", PASSWORD).status_code == 302
    client.logout()
    for n in range(4):
        assert attempt(client, "admin", f"again {n}").status_code == 200


def test_admin_failures_and_one_event_per_lockout_are_audited(client, org):
    fail_five_times(client)
    attempt(client, "admin", PASSWORD)
    attempt(client, "admin", "wrong")
    failed = AuditEvent.objects.filter(office=org.office, action="login_failed")
    locked = AuditEvent.objects.filter(office=org.office, action="login_locked")
    assert failed.count() == 5
    assert locked.count() == 1
    event = locked.get()
    assert event.target == org.admin
    assert event.ip == "203.0.113.7"
    assert event.data == {"failures": 5, "cooloff_minutes": 15}


def test_ordinary_user_lockout_is_audited_but_not_their_failures(client, org):
    fail_five_times(client, "minjun.kim")
    assert not AuditEvent.objects.filter(action="login_failed").exists()
    assert AuditEvent.objects.get(action="login_locked").target == org.kim


def test_a_second_lockout_after_the_cool_off_is_audited_again(client, org):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fail_five_times(client)
        clock.shift(timedelta(minutes=16))
        fail_five_times(client)
    assert AuditEvent.objects.filter(action="login_locked").count() == 2


def test_spoofed_forwarded_for_header_does_not_dodge_the_lockout(client, org):
    for n in range(5):
        client.post(
            reverse("login", args=["gabiaedu.com"]),
            {"login_id": "admin", "password": f"wrong {n}"},
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )
    assert is_locked_page(attempt(client, "admin", PASSWORD))


# Per IP, beside the per-ID lock: spraying one password over many IDs.


def spray(client, count, ip="203.0.113.7", prefix="guess"):
    """``count`` failures from ``ip``, each on a different made-up ID (never
    reaching an ID's own limit)."""
    return [attempt(client, f"{prefix}{n}", "Spring2026!", ip=ip) for n in range(count)]


def test_thirty_failures_from_one_ip_over_many_ids_lock_the_ip(client, org, other, settings):
    assert settings.LOGIN_IP_FAILURE_LIMIT == 30
    responses = spray(client, 29)
    assert [r.status_code for r in responses] == [200] * 29
    assert is_locked_page(attempt(client, "minjun.kim", "wrong"))
    # Now every ID, real or not, of any office, is refused from that IP, even
    # with the right password, with the same message.
    for login_id, domain in [
        ("admin", "gabiaedu.com"),
        ("admin", "other.co.kr"),
        ("x", "gabiaedu.com"),
    ]:
        assert is_locked_page(attempt(client, login_id, PASSWORD, domain=domain))
    assert "_auth_user_id" not in client.session
    # Another IP is not affected.
    assert attempt(client, "admin", PASSWORD, ip="198.51.100.1").status_code == 302


def test_failures_on_real_ids_count_towards_the_ip_too(client, org, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 6
    for login_id in ["admin", "minjun.kim", "seoyeon.lee"]:
        attempt(client, login_id, "wrong 1")
        attempt(client, login_id, "wrong 2")
    assert is_locked_page(attempt(client, "help", PASSWORD))


def test_ip_lock_ends_after_its_cool_off_and_says_how_long(client, org, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    with time_machine.travel(timezone.now(), tick=False) as clock:
        spray(client, 3)
        clock.shift(timedelta(minutes=10))
        response = attempt(client, "admin", PASSWORD)
        assert is_locked_page(response)
        body = response.content.decode()
        assert "5분" in body or "5 more minutes" in body
        clock.shift(timedelta(minutes=5, seconds=1))
        assert attempt(client, "admin", PASSWORD).status_code == 302


def test_ip_failures_spread_beyond_the_window_do_not_lock(client, org, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    with time_machine.travel(timezone.now(), tick=False) as clock:
        spray(client, 2)
        clock.shift(timedelta(minutes=16))
        spray(client, 2, prefix="later")
        assert attempt(client, "admin", PASSWORD).status_code == 302


def test_the_ip_lock_is_audited_once(client, org, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    spray(client, 3)
    attempt(client, "admin", "wrong")
    event = AuditEvent.objects.get(action="login_locked")
    assert event.data == {"failures": 3, "cooloff_minutes": 15}
    assert event.ip == "203.0.113.7"


def test_made_up_ids_add_no_row_each(client, org):
    from axes.models import AccessAttempt

    from accounts.models import LoginThrottle

    spray(client, 25)
    spray(client, 3, ip="198.51.100.9")
    assert not AccessAttempt.objects.exists()
    assert LoginThrottle.objects.count() == 2
    # A real ID still gets its django-axes row (one per ID + IP).
    attempt(client, "admin", "wrong")
    assert AccessAttempt.objects.count() == 1


def test_a_made_up_id_locks_exactly_like_a_real_one(client, org):
    """Five failures on one made-up ID lock it, not its neighbours: the lock
    must not tell made-up IDs from real ones."""
    assert is_locked_page(fail_five_times(client, "nobody"))
    assert attempt(client, "nobody2", "wrong").status_code == 200
    assert is_locked_page(attempt(client, "nobody", PASSWORD))
    with time_machine.travel(timezone.now() + timedelta(minutes=15, seconds=1)):
        assert attempt(client, "nobody", "wrong").status_code == 200
