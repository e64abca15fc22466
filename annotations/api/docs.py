"""The OpenAPI schema and its interactive docs (Swagger UI served from this site, under a CSP)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.negotiation import DefaultContentNegotiation

# The split view serves Swagger UI's start-up script as a file, so no inline script is needed.
# Swagger UI sets inline styles, and shows schema images as data: URLs.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SchemaView(SpectacularAPIView):
    """GET /api/schema/: the OpenAPI 3 schema (YAML; JSON with ?format=json or Accept)."""

    # The one view whose answer format the client chooses (the API's default is JSON only).
    content_negotiation_class = DefaultContentNegotiation


class DocsView(SpectacularSwaggerSplitView):
    """GET /api/docs/: Swagger UI over /api/schema/."""

    url_name = "api-schema"

    @extend_schema(exclude=True)
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response
