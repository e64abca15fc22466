"""Revising the last judgment (one level of undo): service rules and the revision endpoint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from annotations.analysis.cache import study_results
from annotations.models import Assignment, Comparison, Judgment, Study, User
from annotations.services.assignment import NotYourAssignment, assignment_next, assignment_skip
from annotations.services.judging import (
    SERVED_CLOCK_SLACK,
    RevisionRefused,
    judgment_revise,
    judgment_submit,
)
from tests.judging_support import judging_study, make_user, user_token

pytestmark = pytest.mark.django_db


def _judged(study: Study, rater: User, **answer: object) -> tuple[Assignment, Judgment]:
    assignment = assignment_next(study=study, rater=rater)
    assert assignment is not None
    judgment, created = judgment_submit(
        assignment=assignment, rater=rater, **({"winner": "left"} | answer)
    )
    assert created
    return assignment, judgment


def _counts(study: Study) -> list[tuple[int, int]]:
    return list(study.comparisons.order_by("pk").values_list("pk", "judgment_count"))


def test_revision_replaces_the_verdict_keeps_created_at_and_changes_no_count() -> None:
    study = judging_study(prompts=2, scale="likert5", criteria=["helpful"], flags=["hallucination"])
    rater = make_user("r1")
    assignment, judgment = _judged(
        study,
        rater,
        winner="left",
        strength=2,
        criteria={"helpful": {"winner": "left", "strength": 1}},
        duration_ms=900,
    )
    before = _counts(study)
    leases = Assignment.objects.count()

    revised = judgment_revise(
        assignment=assignment,
        rater=rater,
        winner="right",
        strength=1,
        criteria={"helpful": {"winner": "tie"}},
        flags={"left": ["hallucination"]},
        rationale="on second thought",
        duration_ms=400,
    )

    stored = Judgment.objects.get(rater=rater)
    assert stored.pk == judgment.pk == revised.pk  # the same row: one judgment per comparison
    assert Judgment.objects.filter(comparison_id=judgment.comparison_id, rater=rater).count() == 1
    sign = 1 if stored.left_is_a else -1
    assert stored.preference == -sign  # right, strength 1, in canonical orientation
    assert stored.criteria == {"helpful": 0}
    assert stored.flags == {"a" if stored.left_is_a else "b": ["hallucination"]} | {
        "b" if stored.left_is_a else "a": []
    }
    assert stored.rationale == "on second thought"
    assert stored.created_at == judgment.created_at
    assert stored.revised_at is not None and stored.revised_at >= stored.created_at
    assert stored.duration_ms == 1300  # the revision's time on task is added
    assert stored.left_is_a == judgment.left_is_a and stored.assignment_id == assignment.pk
    assert _counts(study) == before and Assignment.objects.count() == leases


def test_revision_may_be_repeated_and_is_validated_like_a_submit() -> None:
    study = judging_study(prompts=1, scale="binary")
    rater = make_user("r1")
    assignment, _ = _judged(study, rater)
    with pytest.raises(ValidationError) as caught:
        judgment_revise(assignment=assignment, rater=rater, winner="tie")
    assert "winner" in caught.value.message_dict
    judgment_revise(assignment=assignment, rater=rater, winner="right")
    again = judgment_revise(assignment=assignment, rater=rater, winner="left")
    assert again.preference == (1 if again.left_is_a else -1)


def test_revision_refused_once_the_pair_was_served_to_another_rater() -> None:
    study = judging_study(prompts=1, overlap=2)
    r1, r2 = make_user("r1"), make_user("r2")
    assignment, judgment = _judged(study, r1)
    # Another rater takes the comparison after the judgment: the verdict now stands.
    other = assignment_next(study=study, rater=r2)
    assert other is not None and other.comparison_id == judgment.comparison_id
    with pytest.raises(RevisionRefused) as caught:
        judgment_revise(assignment=assignment, rater=r1, winner="right")
    assert caught.value.code == "served"
    assert Judgment.objects.get(pk=judgment.pk).preference == judgment.preference
    assert Judgment.objects.get(pk=judgment.pk).revised_at is None


def test_a_lease_from_well_before_the_judgment_does_not_block_the_revision() -> None:
    study = judging_study(prompts=1, overlap=2)
    r1, r2 = make_user("r1"), make_user("r2")
    other = assignment_next(study=study, rater=r2)
    # r2 was given the pair long before r1's judgment (served before, not after).
    Assignment.objects.filter(pk=other.pk).update(
        created_at=timezone.now() - SERVED_CLOCK_SLACK - timedelta(minutes=1)
    )
    assignment, _ = _judged(study, r1)
    assert judgment_revise(assignment=assignment, rater=r1, winner="right").revised_at


def test_revision_refused_for_another_raters_judgment() -> None:
    study = judging_study(prompts=2)
    r1, r2 = make_user("r1"), make_user("r2")
    assignment, judgment = _judged(study, r1)
    with pytest.raises(NotYourAssignment):
        judgment_revise(assignment=assignment, rater=r2, winner="right")
    assert Judgment.objects.get(pk=judgment.pk).revised_at is None


def test_only_the_latest_judgment_and_only_a_judged_assignment_can_be_revised() -> None:
    study = judging_study(prompts=3)
    rater = make_user("r1")
    first, _ = _judged(study, rater)
    second, _ = _judged(study, rater)
    with pytest.raises(RevisionRefused) as caught:
        judgment_revise(assignment=first, rater=rater, winner="right")
    assert caught.value.code == "not_last"
    # The open lease and a skipped one have nothing to revise; the latest judgment still can.
    third = assignment_next(study=study, rater=rater)
    with pytest.raises(RevisionRefused) as caught:
        judgment_revise(assignment=third, rater=rater, winner="right")
    assert caught.value.code == "not_judged"
    assignment_skip(assignment=third, rater=rater)
    with pytest.raises(RevisionRefused):
        judgment_revise(assignment=third, rater=rater, winner="right")
    assert judgment_revise(assignment=second, rater=rater, winner="right").revised_at


def test_revision_refused_on_a_closed_study() -> None:
    study = judging_study(prompts=1)
    rater = make_user("r1")
    assignment, _ = _judged(study, rater)
    Study.objects.filter(pk=study.pk).update(is_open=False)
    with pytest.raises(ValidationError) as caught:
        judgment_revise(assignment=assignment, rater=rater, winner="right")
    assert caught.value.code == "closed"


def test_results_reflect_a_revision() -> None:
    study = judging_study(prompts=1)
    rater = make_user("r1")
    assignment, _ = _judged(study, rater, winner="left")
    before = study_results(study=study)
    judgment_revise(assignment=assignment, rater=rater, winner="right")
    assert study_results(study=study)["version"] != before["version"]


# --- the endpoint -------------------------------------------------------------------------


def _client(username: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user_token(username)}")
    return client


def _revise(client: APIClient, assignment_id: int, body: dict, query: str = ""):
    return client.post(f"/api/assignments/{assignment_id}/revision{query}", body, format="json")


def test_revision_endpoint_answers_the_judgment_with_revised_at_and_progress() -> None:
    judging_study(prompts=2)
    client = _client("r1")
    shown = client.post("/api/studies/rating/assignments/next", format="json").json()
    submitted = client.post(
        f"/api/assignments/{shown['id']}/judgment", {"winner": "left"}, format="json"
    ).json()
    response = _revise(client, shown["id"], {"winner": "tie"}, "?progress=1")
    assert response.status_code == 200
    body = response.json()
    assert body["winner"] == "tie" and body["assignment"] == shown["id"]
    assert body["created_at"] == submitted["created_at"] and body["revised_at"]
    assert body["progress"]["judged"] == 1
    # The judgment endpoint's repeat answer now carries the revised verdict.
    repeat = client.post(
        f"/api/assignments/{shown['id']}/judgment", {"winner": "left"}, format="json"
    )
    assert repeat.status_code == 200 and repeat.json()["winner"] == "tie"
    assert Comparison.objects.get(judgments__rater__username="r1").judgment_count == 1


def test_revision_endpoint_409_after_another_rater_was_served_and_404_for_strangers() -> None:
    judging_study(prompts=1, overlap=2)
    client = _client("r1")
    shown = client.post("/api/studies/rating/assignments/next", format="json").json()
    client.post(f"/api/assignments/{shown['id']}/judgment", {"winner": "left"}, format="json")
    assert _revise(_client("r2"), shown["id"], {"winner": "right"}).status_code == 404
    _client("r3").post("/api/studies/rating/assignments/next", format="json")
    response = _revise(client, shown["id"], {"winner": "right"})
    assert response.status_code == 409
    body = response.json()
    assert "another rater" in body["detail"] and isinstance(body["errors"], list)


def test_revision_endpoint_400_names_the_bad_field_and_409_when_not_judged() -> None:
    judging_study(prompts=2, scale="binary")
    client = _client("r1")
    shown = client.post("/api/studies/rating/assignments/next", format="json").json()
    assert _revise(client, shown["id"], {"winner": "left"}).status_code == 409
    client.post(f"/api/assignments/{shown['id']}/judgment", {"winner": "left"}, format="json")
    response = _revise(client, shown["id"], {"winner": "tie"})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["winner"]
    assert _revise(client, shown["id"], {"winner": "sideways"}).status_code == 400
    assert _revise(APIClient(), shown["id"], {"winner": "left"}).status_code == 401
