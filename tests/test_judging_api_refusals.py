"""Rater API refusals that used to slip through: judging a closed study, malformed strengths."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from annotations.models import Judgment
from annotations.services.studies import study_create_or_update
from tests.api_support import assert_error_shape
from tests.judging_support import BASELINE, judging_study, user_token

pytestmark = pytest.mark.django_db


def _rater_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_token('r1')}")
    return client


def _lease(client: APIClient) -> int:
    response = client.post("/api/studies/rating/assignments/next", format="json")
    assert response.status_code == 200
    return response.json()["id"]


# A plain JSON answer takes the fast lane; a string strength goes through DRF's serializer.
@pytest.mark.parametrize("strength", [None, "1"])
def test_judging_a_closed_study_is_refused_and_nothing_is_stored(strength: Any) -> None:
    judging_study(prompts=1)
    client = _rater_client()
    assignment_id = _lease(client)
    study_create_or_update(slug="rating", baseline=BASELINE, is_open=False)
    answer = {"winner": "left"} if strength is None else {"winner": "left", "strength": strength}
    response = client.post(f"/api/assignments/{assignment_id}/judgment", answer, format="json")
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body)
    assert "closed" in body["detail"]
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    "strength",
    ["²", "--1", "1.5", 1.5, True, False, 10**30, -(10**30), "9" * 5000, [1], {"n": 1}, ""],
)
def test_a_strength_that_is_not_a_whole_number_on_the_scale_is_a_field_error(
    strength: Any,
) -> None:
    judging_study(prompts=1, scale="likert5")
    client = _rater_client()
    assignment_id = _lease(client)
    response = client.post(
        f"/api/assignments/{assignment_id}/judgment",
        {"winner": "left", "strength": strength},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body)
    assert [e["field"] for e in body["errors"]] == ["strength"]
    assert not Judgment.objects.exists()
