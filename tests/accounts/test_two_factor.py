"""Two-factor sign-in for admins: setting up from the security page, the
third sign-in step (app code or single-use recovery code), wrong codes
counting towards both locks, the office rule and a super admin's reset."""

from __future__ import annotations

import re
from binascii import unhexlify

import pyotp
import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts import two_factor
from accounts.models import AuditEvent
from tests.factories import PASSWORD, make_account
from tests.html_checks import csp_problems

pytestmark = pytest.mark.django_db


def security_url(org):
    return reverse("two_factor", args=[org.office.domain])


def totp_for(client) -> pyotp.TOTP:
    key = client.session[two_factor.SETUP_SESSION_KEY]
    import base64

    return pyotp.TOTP(base64.b32encode(unhexlify(key)).decode())


def set_up(client, org) -> tuple[pyotp.TOTP, list[str]]:
    page = client.get(security_url(org))
    assert page.status_code == 200
    totp = totp_for(client)
    response = client.post(security_url(org), {"action": "setup", "code": totp.now()})
    assert response.status_code == 200
    codes = re.findall(
        r"<li><code translate=\"no\">([a-z0-9]{5}-[a-z0-9]{5})</code></li>",
        response.content.decode(),
    )
    assert len(codes) == 10
    return totp, codes


def password_step(client, org, login_id="admin", password=PASSWORD, ip="203.0.113.7"):
    url = reverse("login", args=[org.office.domain])
    return client.post(url, {"login_id": login_id, "password": password}, REMOTE_ADDR=ip)


def code_step(client, org, code, ip="203.0.113.7"):
    url = reverse("login", args=[org.office.domain])
    return client.post(url, {"code": code}, REMOTE_ADDR=ip)


