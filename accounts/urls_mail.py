from django.urls import include, path

from accounts.views import detail, exports, usage

urlpatterns = [
    path("", usage.account_list, name="mail_accounts"),
    path("export.xlsx", usage.account_export, name="mail_accounts_export"),
    # Before "<segment:login_id>/": "exports" is not an account ID.
    path("exports/<uuid:job_id>/", exports.export_job, name="mail_export_job"),
    path("exports/<uuid:job_id>/progress/", exports.export_progress, name="mail_export_progress"),
    path("exports/<uuid:job_id>/download/", exports.export_download, name="mail_export_download"),
    path("<segment:login_id>/", detail.account_detail, name="mail_account_detail"),
    path("<segment:login_id>/empty/", usage.account_empty, name="mail_account_empty"),
    path("<segment:login_id>/subaccounts/", include("subaccounts.urls")),
]
