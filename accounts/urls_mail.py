from django.urls import include, path

from accounts.views import bulk, detail, exports, usage

urlpatterns = [
    path("", usage.account_list, name="mail_accounts"),
    path("export.xlsx", usage.account_export, name="mail_accounts_export"),
    # "-" can never be an account ID (IDs start with a letter or digit), so
    # the bulk URL cannot shadow an account's page.
    path("-/bulk/", bulk.account_bulk, name="mail_accounts_bulk"),
    path("-/bulk/<uuid:bulk_job_id>/", bulk.bulk_job, name="mail_bulk_job"),
    # Before "<segment:login_id>/": "exports" is not an account ID.
    path("exports/<uuid:job_id>/", exports.export_job, name="mail_export_job"),
    path("exports/<uuid:job_id>/progress/", exports.export_progress, name="mail_export_progress"),
    path("exports/<uuid:job_id>/download/", exports.export_download, name="mail_export_download"),
    path("<segment:login_id>/", detail.account_detail, name="mail_account_detail"),
    path("<segment:login_id>/empty/", usage.account_empty, name="mail_account_empty"),
    path("<segment:login_id>/subaccounts/", include("subaccounts.urls")),
]
