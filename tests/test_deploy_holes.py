"""Smaller holes: a misspelt baseline, self-demotion in the admin, admin deletes, demo reruns."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import SESSION_KEY
from django.core.management import call_command
from django.test import Client

from annotations.admin import studies as annotations_admin
from annotations.models import Generator, Role, Study, User
from annotations.services import studies as studies_service
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user, user_token

pytestmark = pytest.mark.django_db


def test_patch_with_an_unknown_baseline_is_refused_and_creates_no_model() -> None:
    study = judging_study(slug="typo", prompts=1)
    before = Generator.objects.filter(study=study).count()
    client = Client(HTTP_AUTHORIZATION=f"Token {user_token('typo-admin', 'admin')}")
    response = client.patch(
        "/api/studies/typo", {"baseline": BASELINE + "x"}, content_type="application/json"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors[0]["field"] == "baseline" and CANDIDATE in errors[0]["message"]
    study.refresh_from_db()
    assert study.baseline.name == BASELINE
    assert Generator.objects.filter(study=study).count() == before
    # An existing model still becomes the baseline.
    ok = client.patch("/api/studies/typo", {"baseline": CANDIDATE}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["baseline"] == CANDIDATE


def _change_form(user: User, **changes: Any) -> dict[str, Any]:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "role": user.role,
        "is_active": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_an_admin_cannot_demote_or_deactivate_themselves_in_the_admin() -> None:
    boss = make_user("self-boss", "admin")
    client = Client()
    client.force_login(boss)
    url = f"/admin/annotations/user/{boss.pk}/change/"
    demoted = client.post(url, _change_form(boss, role=Role.RATER))
    assert demoted.status_code == 200 and b"cannot remove your own admin role" in demoted.content
    deactivated = client.post(url, _change_form(boss, is_active=None))
    assert deactivated.status_code == 200 and b"cannot deactivate yourself" in deactivated.content
    boss.refresh_from_db()
    assert boss.role == Role.ADMIN and boss.is_active and boss.is_superuser
    # Another admin's role can still be changed.
    other = make_user("other-boss", "admin")
    changed = client.post(
        f"/admin/annotations/user/{other.pk}/change/", _change_form(other, role=Role.RESEARCHER)
    )
    assert changed.status_code == 302
    other.refresh_from_db()
    assert other.role == Role.RESEARCHER and not other.is_staff


def test_the_study_admin_deletes_through_study_delete(monkeypatch: Any) -> None:
    calls: list[str] = []

    def spy(*, study: Study) -> None:
        calls.append(study.slug)
        studies_service.study_delete(study=study)

    monkeypatch.setattr(annotations_admin, "study_delete", spy)
    one, two, three = (judging_study(slug=s, prompts=2) for s in ("del-1", "del-2", "del-3"))
    client = Client()
    client.force_login(make_user("del-boss", "admin"))
    confirm = client.get(f"/admin/annotations/study/{one.pk}/delete/")
    assert confirm.status_code == 200 and b"2 comparisons" in confirm.content
    assert (
        client.post(f"/admin/annotations/study/{one.pk}/delete/", {"post": "yes"}).status_code
        == 302
    )
    bulk = client.post(
        "/admin/annotations/study/",
        {"action": "delete_selected", "_selected_action": [two.pk, three.pk], "post": "yes"},
    )
    assert bulk.status_code == 302
    assert sorted(calls) == ["del-1", "del-2", "del-3"]
    assert not Study.objects.filter(slug__startswith="del-").exists()


def test_rerunning_the_demo_keeps_existing_demo_passwords_and_sessions() -> None:
    rater = make_user("rater")
    rater.set_password("my-own-choice-42")
    rater.save()
    client = Client()
    assert client.login(username="rater", password="my-own-choice-42")
    call_command("demo", no_serve=True, stdout=io.StringIO())
    rater.refresh_from_db()
    assert rater.check_password("my-own-choice-42")
    assert client.get("/").wsgi_request.user.username == "rater"  # still logged in
    assert SESSION_KEY in client.session
    # The accounts the demo made itself got its passwords.
    assert User.objects.get(username="admin").check_password("admin-demo-2026")
