"""The OpenAPI schema: valid, complete, public, and its docs page served from this site."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _schema() -> dict:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_generation_has_no_warnings_and_validates(tmp_path) -> None:
    # --fail-on-warn: every view's request and response bodies are described.
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "openapi: 3" in out.read_text()


def test_served_schema_is_valid_openapi_3() -> None:
    schema = _schema()
    validate(schema)
    assert schema["info"]["title"] == "PrefEval API"


def _api_routes(patterns: list, prefix: str = "") -> list[str]:
    routes = []
    for p in patterns:
        if isinstance(p, URLResolver):
            routes += _api_routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            routes.append(prefix + str(p.pattern))
    return [r for r in routes if r.startswith("api/")]


def test_every_api_route_is_in_the_schema_with_bodies() -> None:
    schema = _schema()
    documented = {re.sub(r"\{[^}]+\}", "{}", p) for p in schema["paths"]}
    for route in _api_routes(get_resolver().url_patterns):
        if route in ("api/schema/", "api/docs/"):
            continue
        as_path = "/" + re.sub(r"<[^>]+>", "{}", route)
        assert as_path in documented, f"{route} is not in the schema"
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            ok = [c for c in operation["responses"] if c.startswith("2")]
            assert ok, f"{method} {path} has no success response"
            for code in ("400", "401", "403", "404"):
                error = operation["responses"][code]["content"]["application/json"]["schema"]
                # Uploads document their line-numbered variant (with `total`) for 400.
                assert error["$ref"] in (
                    "#/components/schemas/Error",
                    "#/components/schemas/LoadError",
                )
            if method in ("post", "patch", "put") and not path.endswith("/assignments/next"):
                assert "requestBody" in operation, f"{method} {path} has no request body"


def test_error_component_is_the_shared_shape() -> None:
    schemas = _schema()["components"]["schemas"]
    assert schemas["Error"]["required"] == ["detail", "errors"]
    assert set(schemas["ErrorItem"]["properties"]) == {"field", "message", "line"}


def test_export_formats_come_from_the_registry() -> None:
    from annotations.exports.registry import EXPORT_FORMATS

    operation = _schema()["paths"]["/api/studies/{slug}/export"]["get"]
    [fmt] = [p for p in operation["parameters"] if p["name"] == "format"]
    assert fmt["schema"]["enum"] == sorted(EXPORT_FORMATS)
    assert "text/csv; charset=utf-8" in operation["responses"]["200"]["content"]


def test_docs_page_loads_only_local_assets_under_a_csp() -> None:
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "https://" not in html and "http://" not in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
    assert "<script>" not in html.replace(" ", "")  # no inline script: the CSP would block it
    script = APIClient().get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert b"/api/schema/" in script.content
