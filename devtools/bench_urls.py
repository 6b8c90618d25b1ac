"""ROOT_URLCONF inside the bench process only: the product's URLs plus the
benchmark's admin changelist. Never referenced by the product's settings."""

from django.urls import path

from devtools.bench_admin import site, users_site
from mailadmin.urls import urlpatterns as product_urlpatterns

urlpatterns = [
    path("bench-admin/", site.urls),
    path("bench-users-admin/", users_site.urls),
    *product_urlpatterns,
]
