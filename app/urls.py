"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("annotations.api.urls")),
    path("", include("annotations.urls")),
]

# Under /api/ every error answers JSON in the API's error shape; pages get Django's pages
# (and a plain 503 page while the database is unreachable).
handler400 = "app.middleware.bad_request"
handler403 = "app.middleware.permission_denied"
handler404 = "app.middleware.not_found"
handler500 = "app.middleware.server_error"
