from django.core.management.base import BaseCommand

from accounts.export_jobs import export_jobs_prune


class Command(BaseCommand):
    help = "Delete background roster exports (jobs and files) whose time is up."

    def handle(self, *args, **opts):
        removed = export_jobs_prune()
        self.stdout.write(f"Removed {removed} expired export(s).")
