"""The daily snapshot, run by the background worker (`manage.py db_worker`).

One task waits in the queue for the next run; when it runs it takes every
office's snapshot and queues the next day's. Taking a day twice changes
nothing, so a second queued task (two workers racing to queue) is harmless.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils import timezone
from django_tasks import task

# When the day's snapshot is taken, in the server's time zone: late, so the
# row holds (almost) the whole day.
SNAPSHOT_TIME = dt.time(23, 50)


def next_run(now: dt.datetime) -> dt.datetime:
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone)
    run = dt.datetime.combine(local.date(), SNAPSHOT_TIME, zone)
    if run <= local:
        run = dt.datetime.combine(local.date() + dt.timedelta(days=1), SNAPSHOT_TIME, zone)
    return run


@task()
def snapshot_usage_daily() -> None:
    from reports.snapshots import snapshot_all

    snapshot_all()
    ensure_daily_snapshot_queued()


def ensure_daily_snapshot_queued(now: dt.datetime | None = None) -> None:
    from django.db import DatabaseError
    from django_tasks_db.models import DBTaskResult

    try:
        waiting = DBTaskResult.objects.filter(
            task_path=snapshot_usage_daily.module_path, status="READY"
        ).exists()
    except DatabaseError:  # the queue's table is not there (yet)
        return
    if not waiting:
        snapshot_usage_daily.using(run_after=next_run(now or timezone.now())).enqueue()
