from django.urls import path

from accounts.views import audit_log

urlpatterns = [
    path("", audit_log.audit_list, name="audit"),
    path("export.xlsx", audit_log.audit_export, name="audit_export"),
]
