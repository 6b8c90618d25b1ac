from django.urls import path

from accounts.views import security, users

urlpatterns = [
    path("", users.user_list, name="users"),
    path("<segment:login_id>/", users.user_detail, name="user_detail"),
    path(
        "<segment:login_id>/two-factor/reset/",
        security.two_factor_reset,
        name="two_factor_reset",
    ),
]
