from django.urls import include, path

from accounts.views import detail, usage

urlpatterns = [
    path("", usage.account_list, name="mail_accounts"),
    path("export.xlsx", usage.account_export, name="mail_accounts_export"),
    path("<str:login_id>/", detail.account_detail, name="mail_account_detail"),
    path("<str:login_id>/empty/", usage.account_empty, name="mail_account_empty"),
    path("<str:login_id>/subaccounts/", include("subaccounts.urls")),
]
