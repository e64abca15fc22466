"""Users API (admins only) and /api/me: contract fields, token on create, role changes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotations.models import User
from tests.api_support import assert_error_shape, token_client

pytestmark = pytest.mark.django_db

USER_FIELDS = {"id", "username", "email", "role", "is_active", "date_joined", "last_login"}


def test_admin_creates_a_user_and_sees_the_token_once() -> None:
    admin = token_client("adm", "admin")
    response = admin.post(
        "/api/users",
        {"username": "alice", "role": "rater", "password": "a-long-password"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == USER_FIELDS | {"token"}
    assert body["role"] == "rater" and body["is_active"] is True
    assert "password" not in body
    alice = User.objects.get(username="alice")
    assert alice.check_password("a-long-password") and alice.is_rater
    # The token works, and it is not shown again when the user is read.
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert me.get("/api/me").json()["username"] == "alice"
    read = admin.get("/api/users/alice").json()
    assert set(read) == USER_FIELDS


def test_users_list_is_paginated_and_sorted() -> None:
    admin = token_client("adm", "admin")
    for name in ("zed", "bob"):
        admin.post("/api/users", {"username": name, "role": "researcher"}, format="json")
    body = admin.get("/api/users").json()
    assert body["count"] == 3
    assert [u["username"] for u in body["results"]] == ["adm", "bob", "zed"]


def test_bad_and_duplicate_users_are_refused_with_fields() -> None:
    admin = token_client("adm", "admin")
    bad = admin.post("/api/users", {"username": "a b", "role": "king"}, format="json")
    assert bad.status_code == 400
    assert_error_shape(bad.json())
    assert {e["field"] for e in bad.json()["errors"]} == {"username", "role"}
    dup = admin.post("/api/users", {"username": "adm", "role": "rater"}, format="json")
    assert dup.status_code == 400 and "already exists" in dup.json()["errors"][0]["message"]
    assert User.objects.get(username="adm").role == "admin"
    assert User.objects.count() == 1


def test_admin_changes_role_and_deactivates_and_the_token_stops_working() -> None:
    admin = token_client("adm", "admin")
    rater = token_client("bob", "rater")
    assert rater.get("/api/me").status_code == 200
    promoted = admin.patch("/api/users/bob", {"role": "researcher"}, format="json")
    assert promoted.status_code == 200 and promoted.json()["role"] == "researcher"
    assert rater.get("/api/me").json()["role"] == "researcher"
    off = admin.patch("/api/users/bob", {"is_active": False}, format="json")
    assert off.json()["is_active"] is False
    assert rater.get("/api/me").status_code == 401
    assert User.objects.get(username="bob").is_active is False


def test_an_admin_cannot_demote_or_deactivate_themselves() -> None:
    admin = token_client("adm", "admin")
    for change, field in (({"role": "rater"}, "role"), ({"is_active": False}, "is_active")):
        response = admin.patch("/api/users/adm", change, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field
    user = User.objects.get(username="adm")
    assert user.role == "admin" and user.is_active


def test_only_admins_manage_users() -> None:
    token_client("adm", "admin")
    for role in ("rater", "researcher"):
        client = token_client(f"x-{role}", role)
        for response in (
            client.get("/api/users"),
            client.get("/api/users/adm"),
            client.post("/api/users", {"username": "m", "role": "admin"}, format="json"),
            client.patch(f"/api/users/x-{role}", {"role": "admin"}, format="json"),
        ):
            assert response.status_code == 403
            assert_error_shape(response.json())
    assert not User.objects.filter(username="m").exists()
    assert User.objects.get(username="x-rater").role == "rater"
    assert APIClient().get("/api/users").status_code == 401


def test_unknown_user_is_404() -> None:
    response = token_client("adm", "admin").get("/api/users/nobody")
    assert response.status_code == 404
    assert_error_shape(response.json())


@pytest.mark.parametrize("role", ["rater", "researcher", "admin"])
def test_me_tells_each_role_who_it_is(role: str) -> None:
    body = token_client(f"me-{role}", role).get("/api/me").json()
    assert body == {
        "username": f"me-{role}",
        "role": role,
        "can_see_results": role != "rater",
        "is_admin": role == "admin",
    }


def test_me_needs_a_login_and_session_auth_works() -> None:
    anonymous = APIClient().get("/api/me")
    assert anonymous.status_code == 401
    assert_error_shape(anonymous.json())
    client = APIClient()
    token_client("sess", "researcher")
    client.force_login(User.objects.get(username="sess"))
    assert client.get("/api/me").json()["username"] == "sess"
