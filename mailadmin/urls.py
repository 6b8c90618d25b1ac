from django.urls import include, path, register_converter

from accounts.views import auth
from mailadmin.converters import DomainConverter, SegmentConverter

register_converter(DomainConverter, "domain")
register_converter(SegmentConverter, "segment")

urlpatterns = [
    path("", auth.root, name="root"),
    path("i18n/setlang/", auth.set_language, name="set_language"),
    path("<domain:domain>/", include("accounts.urls")),
]
