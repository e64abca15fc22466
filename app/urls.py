"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("annotations.api.urls")),
    path("", include("annotations.urls")),
]

# Unknown /api/ URLs answer JSON in the API's error shape.
handler404 = "annotations.api.errors.not_found"
