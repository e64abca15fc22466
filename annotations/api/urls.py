"""URL routes of the REST API (mounted under /api/)."""

urlpatterns: list = []
