from django.urls import include, path, register_converter

from accounts.views import auth


class DomainConverter:
    """A mail domain: at least one dot, so it never shadows /static/ or /i18n/."""

    regex = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+"

    def to_python(self, value: str) -> str:
        return value.lower()

    def to_url(self, value: str) -> str:
        return value


register_converter(DomainConverter, "domain")

urlpatterns = [
    path("", auth.root, name="root"),
    path("i18n/setlang/", auth.set_language, name="set_language"),
    path("<domain:domain>/", include("accounts.urls")),
]
