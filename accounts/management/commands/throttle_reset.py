"""Lift the per-IP sign-in locks (and made-up-ID counts) of accounts/throttle.py."""

from django.core.management.base import BaseCommand

from accounts.models import LoginThrottle


class Command(BaseCommand):
    help = "Lift per-IP sign-in locks: all of them, or those of the IPs given."

    def add_arguments(self, parser):
        parser.add_argument("ips", nargs="*", help="IP addresses (default: all)")

    def handle(self, *args, ips, **options):
        rows = LoginThrottle.objects.all()
        if ips:
            rows = rows.filter(ip__in=ips)
        deleted, _ = rows.delete()
        self.stdout.write(f"{deleted} IP(s) reset")
