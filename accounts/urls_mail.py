from django.urls import path

from accounts.views import usage

urlpatterns = [
    path("", usage.account_list, name="mail_accounts"),
]
