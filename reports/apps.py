from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def queue_daily_snapshot(using: str = "default", **kwargs) -> None:
    """post_migrate: make sure the worker has the next daily snapshot
    waiting (the task queues the following one itself when it runs)."""
    from reports.tasks import ensure_daily_snapshot_queued

    ensure_daily_snapshot_queued()


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Usage reports")

    def ready(self) -> None:
        post_migrate.connect(queue_daily_snapshot, sender=self)
