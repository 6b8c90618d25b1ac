from django.urls import path

from accounts.views import security, users

urlpatterns = [
    path("", users.user_list, name="users"),
    # Before "<segment:login_id>/": an ID never starts with "_", so these
    # can never hide an account.
    path("_add/", users.user_add, name="user_add"),
    path("_deleted/", users.deleted_users, name="deleted_users"),
    path("<segment:login_id>/", users.user_detail, name="user_detail"),
    path("<segment:login_id>/delete/", users.user_delete, name="user_delete"),
    path(
        "<segment:login_id>/two-factor/reset/",
        security.two_factor_reset,
        name="two_factor_reset",
    ),
]
