"""``manage.py maillog_sample --domain D [--date YYYY-MM-DD] [--days N] > mail.log``:
an office's Dovecot/Postfix log at the rate real mail clients make
(:mod:`devtools.maillog_model`: polling POP3 clients in working hours and
on phones, SMTP sends, travellers, attackers), to measure
``import_maillog`` on. A measuring aid only, hence here with the demo and
the bench rather than among the product's commands.
"""

from __future__ import annotations

import datetime as dt
import sys
import zoneinfo

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account, Office
from devtools.maillog_model import DayStats, day_lines


class Command(BaseCommand):
    help = (
        "Write an office's realistic Dovecot/Postfix log (polling POP3 clients, SMTP sends, "
        "travellers, attackers) for one or more days to stdout."
    )

    def add_arguments(self, parser):
        parser.add_argument("--domain", required=True)
        parser.add_argument("--date", help="the first day, YYYY-MM-DD (default: yesterday)")
        parser.add_argument("--days", type=int, default=1)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **opts):
        office = Office.objects.filter(domain=opts["domain"]).first()
        if office is None:
            raise CommandError(f"No office with the domain {opts['domain']}.")
        zone = zoneinfo.ZoneInfo(office.time_zone)
        if opts["date"]:
            first = dt.date.fromisoformat(opts["date"])
        else:
            first = dt.datetime.now(zone).date() - dt.timedelta(days=1)
        users = list(
            Account.objects.filter(office=office, mailbox__isnull=False, deleted_at__isnull=True)
            .order_by("pk")
            .values_list("login_id", flat=True)
        )
        out = sys.stdout
        for offset in range(opts["days"]):
            day = dt.datetime.combine(first + dt.timedelta(days=offset), dt.time(), zone)
            stats = DayStats()
            out.writelines(
                day_lines(users, office.domain, day, seed=opts["seed"] + offset, stats=stats)
            )
            self.stderr.write(
                f"{day:%Y-%m-%d}: {stats.lines:,} lines, {stats.logins:,} logins of "
                f"{stats.accounts:,} accounts ({stats.pop3_users:,} POP3 clients, "
                f"{stats.phones:,} phones, {stats.travellers} travellers, "
                f"{stats.attackers} attackers)"
            )
