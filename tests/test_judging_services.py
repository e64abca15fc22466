"""Assignment and judging services: leases, overlap, counterbalancing, form validation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from annotations.models import Assignment, AssignmentStatus, Comparison, Judgment, Study
from annotations.selectors.judging import rater_progress, scale_choices
from annotations.services.assignment import (
    NotYourAssignment,
    assignment_next,
    assignment_skip,
)
from annotations.services.judging import LeaseLost, judgment_submit
from annotations.services.studies import study_create_or_update
from tests.judging_support import BASELINE, judging_study, make_user

pytestmark = pytest.mark.django_db


def _expire(assignment: Assignment) -> None:
    # Stands in for the passage of time: the lease's expiry moves into the past.
    Assignment.objects.filter(pk=assignment.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assignment.refresh_from_db()


def test_reload_returns_the_same_open_lease() -> None:
    study = judging_study(prompts=3)
    rater = make_user("r1")
    first = assignment_next(study=study, rater=rater)
    again = assignment_next(study=study, rater=rater)
    assert first is not None and again is not None
    assert again.pk == first.pk
    assert Assignment.objects.filter(rater=rater).count() == 1
    assert first.expires_at > timezone.now() + timedelta(minutes=14)


def test_fewest_judgments_first_and_exactly_overlap_raters() -> None:
    study = judging_study(prompts=1, overlap=2)
    r1, r2, r3 = make_user("r1"), make_user("r2"), make_user("r3")
    a1 = assignment_next(study=study, rater=r1)
    a2 = assignment_next(study=study, rater=r2)
    assert a1 is not None and a2 is not None
    assert a1.comparison_id == a2.comparison_id
    # Two live leases fill the overlap: the third rater gets nothing.
    assert assignment_next(study=study, rater=r3) is None
    judgment_submit(assignment=a1, rater=r1, winner="left")
    assert assignment_next(study=study, rater=r3) is None
    # Nothing left for r1 either: it has judged the only comparison.
    assert assignment_next(study=study, rater=r1) is None


def test_fewest_judgments_go_first() -> None:
    study = judging_study(prompts=2, overlap=3)
    r1, r2 = make_user("r1"), make_user("r2")
    a1 = assignment_next(study=study, rater=r1)
    judgment_submit(assignment=a1, rater=r1, winner="left")
    # r2 gets the other comparison, which has no judgment yet, though the first has room.
    a2 = assignment_next(study=study, rater=r2)
    assert a2.comparison_id != a1.comparison_id


def test_expired_lease_frees_the_comparison_and_late_submit_is_refused_when_filled() -> None:
    study = judging_study(prompts=1, overlap=1)
    r1, r2 = make_user("r1"), make_user("r2")
    a1 = assignment_next(study=study, rater=r1)
    assert assignment_next(study=study, rater=r2) is None
    _expire(a1)
    a2 = assignment_next(study=study, rater=r2)
    assert a2 is not None and a2.comparison_id == a1.comparison_id
    with pytest.raises(LeaseLost) as caught:
        judgment_submit(assignment=a1, rater=r1, winner="left", rationale="kept text")
    assert "ran out" in caught.value.messages[0]
    assert not Judgment.objects.exists()
    _judgment, created = judgment_submit(assignment=a2, rater=r2, winner="right")
    assert created
    assert Comparison.objects.get().judgment_count == 1


def test_late_submit_is_accepted_while_the_comparison_still_needs_a_rater() -> None:
    study = judging_study(prompts=1, overlap=2)
    r1 = make_user("r1")
    a1 = assignment_next(study=study, rater=r1)
    _expire(a1)
    judgment, created = judgment_submit(assignment=a1, rater=r1, winner="tie")
    assert created and judgment.preference == 0
    a1.refresh_from_db()
    assert a1.status == AssignmentStatus.DONE


def test_expired_own_lease_is_renewed_on_reload_when_there_is_room() -> None:
    study = judging_study(prompts=2, overlap=1)
    r1 = make_user("r1")
    a1 = assignment_next(study=study, rater=r1)
    _expire(a1)
    again = assignment_next(study=study, rater=r1)
    assert again.pk == a1.pk
    assert again.expires_at > timezone.now()


def test_expired_own_lease_taken_by_another_is_closed_and_rater_moves_on() -> None:
    study = judging_study(prompts=2, overlap=1)
    r1, r2 = make_user("r1"), make_user("r2")
    a1 = assignment_next(study=study, rater=r1)
    _expire(a1)
    # r2 gets the lowest-id comparison with room: the one r1 let expire.
    a2 = assignment_next(study=study, rater=r2)
    assert a2.comparison_id == a1.comparison_id
    nxt = assignment_next(study=study, rater=r1)
    assert nxt is not None and nxt.comparison_id != a1.comparison_id
    a1.refresh_from_db()
    assert a1.status == AssignmentStatus.SKIPPED
    with pytest.raises(LeaseLost):
        judgment_submit(assignment=a1, rater=r1, winner="left")


def test_skip_is_not_served_again_and_is_idempotent() -> None:
    study = judging_study(prompts=2, overlap=3)
    r1 = make_user("r1")
    a1 = assignment_next(study=study, rater=r1)
    assignment_skip(assignment=a1, rater=r1, reason="I cannot read this language")
    assignment_skip(assignment=a1, rater=r1)
    a1.refresh_from_db()
    assert a1.status == AssignmentStatus.SKIPPED
    assert a1.skip_reason == "I cannot read this language"
    a2 = assignment_next(study=study, rater=r1)
    assert a2.comparison_id != a1.comparison_id
    judgment_submit(assignment=a2, rater=r1, winner="left")
    assert assignment_next(study=study, rater=r1) is None
    with pytest.raises(ValidationError, match="already judged"):
        assignment_skip(assignment=a2, rater=r1)
    with pytest.raises(ValidationError, match="skipped"):
        judgment_submit(assignment=a1, rater=r1, winner="left")
    progress = rater_progress(study=study, rater=r1)
    assert {k: progress[k] for k in ("judged", "skipped", "remaining")} == {
        "judged": 1,
        "skipped": 1,
        "remaining": 0,
    }


def test_only_raters_take_assignments_and_only_their_own() -> None:
    study = judging_study(prompts=1)
    researcher = make_user("res", role="researcher")
    admin = make_user("adm", role="admin")
    r1, r2 = make_user("r1"), make_user("r2")
    for user in (researcher, admin):
        with pytest.raises(PermissionDenied):
            assignment_next(study=study, rater=user)
    a1 = assignment_next(study=study, rater=r1)
    with pytest.raises(NotYourAssignment):
        judgment_submit(assignment=a1, rater=r2, winner="left")
    with pytest.raises(NotYourAssignment):
        assignment_skip(assignment=a1, rater=r2)
    assert not Judgment.objects.exists()


def test_closed_study_gives_no_assignments() -> None:
    study = judging_study(prompts=1, is_open=False)
    with pytest.raises(ValidationError, match="closed"):
        assignment_next(study=study, rater=make_user("r1"))


def test_repeat_submit_returns_the_stored_judgment() -> None:
    study = judging_study(prompts=1)
    r1 = make_user("r1")
    a1 = assignment_next(study=study, rater=r1)
    first, created = judgment_submit(assignment=a1, rater=r1, winner="left", rationale="clear")
    again, created_again = judgment_submit(assignment=a1, rater=r1, winner="right")
    assert created and not created_again
    assert again.pk == first.pk and again.rationale == "clear"
    assert Judgment.objects.count() == 1
    assert Comparison.objects.get().judgment_count == 1


def test_left_right_converted_to_canonical_orientation() -> None:
    study = judging_study(
        prompts=2,
        scale="likert5",
        criteria=["helpful", "honest"],
        flags=["hallucination", "opinion"],
    )
    r1 = make_user("r1")
    seen = []
    for _ in range(2):
        a = assignment_next(study=study, rater=r1)
        judgment, _ = judgment_submit(
            assignment=a,
            rater=r1,
            winner="left",
            strength=2,
            criteria={"helpful": {"winner": "left", "strength": 1}, "honest": "tie"},
            flags={"left": ["opinion", "hallucination", "opinion"], "right": []},
        )
        seen.append((a.left_is_a, judgment))
    for left_is_a, judgment in seen:
        sign = 1 if left_is_a else -1
        assert judgment.left_is_a == left_is_a
        assert judgment.preference == 2 * sign
        assert judgment.criteria == {"helpful": sign, "honest": 0}
        left_side = "a" if left_is_a else "b"
        right_side = "b" if left_is_a else "a"
        assert judgment.flags == {left_side: ["hallucination", "opinion"], right_side: []}


def test_left_right_order_is_counterbalanced_across_raters() -> None:
    study = judging_study(prompts=1, overlap=6)
    lefts = []
    for i in range(6):
        rater = make_user(f"r{i}")
        a = assignment_next(study=study, rater=rater)
        lefts.append(a.left_is_a)
        if i % 2:
            judgment_submit(assignment=a, rater=rater, winner="left")
    assert lefts.count(True) == 3 and lefts.count(False) == 3


@pytest.mark.parametrize(
    ("scale", "answer", "message"),
    [
        ("binary", {"winner": "tie"}, "must be one of left, right"),
        ("binary", {"winner": "left", "strength": 2}, "from 1 to 1"),
        ("ternary", {"winner": "up"}, "must be one of left, tie, right"),
        ("ternary", {"winner": "tie", "strength": 1}, "a tie has no strength"),
        ("likert5", {"winner": "left"}, "from 1 to 2"),
        ("likert5", {"winner": "right", "strength": 3}, "from 1 to 2"),
        ("likert7", {"winner": "right", "strength": 4}, "from 1 to 3"),
        ("likert7", {"winner": "left", "strength": True}, "from 1 to 3"),
    ],
)
def test_form_validation_per_scale(scale: str, answer: dict, message: str) -> None:
    study = judging_study(prompts=1, scale=scale)
    r1 = make_user("r1")
    a = assignment_next(study=study, rater=r1)
    with pytest.raises(ValidationError) as caught:
        judgment_submit(assignment=a, rater=r1, **answer)
    assert message in str(caught.value.message_dict)
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(
    ("scale", "winner", "strength", "preference_left"),
    [
        ("binary", "right", None, -1),
        ("ternary", "tie", None, 0),
        ("likert5", "left", 2, 2),
        ("likert7", "right", 3, -3),
        ("likert7", "tie", None, 0),
    ],
)
def test_valid_answers_per_scale(
    scale: str, winner: str, strength: int | None, preference_left: int
) -> None:
    study = judging_study(prompts=1, scale=scale)
    r1 = make_user("r1")
    a = assignment_next(study=study, rater=r1)
    judgment, _ = judgment_submit(assignment=a, rater=r1, winner=winner, strength=strength)
    assert judgment.preference == (preference_left if a.left_is_a else -preference_left)
    assert judgment.scale == scale


def test_form_settings_are_enforced() -> None:
    study = judging_study(
        prompts=1, allow_both_bad=False, criteria=["helpful"], flags=["hallucination"]
    )
    r1 = make_user("r1")
    a = assignment_next(study=study, rater=r1)
    with pytest.raises(ValidationError) as caught:
        judgment_submit(
            assignment=a,
            rater=r1,
            winner="both_bad",
            criteria={"harmless": "left"},
            flags={"left": ["sexual"], "middle": []},
        )
    errors = caught.value.message_dict
    assert "no 'both are bad'" in errors["winner"][0]
    assert "harmless" in errors["criteria"][0]
    assert errors["criteria.helpful"] == ["this question needs an answer"]
    assert "sexual" in errors["flags.left"][0]
    assert "middle" in errors["flags"][0]


def test_rationale_modes() -> None:
    r1 = make_user("r1")
    required = judging_study(slug="req", prompts=1, rationale="required")
    a = assignment_next(study=required, rater=r1)
    with pytest.raises(ValidationError, match="asks for a rationale"):
        judgment_submit(assignment=a, rater=r1, winner="left", rationale="   ")
    judgment, _ = judgment_submit(assignment=a, rater=r1, winner="left", rationale=" because ")
    assert judgment.rationale == "because"
    off = judging_study(slug="off", prompts=1, rationale="off")
    b = assignment_next(study=off, rater=r1)
    with pytest.raises(ValidationError, match="does not ask"):
        judgment_submit(assignment=b, rater=r1, winner="left", rationale="unasked")


def test_both_bad_is_a_tie_with_the_flag_set() -> None:
    study = judging_study(prompts=1, scale="likert7")
    r1 = make_user("r1")
    a = assignment_next(study=study, rater=r1)
    judgment, _ = judgment_submit(assignment=a, rater=r1, winner="both_bad")
    assert judgment.both_bad and judgment.preference == 0


def test_duration_uses_sane_client_time_else_server_time() -> None:
    study = judging_study(prompts=2)
    r1 = make_user("r1")
    a = assignment_next(study=study, rater=r1)
    judgment, _ = judgment_submit(assignment=a, rater=r1, winner="left", duration_ms=1200)
    assert judgment.duration_ms == 1200
    b = assignment_next(study=study, rater=r1)
    judgment, _ = judgment_submit(assignment=b, rater=r1, winner="left", duration_ms=10**9)
    # An impossible client figure falls back to the server's time since the lease: small here.
    assert judgment.duration_ms < 60_000


def test_scale_choices_have_keys_in_order() -> None:
    labels = [c["label"] for c in scale_choices(scale="likert5")]
    assert labels == ["A much better", "A better", "Tie", "B better", "B much better"]
    assert [c["key"] for c in scale_choices(scale="binary")] == ["1", "2"]


def _close(study: Study) -> None:
    study_create_or_update(slug=study.slug, baseline=BASELINE, is_open=False)


def test_submit_on_a_closed_study_is_refused_and_writes_nothing() -> None:
    study = judging_study(prompts=1)
    r1 = make_user("r1")
    a1 = assignment_next(study=study, rater=r1)
    _close(study)
    # a1 still carries the study as loaded before the closing: the fast path's own check
    # refuses it; a fresh copy goes straight to the locked path.
    fresh = Assignment.objects.select_related("study").get(pk=a1.pk)
    for assignment in (a1, fresh):
        with pytest.raises(ValidationError) as caught:
            judgment_submit(assignment=assignment, rater=r1, winner="left")
        assert caught.value.code == "closed"
        assert "closed" in caught.value.messages[0]
    assert not Judgment.objects.exists()
    assert Comparison.objects.get().judgment_count == 0
    a1.refresh_from_db()
    assert a1.status == AssignmentStatus.OPEN


def test_late_submit_on_a_closed_study_is_refused() -> None:
    study = judging_study(prompts=1, overlap=2)
    r1 = make_user("r1")
    a1 = assignment_next(study=study, rater=r1)
    _expire(a1)
    _close(study)
    with pytest.raises(ValidationError) as caught:
        judgment_submit(assignment=a1, rater=r1, winner="tie")
    assert caught.value.code == "closed"
    assert not Judgment.objects.exists()


def test_repeat_submit_after_closing_returns_the_stored_judgment() -> None:
    study = judging_study(prompts=1)
    r1 = make_user("r1")
    a1 = assignment_next(study=study, rater=r1)
    first, _ = judgment_submit(assignment=a1, rater=r1, winner="left")
    _close(study)
    again, created = judgment_submit(assignment=a1, rater=r1, winner="left")
    assert again.pk == first.pk and not created


@pytest.mark.parametrize("strength", ["²", "--1", "1", "1.5", 1.5, 2.0, True, False, 10**30, -1])
def test_strength_that_is_not_a_whole_number_on_the_scale_is_a_field_error(
    strength: object,
) -> None:
    study = judging_study(prompts=1, scale="likert5", criteria=["helpful"])
    r1 = make_user("r1")
    a = assignment_next(study=study, rater=r1)
    with pytest.raises(ValidationError) as caught:
        judgment_submit(
            assignment=a,
            rater=r1,
            winner="left",
            strength=strength,
            criteria={"helpful": {"winner": "right", "strength": strength}},
        )
    errors = caught.value.message_dict
    assert set(errors) == {"strength", "criteria.helpful.strength"}
    assert "whole number from 1 to 2" in errors["strength"][0]
    assert not Judgment.objects.exists()
