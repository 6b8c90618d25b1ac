from django.urls import path

from accounts.views import bulk_import, security, users

urlpatterns = [
    path("", users.user_list, name="users"),
    # An ID never starts with "_" or "-", so these can never hide an
    # account (they come before "<segment:login_id>/" all the same).
    path("_add/", users.user_add, name="user_add"),
    path("_deleted/", users.deleted_users, name="deleted_users"),
    path("-/import/", bulk_import.user_import, name="user_import"),
    path("-/import/confirm/", bulk_import.user_import_confirm, name="user_import_confirm"),
    path("-/import/template.xlsx", bulk_import.user_import_template, name="user_import_template"),
    path("<segment:login_id>/", users.user_detail, name="user_detail"),
    path("<segment:login_id>/delete/", users.user_delete, name="user_delete"),
    path(
        "<segment:login_id>/two-factor/reset/",
        security.two_factor_reset,
        name="two_factor_reset",
    ),
]
