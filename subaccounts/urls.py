from django.urls import path

from subaccounts import views

urlpatterns = [
    path("", views.subaccount_dialog, name="subaccounts"),
    path("<segment:local_part>/delete/", views.subaccount_delete, name="subaccount_delete"),
]