@pytest.fixture(autouse=True)
def clock():
    """Time stands still unless a test moves it: an app code is good once,
    so each use of one is followed by a step of 30 seconds."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def enrolled(client, org, clock):
    client.force_login(org.admin)
    totp, codes = set_up(client, org)
    client.logout()
    clock.shift(30)
    return totp, codes


def test_the_setup_page_shows_an_inline_svg_qr_code_and_the_key(admin_client, org):
    body = admin_client.get(security_url(org)).content.decode()
    assert "<svg" in body and "<img" not in body.split("two-factor__qr", 1)[1].split("</div>")[0]
    assert csp_problems(body) == []
    assert re.search(r'id="two-factor-secret" translate="no">([A-Z2-7]{4} ){7}[A-Z2-7]{4}<', body)
    # Nothing is saved until the first right code.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    assert not TOTPDevice.objects.exists()


def test_a_wrong_first_code_sets_nothing_up(admin_client, org):
    admin_client.get(security_url(org))
    response = admin_client.post(security_url(org), {"action": "setup", "code": "000000"})
    assert response.status_code == 400
    assert not two_factor.has_two_factor(org.admin)


def test_setting_up_is_audited(enrolled, org):
    assert AuditEvent.objects.filter(action="two_factor_enabled", target=org.admin).count() == 1


def test_sign_in_takes_the_code_as_a_third_step(client, org, enrolled):
    totp, _ = enrolled
    response = password_step(client, org)
    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()
    assert "_auth_user_id" not in client.session
    response = code_step(client, org, totp.now())
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(org.admin.pk)
    event = AuditEvent.objects.filter(action="login").latest("pk")
    assert event.data == {"second_factor": "totp"}


def test_a_wrong_code_is_refused(client, org, enrolled):
    password_step(client, org)
    response = code_step(client, org, "123456")
    assert response.status_code == 200
    body = response.content.decode()
    assert "코드가 올바르지 않습니다" in body or "The code is incorrect" in body
    assert "_auth_user_id" not in client.session


def test_the_code_step_needs_the_password_step_first(client, org, enrolled):
    totp, _ = enrolled
    response = code_step(client, org, totp.now())
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


def test_a_recovery_code_works_once(client, org, enrolled):
    _, codes = enrolled
    password_step(client, org)
    assert code_step(client, org, codes[0].upper()).status_code == 302
    client.logout()
    password_step(client, org)
    assert code_step(client, org, codes[0]).status_code == 200
    assert "_auth_user_id" not in client.session
    assert code_step(client, org, codes[1].replace("-", " ")).status_code == 302


def test_an_app_code_is_used_once(client, org, enrolled):
    totp, _ = enrolled
    password_step(client, org)
    code = totp.now()
    assert code_step(client, org, code).status_code == 302
    client.logout()
    password_step(client, org)
    assert code_step(client, org, code).status_code == 200


def test_wrong_codes_count_towards_the_id_lock(client, org, enrolled):
    totp, _ = enrolled
    password_step(client, org)
    responses = [code_step(client, org, f"00000{n}") for n in range(5)]
    assert [r.status_code for r in responses] == [200] * 4 + [429]
    # Locked: even the right password and code are refused now.
    assert password_step(client, org).status_code == 429
    assert AuditEvent.objects.filter(action="login_locked", target=org.admin).count() == 1


def test_wrong_codes_count_towards_the_ip_lock(client, org, enrolled, settings):
    settings.LOGIN_IP_FAILURE_LIMIT = 3
    password_step(client, org)
    code_step(client, org, "000001")
    code_step(client, org, "000002")
    assert code_step(client, org, "000003").status_code == 429
    assert password_step(client, org, "minjun.kim").status_code == 429


def test_admins_without_it_are_not_asked_for_a_code(client, org):
    response = password_step(client, org)
    assert response.status_code == 302


def test_the_office_rule_sends_admins_without_it_to_set_it_up(client, org, other):
    from accounts.models import Office

    Office.objects.filter(pk=org.office.pk).update(require_two_factor=True)
    response = password_step(client, org)
    assert response.status_code == 302
    assert response["Location"] == security_url(org)
    # every other console page sends there too, htmx ones included
    usage = reverse("mail_accounts", args=[org.office.domain])
    assert client.get(usage)["Location"] == security_url(org)
    assert client.get(usage, HTTP_HX_REQUEST="true")["HX-Redirect"] == security_url(org)
    assert client.get(security_url(org)).status_code == 200
    # the other office is unaffected
    client.force_login(other.admin)
    assert client.get(reverse("mail_accounts", args=[other.office.domain])).status_code == 200


def test_only_an_enrolled_admin_may_require_it_and_it_is_audited(admin_client, org):
    admin_client.post(security_url(org), {"action": "policy", "required": "1"})
    org.office.refresh_from_db()
    assert not org.office.require_two_factor
    set_up(admin_client, org)
    admin_client.post(security_url(org), {"action": "policy", "required": "1"})
    org.office.refresh_from_db()
    assert org.office.require_two_factor
    assert AuditEvent.objects.get(action="two_factor_policy").data == {"required": True}
    # and while it is required, it cannot be turned off
    body = admin_client.get(security_url(org)).content.decode()
    assert 'value="disable"' not in body


def test_turning_it_off_takes_a_code(admin_client, org, clock):
    totp, _ = set_up(admin_client, org)
    clock.shift(30)
    response = admin_client.post(security_url(org), {"action": "disable", "code": "000000"})
    assert response.status_code == 400 and two_factor.has_two_factor(org.admin)
    admin_client.post(security_url(org), {"action": "disable", "code": totp.now()})
    assert not two_factor.has_two_factor(org.admin)
    assert AuditEvent.objects.filter(action="two_factor_disabled").count() == 1


def test_new_recovery_codes_replace_the_old(client, org, enrolled):
    totp, old = enrolled
    client.force_login(org.admin)
    response = client.post(security_url(org), {"action": "codes", "code": totp.now()})
    assert response.status_code == 200
    new = re.findall(
        r"<li><code translate=\"no\">([a-z0-9]{5}-[a-z0-9]{5})</code></li>",
        response.content.decode(),
    )
    assert len(new) == 10 and not set(new) & set(old)
    client.logout()
    password_step(client, org)
    assert code_step(client, org, old[2]).status_code == 200
    assert code_step(client, org, new[2]).status_code == 302


def test_a_super_admin_resets_another_admins_second_factor(client, org, enrolled):
    from accounts.models import Account

    second = make_account(org.office, "admin2", "관리자2", role=Account.Role.SUPER_ADMIN)
    client.force_login(second)
    detail = reverse("user_detail", args=[org.office.domain, "admin"])
    assert "user-two-factor" in client.get(detail).content.decode()
    response = client.post(reverse("two_factor_reset", args=[org.office.domain, "admin"]))
    assert response.status_code == 302 and response["Location"] == detail
    assert not two_factor.has_two_factor(org.admin)
    event = AuditEvent.objects.get(action="two_factor_reset")
    assert event.actor == second and event.target == org.admin
    client.logout()
    assert password_step(client, org).status_code == 302  # password alone again


def test_ones_own_factor_is_not_reset_from_the_user_page(client, org, enrolled):
    client.force_login(org.admin)
    client.post(reverse("two_factor_reset", args=[org.office.domain, "admin"]))
    assert two_factor.has_two_factor(org.admin)


def test_an_ordinary_account_cannot_reach_any_of_it(user_client, org):
    assert user_client.get(security_url(org)).status_code == 403
    url = reverse("two_factor_reset", args=[org.office.domain, "admin"])
    assert user_client.post(url).status_code == 403


def test_the_command_line_reset_for_a_lone_admin(client, org, enrolled):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("two_factor_reset", "Admin@gabiaedu.com", stdout=out)
    assert "removed" in out.getvalue()
    assert not two_factor.has_two_factor(org.admin)
    event = AuditEvent.objects.get(action="two_factor_reset")
    assert event.actor is None and event.target == org.admin
    assert password_step(client, org).status_code == 302
