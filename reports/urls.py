from django.urls import path

from reports import views

# "-" can begin no account ID, so the office's chart downloads never shadow
# an account's report.
urlpatterns = [
    path("", views.office_report_view, name="mail_report"),
    path(
        "-/chart/<slug:chart>.png",
        views.office_chart_download,
        {"extension": "png"},
        name="mail_report_png",
    ),
    path(
        "-/chart/<slug:chart>.xlsx",
        views.office_chart_download,
        {"extension": "xlsx"},
        name="mail_report_xlsx",
    ),
    path("<segment:login_id>/", views.account_report_view, name="mail_report_account"),
    path(
        "<segment:login_id>/-/chart/<slug:chart>.png",
        views.account_chart_download,
        {"extension": "png"},
        name="mail_report_account_png",
    ),
    path(
        "<segment:login_id>/-/chart/<slug:chart>.xlsx",
        views.account_chart_download,
        {"extension": "xlsx"},
        name="mail_report_account_xlsx",
    ),
]
