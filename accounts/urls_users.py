from django.urls import path

from accounts.views import users

urlpatterns = [
    path("", users.user_list, name="users"),
    # Before "<str:login_id>/": an ID never starts with "_", so these can
    # never hide an account.
    path("_add/", users.user_add, name="user_add"),
    path("_deleted/", users.deleted_users, name="deleted_users"),
    path("<str:login_id>/", users.user_detail, name="user_detail"),
    path("<str:login_id>/delete/", users.user_delete, name="user_delete"),
]
