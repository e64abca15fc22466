"""Users in the Django admin: the role leads and decides the staff flags; imported raters edit."""

from __future__ import annotations

import re
from typing import Any

import pytest

from annotations.models import User
from annotations.services.users import user_create_or_update
from tests.loading_support import BASELINE, NESTED, import_, jsonl, load, make_study

pytestmark = pytest.mark.django_db


def _change_form(user: User, **changes: Any) -> dict[str, Any]:
    """The admin's user change form as a browser would post it back, with `changes`."""
    data: dict[str, Any] = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "role": user.role,
    }
    if user.is_active:
        data["is_active"] = "on"
    if not user.external_id:
        data["username"] = user.username
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def admin_client(client: Any) -> Any:
    boss = user_create_or_update(username="boss", role="admin", password="pw-12345678").user
    client.force_login(boss)
    return client


def test_an_imported_rater_can_be_deactivated_in_the_admin(admin_client, tmp_path):
    study = make_study()
    load(study, tmp_path, jsonl(*NESTED))
    import_(study, tmp_path, f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},left,w1\n")
    rater = User.objects.get(external_id="w1")
    assert rater.username == "ext:w1"
    url = f"/admin/annotations/user/{rater.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200
    response = admin_client.post(url, _change_form(rater, is_active=None))
    assert response.status_code == 302, response.content.decode()[:2000]
    rater.refresh_from_db()
    assert rater.is_active is False
    assert rater.username == "ext:w1"


def test_giving_the_admin_role_in_the_admin_grants_the_admin_pages(admin_client):
    user = user_create_or_update(username="rita", role="researcher").user
    url = f"/admin/annotations/user/{user.pk}/change/"
    assert admin_client.post(url, _change_form(user, role="admin")).status_code == 302
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.is_superuser) == ("admin", True, True)
    # ... and taking the role away takes the staff flags too, whatever the checkboxes said.
    form = _change_form(user, role="researcher", is_staff="on", is_superuser="on")
    assert admin_client.post(url, form).status_code == 302
    user.refresh_from_db()
    assert (user.role, user.is_staff, user.is_superuser) == ("researcher", False, False)


def test_an_imported_raters_role_can_be_changed_through_the_service(tmp_path):
    study = make_study()
    load(study, tmp_path, jsonl(*NESTED))
    import_(study, tmp_path, f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},left,w1\n")
    result = user_create_or_update(username="ext:w1", role="researcher")
    assert (result.created, result.user.role) == (False, "researcher")


def test_a_new_account_still_needs_a_valid_username():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        user_create_or_update(username="ext:someone", role="rater")


def _inputs(page: str) -> list[str]:
    return re.findall(r'<(?:input|select)[^>]* name="([^"]+)"', page)


def test_the_user_page_leads_with_the_role_and_shows_no_staff_flags(admin_client):
    user = user_create_or_update(username="rosa", role="researcher").user
    page = admin_client.get(f"/admin/annotations/user/{user.pk}/change/").content.decode()
    names = [n for n in _inputs(page) if n not in ("csrfmiddlewaretoken",)]
    assert names[:3] == ["username", "role", "is_active"]
    for hidden in ("is_staff", "is_superuser", "groups", "user_permissions"):
        assert hidden not in names
    assert "researcher: reads studies, results and exports" in page


def test_a_user_added_in_the_admin_as_admin_gets_the_staff_flags_from_the_role(admin_client):
    page = admin_client.get("/admin/annotations/user/add/").content.decode()
    names = _inputs(page)
    assert names.index("role") < names.index("password1")
    assert "is_staff" not in names and "is_superuser" not in names
    response = admin_client.post(
        "/admin/annotations/user/add/",
        {
            "username": "newboss",
            "role": "admin",
            "usable_password": "true",
            "password1": "a-Long-pass-4321",
            "password2": "a-Long-pass-4321",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    made = User.objects.get(username="newboss")
    assert (made.role, made.is_staff, made.is_superuser) == ("admin", True, True)
