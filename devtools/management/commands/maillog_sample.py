"""``manage.py maillog_sample --domain D --lines N > mail.log``: a realistic
Dovecot/Postfix mail log for an office, to measure ``import_maillog`` on.

Logins of the office's users (by address, bare ID and sub-account address)
in every framing ``import_maillog`` reads, failures, IMAP logins and the
other lines a mail log is mostly made of, over the last 90 days, oldest
first. A measuring aid only, hence here with the demo and the bench rather
than among the product's commands.
"""

from __future__ import annotations

import datetime as dt
import random

from django.core.management.base import BaseCommand

from accounts.models import Address, Office

IPS = ["211.234.{}.{}", "1.11.{}.{}", "175.223.{}.{}", "8.8.{}.{}", "133.242.{}.{}"]


class Command(BaseCommand):
    help = "Write a realistic Dovecot/Postfix mail log for an office to stdout."

    def add_arguments(self, parser):
        parser.add_argument("--domain", required=True)
        parser.add_argument("--lines", type=int, default=1_000_000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, **opts):
        rng = random.Random(opts["seed"])
        office = Office.objects.get(domain=opts["domain"])
        names = list(Address.objects.filter(office=office).values_list("local_part", flat=True))
        domain = office.domain
        lines = opts["lines"]
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        start = now - dt.timedelta(days=90)
        step = (now - start) / lines
        out = self.stdout
        for n in range(lines):
            moment = start + step * n
            local = moment.astimezone(dt.timezone(dt.timedelta(hours=9)))
            classic = f"{local:%b} {local.day:2d} {local:%H:%M:%S}"
            iso = local.isoformat(timespec="microseconds")
            name = rng.choice(names)
            user = f"{name}@{domain}" if rng.random() < 0.8 else name
            ip = rng.choice(IPS).format(rng.randint(1, 254), rng.randint(1, 254))
            session = f"{rng.getrandbits(96):024x}"
            roll = rng.random()
            if roll < 0.40:
                line = (
                    f"{classic} mail dovecot: pop3-login: Login: user=<{user}>, method=PLAIN, "
                    f"rip={ip}, lip=10.0.0.5, mpid={n % 65000}, TLS, session=<{session}>"
                )
            elif roll < 0.50:
                line = (
                    f"{iso} mail dovecot[2211]: pop3-login: Logged in: user=<{user}>, "
                    f"method=PLAIN, rip={ip}, lip=10.0.0.5, mpid={n % 65000}, TLS, "
                    f"session=<{session}>"
                )
            elif roll < 0.65:
                line = (
                    f"{classic} mail postfix/submission/smtpd[{n % 65000}]: {session[:11].upper()}: "
                    f"client=unknown[{ip}], sasl_method=PLAIN, sasl_username={user}"
                )
            elif roll < 0.70:
                line = (
                    f"{classic} mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in "
                    f"2 secs): user=<{user}>, method=PLAIN, rip={ip}, lip=10.0.0.5, "
                    f"session=<{session}>"
                )
            elif roll < 0.72:
                line = (
                    f"<22>1 {iso} mail.{domain} postfix/smtpd {n % 65000} - - warning: "
                    f"unknown[{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"
                )
            elif roll < 0.82:
                line = (
                    f"{classic} mail dovecot: imap-login: Login: user=<{user}>, method=PLAIN, "
                    f"rip={ip}, lip=10.0.0.5, mpid={n % 65000}, TLS, session=<{session}>"
                )
            else:
                line = (
                    f"{classic} mail postfix/qmgr[812]: {session[:11].upper()}: "
                    f"from=<{user}>, size={rng.randint(900, 90000)}, nrcpt=1 (queue active)"
                )
            out.write(line)
