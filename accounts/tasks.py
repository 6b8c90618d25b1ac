"""Background tasks (django-tasks; `manage.py db_worker` runs them)."""

from django_tasks import task

from accounts import bulk, export_jobs


@task()
def run_export_job(job_id: str) -> None:
    export_jobs.export_job_run(job_id=job_id)


@task()
def sweep_jobs() -> None:
    """Finds jobs whose worker died (see accounts/export_jobs.py) and stays
    queued, a little in the future, while any job is unfinished."""
    export_jobs.recover_stale_jobs()
    export_jobs.schedule_sweep()


@task()
def purge_deleted_users_task() -> None:
    """Queued at each deletion to run when that user's time is up; the
    purge takes whatever is due then, so a restored user is simply left
    alone and an extra run does nothing."""
    from accounts.account_services import purge_deleted_users

    purge_deleted_users()


@task()
def run_bulk_job(job_id: str) -> None:
    bulk.bulk_job_run(job_id=job_id)
