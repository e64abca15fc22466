"""The rater hot path's fast lane: same answers as the DRF views, slow path for the rare cases."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.views import APIView

from annotations.api.judging.views import JudgmentInput
from annotations.models import Assignment, AssignmentStatus, Judgment
from annotations.services.assignment import assignment_next
from tests.judging_support import judging_study, make_user, user_token

pytestmark = pytest.mark.django_db


def _client(username: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_token(username)}")
    return client


def _next(client: APIClient) -> dict:
    response = client.post("/api/studies/rating/assignments/next", format="json")
    assert response.status_code == 200
    return response.json()


def _judge(client: APIClient, assignment_id: int, body: object, **extra: str):
    return client.post(
        f"/api/assignments/{assignment_id}/judgment",
        data=json.dumps(body),
        content_type="application/json",
        **extra,
    )


def test_fast_and_serializer_paths_answer_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    judging_study(prompts=2, scale="likert5")
    client = _client("r1")
    serialized: list[object] = []
    original = JudgmentInput.is_valid

    def spy(self: JudgmentInput, *args: object, **kwargs: object) -> bool:
        serialized.append(self.initial_data)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(JudgmentInput, "is_valid", spy)
    first = _next(client)
    # A plain JSON answer takes the fast lane...
    fast = _judge(client, first["id"], {"winner": "left", "strength": 2, "duration_ms": 10})
    assert serialized == []
    second = _next(client)
    # ... a number sent as text is coerced by DRF's serializer, which then serves it.
    slow = _judge(client, second["id"], {"winner": "left", "strength": "2", "duration_ms": "10"})
    assert len(serialized) == 1
    assert fast.status_code == slow.status_code == 201
    for response in (fast, slow):
        assert response["Content-Type"] == "application/json"
        assert "Accept" not in response.get("Vary", "")  # JSON whatever the Accept header
        assert response["Allow"] == "POST, OPTIONS"
    fast_body, slow_body = fast.json(), slow.json()
    assert set(fast_body) == set(slow_body)
    for key in ("winner", "strength", "criteria", "flags", "rationale", "duration_ms", "created"):
        assert fast_body[key] == slow_body[key]
    stored = {j.assignment_id: j for j in Judgment.objects.all()}
    assert abs(stored[first["id"]].preference) == abs(stored[second["id"]].preference) == 2
    # A repeat answers 200 with the stored judgment, whatever it carries.
    again = _judge(client, first["id"], {"winner": "right", "strength": 1})
    assert again.status_code == 200
    assert again.json()["winner"] == "left" and again.json()["created"] is False
    assert Judgment.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"winner": "left", "rationale": "a\x00b"}, "rationale"),
        ({"winner": "left", "duration_ms": -1}, "duration_ms"),
        ({"winner": "left", "criteria": []}, "criteria"),
        ({"winner": "left", "strength": True}, "strength"),
        ({"winner": "sideways"}, "winner"),
    ],
)
def test_answers_the_serializer_refuses_are_refused_alike(body: dict, field: str) -> None:
    judging_study(prompts=1, scale="ternary")
    client = _client("r1")
    assignment = _next(client)
    response = _judge(client, assignment["id"], body)
    assert response.status_code == 400
    assert field in {e["field"] for e in response.json()["errors"]}
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=assignment["id"]).status == AssignmentStatus.OPEN


def test_service_errors_on_the_fast_lane_keep_the_error_shape() -> None:
    judging_study(prompts=1, scale="ternary", rationale="required")
    client = _client("r1")
    assignment = _next(client)
    response = _judge(client, assignment["id"], {"winner": "left"})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "rationale"
    assert body["detail"].startswith("rationale: ")
    skipped = client.post(f"/api/assignments/{assignment['id']}/skip", {}, format="json")
    assert skipped.status_code == 200
    late = _judge(client, assignment["id"], {"winner": "left", "rationale": "why"})
    assert late.status_code == 409
    assert late.json()["errors"] == [{"field": None, "message": "you skipped this comparison"}]


def test_inactive_token_user_gets_drfs_401() -> None:
    judging_study(prompts=1)
    client = _client("r1")
    user = make_user("r1")
    user.is_active = False
    user.save(update_fields=["is_active"])
    response = client.post("/api/studies/rating/assignments/next", format="json")
    assert response.status_code == 401
    assert response.json()["detail"]
    assert not Assignment.objects.exists()


def test_session_page_request_with_csrf_takes_the_fast_lane_and_judges() -> None:
    judging_study(prompts=1)
    make_user("webrater")
    client = Client(enforce_csrf_checks=True)
    assert client.login(username="webrater", password="pw-for-tests-1")
    client.get("/studies/rating/judge/")
    token = client.cookies["csrftoken"].value
    leased = client.post(
        "/api/studies/rating/assignments/next?progress=1",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert leased.status_code == 200
    assert leased.json()["progress"] == {
        "judged": 0,
        "skipped": 0,
        "remaining": 1,
        "quota": None,
        "complete": False,
        "completion_code": None,
        "completion_url": None,
        "stopped": None,
        "screenout_code": None,
        "screenout_url": None,
        "study_complete": False,
    }
    refused = client.post(
        f"/api/assignments/{leased.json()['id']}/judgment",
        data=json.dumps({"winner": "tie"}),
        content_type="application/json",
    )
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    judged = client.post(
        f"/api/assignments/{leased.json()['id']}/judgment?progress=1",
        data=json.dumps({"winner": "tie"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
    )
    assert judged.status_code == 201
    assert judged.json()["progress"]["judged"] == 1


def test_expired_own_lease_is_renewed_while_the_comparison_has_room() -> None:
    study = judging_study(prompts=2, overlap=2)
    rater = make_user("r1")
    first = assignment_next(study=study, rater=rater)
    Assignment.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    again = assignment_next(study=study, rater=rater)
    assert again.pk == first.pk
    assert again.expires_at > timezone.now()
    # The lease comes back with what the page shows, whichever path served it.
    assert again.comparison.output_a.text and again.comparison.prompt.text


def test_expired_own_lease_on_a_filled_comparison_moves_the_rater_on() -> None:
    study = judging_study(prompts=2, overlap=1)
    r1, r2 = make_user("r1"), make_user("r2")
    first = assignment_next(study=study, rater=r1)
    Assignment.objects.filter(pk=first.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    taken = assignment_next(study=study, rater=r2)
    assert taken.comparison_id == first.comparison_id
    moved = assignment_next(study=study, rater=r1)
    assert moved.comparison_id != first.comparison_id
    closed = Assignment.objects.get(pk=first.pk)
    assert closed.status == AssignmentStatus.SKIPPED and closed.skip_reason == "lease expired"


def test_counterbalanced_order_over_many_raters() -> None:
    study = judging_study(prompts=1, overlap=6)
    lefts = []
    for i in range(6):
        lease = assignment_next(study=study, rater=make_user(f"r{i}"))
        lefts.append(lease.left_is_a)
    assert lefts.count(True) == 3


def test_the_common_requests_never_reach_drf(monkeypatch: pytest.MonkeyPatch) -> None:
    judging_study(prompts=2, scale="ternary")
    client = _client("r1")
    reached: list[str] = []
    original = APIView.initial

    def spy(self: APIView, request: object, *args: object, **kwargs: object) -> None:
        reached.append(type(self).__name__)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(APIView, "initial", spy)
    lease = client.post("/api/studies/rating/assignments/next?progress=1", format="json")
    assert lease.status_code == 200 and "progress" in lease.json()
    assert _judge(client, lease.json()["id"], {"winner": "tie"}).status_code == 201
    assert reached == []
    # Input DRF must coerce (a number sent as text) goes through the view, and the spy sees it.
    second = _next(client)
    assert _judge(client, second["id"], {"winner": "tie", "duration_ms": "5"}).status_code == 201
    assert reached == ["JudgmentView"]
