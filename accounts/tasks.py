"""Background tasks (django-tasks; `manage.py db_worker` runs them)."""

from django_tasks import task

from accounts import bulk, export_jobs


@task()
def run_export_job(job_id: str) -> None:
    export_jobs.export_job_run(job_id=job_id)


@task()
def run_bulk_job(job_id: str) -> None:
    bulk.bulk_job_run(job_id=job_id)
