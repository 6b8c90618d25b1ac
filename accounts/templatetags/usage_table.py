"""The usage list's rows, rendered in Python.

Fifty to a hundred rows of a dozen cells through the template engine cost
tens of milliseconds (every ``{{ }}`` is a lookup chain, every ``{% url %}``
a reverse, every ``{% translate %}`` a catalogue lookup); here the labels
are translated and the URL prefix reversed once per page, and each row is
one f-string of escaped values -- the same markup the template had.
"""

from __future__ import annotations

from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from accounts.formatting import human_bytes, human_quota
from accounts.models import Account, Mailbox

register = template.Library()

# What reverse() leaves unquoted in a path segment.
_SAFE = "!$&'()*+,;=/~:@"


def _labels() -> dict[str, str]:
    kinds = {key: escape(label) for key, label in Account.Kind.choices}
    return {
        "kinds": kinds,
        "statuses": {key: escape(label) for key, label in Account.Status.choices},
        "sub": escape(_("Sub")),
        "sub_hidden": escape(_("sub-account")),
        "settings": escape(_("Sub-account settings")),
        "not_for": {
            key: escape(_("Not for %(kind)s") % {"kind": label})
            for key, label in Account.Kind.choices
        },
        "empty": escape(_("Empty")),
        "on": escape(_("On")),
        "off": escape(_("Off")),
        "no_access": escape(_("No access in the last 3 months")),
    }


@register.simple_tag(takes_context=True)
def usage_rows(context, rows) -> str:
    request = context["request"]
    office = context["office"]
    base = reverse("mail_accounts", args=[office.domain])
    next_param = escape(quote(request.get_full_path(), safe="/"))  # as |urlencode
    text = _labels()
    zone = timezone.get_current_timezone()
    protocols = dict(Mailbox.Protocol.choices)
    out = []
    for account in rows:
        mailbox = account.mailbox
        login_id = escape(account.login_id)
        name = escape(account.name)
        url = escape(base + quote(account.login_id, safe=_SAFE) + "/")
        kind_badge = (
            f'<span class="badge badge--kind">{text["kinds"].get(account.kind, "")}</span>'
            if account.kind != Account.Kind.USER
            else ""
        )
        addresses = "".join(
            f'<li class="address-list__sub"><span class="address-list__tag">{text["sub"]}'
            f'<span class="visually-hidden"> {text["sub_hidden"]}</span></span> '
            f"{escape(address)}</li>"
            for address in account.subaccount_addresses
        )
        refusal = account.subaccount_refusal()
        if refusal is None:
            settings_cell = (
                f'<a class="btn btn--small" href="{url}subaccounts/" '
                f'hx-get="{url}subaccounts/" hx-target="#modal-body">{text["settings"]}'
                f'<span class="visually-hidden"> {name}</span></a>'
            )
        else:
            settings_cell = (
                f'<button type="button" class="btn btn--small" disabled title="{escape(refusal.label)}" '
                f'aria-describedby="no-sub-{account.pk}">{text["settings"]}</button>'
                f'<span class="cell-note" id="no-sub-{account.pk}">'
                f"{text['not_for'].get(account.kind, '')}</span>"
            )
        quota = mailbox.quota_bytes
        usage = (
            f'<span class="usage-cell__numbers num"><span class="usage-cell__used">'
            f"{escape(human_bytes(mailbox.used_bytes))}</span> "
            f'<span class="usage-cell__quota">/ {escape(human_quota(quota))}</span></span>'
        )
        if quota:
            share = mailbox.used_bytes * 100 / quota
            usage += (
                f'<span class="usage-cell__bar"><meter class="usage-meter" min="0" max="100" '
                f'low="80" high="95" optimum="0" value="{share:.2f}" aria-hidden="true"></meter>'
                f'<span class="usage-cell__share num">{share:.1f}%</span></span>'
            )
        pop3 = mailbox.pop3_enabled
        smtp = mailbox.smtp_enabled
        active = account.status == Account.Status.ACTIVE
        recent = account.recent_access_at
        if recent is not None:
            local = timezone.localtime(recent, zone)
            protocol = mailbox.last_access_protocol
            access = (
                f'<time datetime="{local.isoformat()}">{local:%Y-%m-%d}<br>{local:%H:%M}</time>'
                + (
                    f'<span class="muted">{escape(protocols.get(protocol, protocol))}</span>'
                    if protocol
                    else ""
                )
            )
        else:
            access = (
                '<span class="muted" aria-hidden="true">–</span>'
                f'<span class="visually-hidden">{text["no_access"]}</span>'
            )
        out.append(
            f'<tr data-login-id="{login_id}">'
            f'<th scope="row" class="usage-table__name"><a href="{url}" hx-get="{url}" '
            f'hx-target="#detail-pane" hx-swap="innerHTML" class="js-detail-link">{name}</a>'
            f"{kind_badge}</th>"
            f'<td class="usage-table__id">{login_id}</td>'
            f'<td class="usage-table__email"><ul class="address-list">'
            f"<li>{escape(account.email)}</li>{addresses}</ul></td>"
            f"<td>{settings_cell}</td>"
            f'<td class="usage-cell">{usage}</td>'
            f'<td><a class="btn btn--small btn--danger" href="{url}empty/?next={next_param}" '
            f'hx-get="{url}empty/" hx-target="#modal-body">{text["empty"]}'
            f'<span class="visually-hidden"> {name}</span></a></td>'
            f'<td class="usage-table__protocols">'
            f'<span class="badge {"badge--ok" if pop3 else "badge--off"}">POP3 '
            f"{text['on'] if pop3 else text['off']}</span> "
            f'<span class="badge {"badge--ok" if smtp else "badge--off"}">SMTP '
            f"{text['on'] if smtp else text['off']}</span></td>"
            f'<td><span class="badge {"badge--ok" if active else "badge--warn"}">'
            f"{text['statuses'].get(account.status, '')}</span></td>"
            f'<td class="usage-table__access num">{access}</td>'
            "</tr>\n"
        )
    return mark_safe("".join(out))  # noqa: S308 -- every value above is escaped
