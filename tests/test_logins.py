"""Logins: lock-out after repeated failures (django-axes) and password validators everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from annotations.models import User
from tests.judging_support import TEST_PASSWORD, make_user, user_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def axes_on(settings: Any) -> None:
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3


def _login(path: str, username: str, password: str, address: str = "192.0.2.1") -> Any:
    client = Client(REMOTE_ADDR=address)
    page = client.get(path)
    assert page.status_code == 200
    return client, client.post(path, {"username": username, "password": password})


def test_an_account_is_locked_after_repeated_failures_even_with_the_right_password(
    axes_on: None,
) -> None:
    make_user("lock-me")
    for attempt in range(3):
        # From a different address each time: the account is what counts.
        _, response = _login("/login/", "lock-me", "wrong", address=f"192.0.2.{attempt + 10}")
        assert response.status_code in (200, 429)
    client, response = _login("/login/", "lock-me", TEST_PASSWORD, address="198.51.100.1")
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    assert "_auth_user_id" not in client.session
    # Unlocking, as the README says: manage.py axes_reset.
    call_command("axes_reset", verbosity=0)
    client, response = _login("/login/", "lock-me", TEST_PASSWORD)
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_an_address_is_locked_after_failures_on_several_accounts(axes_on: None) -> None:
    make_user("victim")
    for name in ("a1", "a2", "a3"):
        _login("/login/", name, "wrong", address="203.0.113.5")
    _, response = _login("/login/", "victim", TEST_PASSWORD, address="203.0.113.5")
    assert response.status_code == 429
    # The same account from elsewhere is fine.
    _, response = _login("/login/", "victim", TEST_PASSWORD, address="203.0.113.6")
    assert response.status_code == 302


def test_the_admin_login_locks_out_too(axes_on: None) -> None:
    make_user("boss", "admin")
    for _ in range(3):
        _login("/admin/login/", "boss", "wrong")
    client, response = _login("/admin/login/", "boss", TEST_PASSWORD, address="198.51.100.9")
    assert response.status_code == 429
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_add_user_refuses_a_weak_password_with_the_validators_messages() -> None:
    with pytest.raises(CommandError, match="too short") as refused:
        call_command("add_user", "weak", "--role", "admin", "--password", "1")
    assert "entirely numeric" in str(refused.value)
    assert not User.objects.filter(username="weak").exists()
    make_user("kept")
    with pytest.raises(CommandError, match="too common"):
        call_command("add_user", "kept", "--role", "rater", "--password", "password")
    assert User.objects.get(username="kept").check_password(TEST_PASSWORD)


def test_the_api_refuses_a_weak_password_naming_the_field() -> None:
    token = user_token("api-boss", "admin")
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.post(
        "/api/users",
        {"username": "newbie", "role": "rater", "password": "password"},
        content_type="application/json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors and all(e["field"] == "password" for e in errors)
    assert any("too common" in e["message"] for e in errors)
    assert not User.objects.filter(username="newbie").exists()
    similar = client.post(
        "/api/users",
        {"username": "margaretha", "role": "rater", "password": "margaretha1"},
        content_type="application/json",
    )
    assert similar.status_code == 400 and "similar" in similar.json()["detail"]


def test_the_admin_user_forms_apply_the_validators() -> None:
    client = Client()
    client.force_login(make_user("form-boss", "admin"))
    response = client.post(
        "/admin/annotations/user/add/",
        {
            "username": "added",
            "usable_password": "true",
            "password1": "password",
            "password2": "password",
            "role": "rater",
        },
    )
    assert response.status_code == 200
    assert b"too common" in response.content
    assert not User.objects.filter(username="added").exists()
    target = make_user("target")
    response = client.post(
        f"/admin/annotations/user/{target.pk}/password/",
        {"password1": "12345678", "password2": "12345678"},
    )
    assert response.status_code == 200 and b"entirely numeric" in response.content


def test_a_login_to_another_account_does_not_wipe_the_failures_against_this_one(
    axes_on: None,
) -> None:
    make_user("target")
    make_user("attacker")
    for _ in range(2):
        _login("/login/", "target", "wrong", address="203.0.113.50")
    # The attacker's own good login, from the same address, between guesses.
    _, response = _login("/login/", "attacker", TEST_PASSWORD, address="203.0.113.50")
    assert response.status_code == 302
    _login("/login/", "target", "wrong", address="203.0.113.51")
    _, response = _login("/login/", "target", TEST_PASSWORD, address="198.51.100.77")
    assert response.status_code == 429
