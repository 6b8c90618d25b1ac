from django.urls import path

from accounts.views import users

urlpatterns = [
    path("", users.user_list, name="users"),
    path("<segment:login_id>/", users.user_detail, name="user_detail"),
]
