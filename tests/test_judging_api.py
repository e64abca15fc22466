"""Rater API: status codes, roles, token and session auth, error shape, blinding."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from annotations.models import Assignment, Judgment
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user, user_token

pytestmark = pytest.mark.django_db


def _client(username: str, role: str = "rater") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_token(username, role)}")
    return client


def _next(client: APIClient, slug: str = "rating", query: str = ""):
    return client.post(f"/api/studies/{slug}/assignments/next{query}", format="json")


def test_next_returns_a_blinded_assignment_with_form_and_progress() -> None:
    judging_study(
        prompts=2,
        scale="likert5",
        criteria=["helpful"],
        flags=["hallucination"],
        # Both prompts carry the same texts: which comparison comes first is not the point.
        outputs={
            CANDIDATE: ["**bold** answer", "**bold** answer"],
            BASELINE: ["plain answer", "plain answer"],
        },
    )
    client = _client("r1")
    response = _next(client, query="?progress=1")
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"id", "prompt", "left", "right", "form", "expires_at", "progress"}
    texts = {body["left"]["text"], body["right"]["text"]}
    assert texts == {"**bold** answer", "plain answer"}
    side = "left" if body["left"]["text"].startswith("**") else "right"
    assert "<strong>bold</strong>" in body[side]["html"]
    assert body["form"]["scale"] == "likert5"
    assert [c["key"] for c in body["form"]["choices"]] == ["1", "2", "3", "4", "5"]
    assert body["form"]["criteria"] == [{"name": "helpful", "label": "Helpful"}]
    assert body["progress"] == {
        "judged": 0,
        "skipped": 0,
        "remaining": 2,
        "quota": None,
        "complete": False,
        "completion_code": None,
        "completion_url": None,
        "stopped": None,
        "screenout_code": None,
        "screenout_url": None,
        "study_complete": False,
    }
    raw = response.content.decode()
    for secret in (BASELINE, CANDIDATE, "generator", "output_a", "comparison"):
        assert secret not in raw
    # Reload: the same lease; without ?progress=1 no progress (it costs a count).
    again = _next(client).json()
    assert again["id"] == body["id"] and "progress" not in again


def test_judgment_201_then_200_with_the_same_judgment() -> None:
    judging_study(prompts=2)
    client = _client("r1")
    assignment = _next(client).json()
    url = f"/api/assignments/{assignment['id']}/judgment"
    first = client.post(
        url + "?progress=1", {"winner": "left", "rationale": "shorter"}, format="json"
    )
    assert first.status_code == 201
    body = first.json()
    assert body["winner"] == "left" and body["rationale"] == "shorter" and body["created"]
    assert body["progress"]["judged"] == 1
    again = client.post(url, {"winner": "right"}, format="json")
    assert again.status_code == 200
    assert again.json()["winner"] == "left" and not again.json()["created"]
    assert Judgment.objects.count() == 1
    stored = Judgment.objects.get()
    assert stored.preference == (1 if stored.left_is_a else -1)


def test_validation_errors_name_the_field() -> None:
    judging_study(prompts=1, scale="ternary", criteria=["honest"], rationale="required")
    client = _client("r1")
    assignment = _next(client).json()
    url = f"/api/assignments/{assignment['id']}/judgment"
    response = client.post(url, {"winner": "left", "criteria": {}}, format="json")
    assert response.status_code == 400
    body = response.json()
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"criteria.honest", "rationale"}
    assert "criteria.honest" in body["detail"]
    bad = client.post(url, {"winner": "sideways"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "winner"
    assert not Judgment.objects.exists()


def test_204_when_nothing_is_left() -> None:
    judging_study(prompts=1, overlap=1)
    client = _client("r1")
    assignment = _next(client).json()
    client.post(f"/api/assignments/{assignment['id']}/judgment", {"winner": "tie"}, format="json")
    assert _next(client).status_code == 204
    assert _next(_client("r2")).status_code == 204


def test_skip_then_not_served_again() -> None:
    judging_study(prompts=2)
    client = _client("r1")
    first = _next(client).json()
    response = client.post(
        f"/api/assignments/{first['id']}/skip?progress=1", {"reason": "unreadable"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "skipped"
    assert response.json()["progress"]["skipped"] == 1
    second = _next(client).json()
    assert second["id"] != first["id"]
    late = client.post(f"/api/assignments/{first['id']}/judgment", {"winner": "tie"}, format="json")
    assert late.status_code == 409


def test_late_submit_refused_with_409_and_a_message() -> None:
    judging_study(prompts=1, overlap=1)
    c1, c2 = _client("r1"), _client("r2")
    first = _next(c1).json()
    Assignment.objects.filter(pk=first["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _next(c2).status_code == 200
    response = c1.post(
        f"/api/assignments/{first['id']}/judgment", {"winner": "left"}, format="json"
    )
    assert response.status_code == 409
    assert "ran out" in response.json()["detail"]


def test_roles_and_ownership() -> None:
    judging_study(prompts=2)
    anonymous = APIClient()
    response = _next(anonymous)
    assert response.status_code == 401
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Token")
    for role in ("researcher", "admin"):
        response = _next(_client(f"someone-{role}", role))
        assert response.status_code == 403
        assert "Only raters" in response.json()["detail"]
    owner, other = _client("r1"), _client("r2")
    assignment = _next(owner).json()
    for action, payload in (("judgment", {"winner": "left"}), ("skip", {})):
        response = other.post(f"/api/assignments/{assignment['id']}/{action}", payload, "json")
        assert response.status_code == 404
    assert anonymous.post(f"/api/assignments/{assignment['id']}/skip").status_code == 401
    assert _next(owner, slug="no-such-study").status_code == 404
    assert not Judgment.objects.exists()


def test_closed_study_is_404() -> None:
    judging_study(prompts=1, is_open=False)
    assert _next(_client("r1")).status_code == 404


def test_session_auth_requires_csrf() -> None:
    judging_study(prompts=1)
    make_user("webrater")
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="webrater", password="pw-for-tests-1")
    refused = client.post("/api/studies/rating/assignments/next")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    client.get("/studies/rating/judge/")
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/studies/rating/assignments/next",
        data=json.dumps({}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert accepted.status_code == 200


def test_chat_prompt_comes_as_a_transcript() -> None:
    transcript = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is **2+2**?"},
    ]
    judging_study(prompts=1, prompt_texts=[transcript])
    body = _next(_client("r1")).json()
    messages = body["prompt"]["messages"]
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "<strong>2+2</strong>" in messages[1]["html"]
