"""Two-factor sign-in for admins (django-otp).

An admin sets up an authenticator app (TOTP) from their own security page
and gets ten single-use recovery codes; from then on signing in takes a
third step, a code from the app or one recovery code. An office can require
it of every admin. Setting up never writes a device before the first right
code: the new secret waits in the session, so an abandoned set-up leaves
nothing behind. The QR code is an SVG drawn here (segno), inline in the
page, so nothing is loaded from elsewhere and the CSP holds.
"""

from __future__ import annotations

import secrets
import time
from base64 import b32encode
from binascii import unhexlify

import segno
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from accounts import audit
from accounts.models import Account, AuditEvent

RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: the codes are typed from paper.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
SETUP_SESSION_KEY = "two_factor_setup_key"


def has_two_factor(account: Account) -> bool:
    return TOTPDevice.objects.filter(user=account, confirmed=True).exists()


def normalise(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def setup_key(session) -> str:
    """The secret being set up in this session (made on first use)."""
    key = session.get(SETUP_SESSION_KEY)
    if not isinstance(key, str) or len(key) != 40:
        key = default_key()
        session[SETUP_SESSION_KEY] = key
    return key


def setup_device(account: Account, key: str) -> TOTPDevice:
    """The device being set up, unsaved (for its otpauth URL)."""
    return TOTPDevice(user=account, key=key, name="authenticator", confirmed=False)


def secret_text(key: str) -> str:
    """The secret as typed into an app by hand: base32 in groups of four."""
    text = b32encode(unhexlify(key.encode())).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_svg(url: str) -> str:
    """The otpauth URL as an inline SVG: one path, no style attribute."""
    return segno.make(url, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff")


def _right_totp(key: str, code: str) -> int | None:
    """The time step ``code`` is right for (one step of clock skew either
    way), or None."""
    if not code.isdigit() or len(code) != 6:
        return None
    totp = TOTP(unhexlify(key.encode()))
    totp.time = time.time()
    if totp.verify(int(code), tolerance=1):
        return totp.t()
    return None


def _recovery_codes(account: Account) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(user=account, name="recovery")
    device.token_set.all().delete()
    codes = ["".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10)) for _ in range(10)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return [f"{code[:5]}-{code[5:]}" for code in codes]


@transaction.atomic
def setup_confirm(*, account: Account, key: str, code: str, ip: str | None) -> list[str] | None:
    """Finish setting up with the first code from the app: the device is
    saved and ten recovery codes made (returned, to be shown once). None
    when the code is wrong."""
    step = _right_totp(key, normalise(code))
    if step is None:
        return None
    TOTPDevice.objects.filter(user=account).delete()
    TOTPDevice.objects.create(
        user=account, key=key, name="authenticator", confirmed=True, last_t=step
    )
    codes = _recovery_codes(account)
    audit.record(
        office=account.office,
        action=AuditEvent.Action.TWO_FACTOR_ENABLED,
        actor=account,
        target=account,
        ip=ip,
    )
    return codes


@transaction.atomic
def recovery_codes_renew(*, account: Account, ip: str | None) -> list[str]:
    codes = _recovery_codes(account)
    audit.record(
        office=account.office,
        action=AuditEvent.Action.TWO_FACTOR_CODES,
        actor=account,
        target=account,
        ip=ip,
    )
    return codes


def verify(account: Account, code: str) -> str | None:
    """Checks a sign-in code: "totp" for the app's (each used once: the
    device remembers the last step), "recovery" for a recovery code (deleted
    as it is used), None for neither."""
    code = normalise(code)
    if not code or len(code) > 16:
        return None
    if code.isdigit():
        device = TOTPDevice.objects.filter(user=account, confirmed=True).first()
        if device is not None and device.verify_token(code):
            return "totp"
        return None
    with transaction.atomic():
        device = StaticDevice.objects.select_for_update().filter(user=account).first()
        if device is not None and device.verify_token(code):
            return "recovery"
    return None


@transaction.atomic
def two_factor_remove(
    *,
    actor: Account | None,
    account: Account,
    ip: str | None,
    action: str = AuditEvent.Action.TWO_FACTOR_DISABLED,
) -> bool:
    """Remove the account's second factor (the app and recovery codes);
    audited. False when it had none."""
    removed, _ = TOTPDevice.objects.filter(user=account).delete()
    StaticDevice.objects.filter(user=account).delete()
    if not removed:
        return False
    audit.record(office=account.office, action=action, actor=actor, target=account, ip=ip)
    return True


@transaction.atomic
def policy_set(*, actor: Account, required: bool, ip: str | None) -> None:
    office = actor.office
    if office.require_two_factor == required:
        return
    office.require_two_factor = required
    office.save(update_fields=["require_two_factor"])
    audit.record(
        office=office,
        action=AuditEvent.Action.TWO_FACTOR_POLICY,
        actor=actor,
        data={"required": required},
        ip=ip,
    )
