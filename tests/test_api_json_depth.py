"""API bodies and answers: deep JSON is a 400, and errors are JSON whatever the client accepts."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotations.services.users import user_create_or_update

DEEP = "[" * 5000 + "]" * 5000


@pytest.fixture
def admin_client() -> APIClient:
    user_create_or_update(username="deep-admin", role="admin", password="x-Long-enough-9")
    client = APIClient()
    client.login(username="deep-admin", password="x-Long-enough-9")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "url"),
    [("post", "/api/users"), ("post", "/api/studies"), ("patch", "/api/users/deep-admin")],
)
def test_json_nested_5000_deep_is_a_400_with_the_error_body(
    admin_client: APIClient, method: str, url: str
) -> None:
    response = getattr(admin_client, method)(url, data=DEEP, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert "nested too deeply" in body["detail"]
    assert isinstance(body["errors"], list)


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/studies", "/api/studies/nope", "/api/users"])
def test_a_browser_accept_header_still_gets_json_errors(url: str) -> None:
    response = APIClient().get(url, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code in (401, 403, 404)
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
