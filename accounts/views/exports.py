"""Background roster exports: the job page with its progress bar, the
progress fragment htmx polls, and the download. A list too big to write
within one request is prepared by the background worker; the admin watches
it here and downloads the file when it is ready.

Every URL is scoped like the rest of the console
(:func:`accounts.permissions.office_admin_required`): another office's admin
gets 404 before anything, and a job is only ever looked up inside the
admin's own office, so its id alone opens nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from accounts.export_jobs import recover_stale_jobs
from accounts.models import ExportJob
from accounts.permissions import office_admin_required
from mailadmin.htmx import render_htmx


def _job(request, job_id) -> ExportJob:
    job = get_object_or_404(ExportJob, pk=job_id, office=request.office)
    if job.status == ExportJob.Status.RUNNING:
        # Someone is watching: if its worker died, say so (or start it again)
        # now rather than at the next sweep.
        if recover_stale_jobs():
            job.refresh_from_db()
    job.office = request.office
    return job


def _context(job: ExportJob) -> dict:
    retry_url = reverse("mail_accounts_export", args=[job.office.domain])
    if job.params:
        retry_url += "?" + urlencode(job.params, doseq=True)
    return {
        "job": job,
        # A failed job is not resumed: the button starts a new one with the
        # same filters.
        "retry_url": retry_url,
        "finished": job.status in (ExportJob.Status.DONE, ExportJob.Status.FAILED),
        "nav": "mail_usage",
    }


@office_admin_required
@require_GET
def export_job(request, job_id):
    return render_htmx(
        request, "accounts/export_job.html", "export-progress", _context(_job(request, job_id))
    )


@office_admin_required
@require_GET
def export_progress(request, job_id):
    """What the progress bar polls (htmx): the fragment; opened directly,
    the whole page."""
    return render_htmx(
        request, "accounts/export_job.html", "export-progress", _context(_job(request, job_id))
    )


@office_admin_required
@require_GET
def export_download(request, job_id):
    job = _job(request, job_id)
    if job.is_expired():
        return render(request, "accounts/export_expired.html", {"job": job}, status=410)
    if job.status != ExportJob.Status.DONE or not job.file:
        return redirect("mail_export_job", domain=request.office.domain, job_id=job.pk)
    try:
        fileobj = job.file.open("rb")
    except FileNotFoundError as missing:
        raise Http404("the file is gone") from missing
    return FileResponse(fileobj, as_attachment=True, filename=job.filename)
