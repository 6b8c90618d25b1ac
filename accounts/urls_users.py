from django.urls import path

from accounts.views import bulk_import, users

urlpatterns = [
    path("", users.user_list, name="users"),
    # "-" can never begin an account ID, so these cannot shadow an account.
    path("-/import/", bulk_import.user_import, name="user_import"),
    path("-/import/confirm/", bulk_import.user_import_confirm, name="user_import_confirm"),
    path("-/import/template.xlsx", bulk_import.user_import_template, name="user_import_template"),
    path("<str:login_id>/", users.user_detail, name="user_detail"),
]
