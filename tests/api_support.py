"""Test helpers for the REST API: clients of each role, authenticated by token or session."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from annotations.services.users import user_create_or_update


def token_client(username: str, role: str) -> APIClient:
    client = APIClient()
    token = user_create_or_update(username=username, role=role).token
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def assert_error_shape(body: Any, *, line: bool = False) -> None:
    """The API's one error body: a detail string and a list of {field, message[, line]}."""
    assert isinstance(body, dict), body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["errors"], list) and body["errors"], body
    for item in body["errors"]:
        assert set(item) >= {"field", "message"}, item
        assert item["field"] is None or isinstance(item["field"], str), item
        assert isinstance(item["message"], str) and item["message"], item
        if line:
            assert "line" in item, item
