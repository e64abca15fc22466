"""Screening (qualification), the automatic pause on gold, and exclusion with replacement."""

from __future__ import annotations

import pytest

from annotations.models import Assignment, Comparison, Judgment, RaterEvent, RaterStanding
from annotations.selectors.judging import rater_progress
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from annotations.services.quality import (
    rater_exclude,
    rater_include,
    rater_pause,
    rater_resume,
)
from tests.judging_support import judging_study, make_user
from tests.quality_support import answer, attention_checks, check_of

pytestmark = pytest.mark.django_db


def screening_study(**settings):
    study = judging_study(
        prompts=4,
        gold_rate=0.0,
        qualification=3,
        qualification_pass=0.66,
        screenout_code="SCREEN-1",
        screenout_url="https://app.prolific.com/submissions/complete?cc={code}",
        **settings,
    )
    attention_checks(study, 6)
    study.refresh_from_db()
    return study


def test_a_rater_who_passes_the_qualification_goes_on_to_regular_pairs() -> None:
    study = screening_study()
    rater = make_user("r1")
    kinds = [answer(study, rater, right=ok) for ok in (True, False, True)]
    assert kinds == ["gold"] * 3
    assert answer(study, rater) == "data"
    standing = RaterStanding.objects.get(study=study, rater=rater)
    assert standing.qualification == "passed"
    event = RaterEvent.objects.get(study=study, rater=rater)
    assert event.action == "qualify" and event.by is None
    assert "2 of 3" in event.reason


def test_a_rater_who_fails_is_screened_out_with_the_code() -> None:
    study = screening_study()
    rater = make_user("r1")
    assert [answer(study, rater, right=ok) for ok in (False, False, True)] == ["gold"] * 3
    assert answer(study, rater) == "none"
    assert not Assignment.objects.filter(rater=rater).exists()
    progress = rater_progress(study=study, rater=rater)
    assert progress["stopped"] == "screened_out"
    assert progress["complete"] is False and progress["completion_code"] is None
    assert progress["screenout_code"] == "SCREEN-1"
    assert progress["screenout_url"].endswith("cc=SCREEN-1")
    assert RaterEvent.objects.get(rater=rater).action == "screen_out"


def test_a_retry_gives_a_second_attempt_with_other_gold_items_only_once() -> None:
    study = screening_study(qualification_retry=True)
    rater = make_user("r1")
    assert [answer(study, rater, right=False) for _ in range(3)] == ["gold"] * 3
    # The second attempt: three more, different gold items.
    assert [answer(study, rater, right=False) for _ in range(3)] == ["gold"] * 3
    assert answer(study, rater) == "none"
    golds = list(study.gold_items.values_list("checks__rater", flat=True))
    assert len(golds) == 6
    actions = list(RaterEvent.objects.filter(rater=rater).values_list("action", flat=True))
    assert actions == ["retry", "screen_out"]


def test_no_regular_pair_goes_to_a_rater_before_they_pass() -> None:
    study = screening_study()
    rater = make_user("r1")
    lease = assignment_next(study=study, rater=rater)
    assert check_of(lease) is not None
    # Even the regular path alone (a second tab racing the first) leases nothing.
    assert not Assignment.objects.filter(rater=rater).exists()


def test_gold_accuracy_below_the_minimum_pauses_the_rater() -> None:
    study = judging_study(prompts=20, gold_rate=0.5, gold_min_n=3, gold_min_accuracy=0.6)
    attention_checks(study, 10)
    study.refresh_from_db()
    rater = make_user("r1")
    kinds = []
    for _ in range(40):
        kind = answer(study, rater, right=False)
        kinds.append(kind)
        if kind == "none":
            break
    assert kinds[-1] == "none"
    assert kinds.count("gold") == 3
    standing = RaterStanding.objects.get(study=study, rater=rater)
    assert standing.paused and "0%" in standing.paused_reason
    assert rater_progress(study=study, rater=rater)["stopped"] == "paused"
    # An admin resumes them; they are paused again only on a new failing gold answer.
    admin = make_user("boss", role="admin")
    assert rater_resume(study=study, rater=rater, by=admin) is True
    assert RaterEvent.objects.filter(rater=rater, action="resume", by=admin).exists()


def test_pausing_releases_the_open_lease() -> None:
    study = judging_study(prompts=3)
    rater = make_user("r1")
    lease = assignment_next(study=study, rater=rater)
    admin = make_user("boss", role="admin")
    assert rater_pause(study=study, rater=rater, reason="checking", by=admin) is True
    lease.refresh_from_db()
    assert lease.status == "skipped" and lease.skip_reason == "rater paused"
    assert assignment_next(study=study, rater=rater) is None
    assert rater_pause(study=study, rater=rater, reason="again", by=admin) is False


def test_excluding_a_rater_puts_their_pairs_back_for_others() -> None:
    study = judging_study(prompts=3, overlap=1)
    bad, good = make_user("bad"), make_user("good")
    for _ in range(3):
        lease = assignment_next(study=study, rater=bad)
        judgment_submit(assignment=lease, rater=bad, winner="left")
    # Every pair has its one rater: nothing for the good rater.
    assert assignment_next(study=study, rater=good) is None
    admin = make_user("boss", role="admin")
    assert rater_exclude(study=study, rater=bad, reason="random clicks", by=admin) is True
    assert set(Comparison.objects.values_list("judgment_count", flat=True)) == {0}
    for _ in range(3):
        lease = assignment_next(study=study, rater=good)
        judgment_submit(assignment=lease, rater=good, winner="right")
    assert assignment_next(study=study, rater=good) is None
    assert assignment_next(study=study, rater=bad) is None
    assert Judgment.objects.count() == 6
    assert set(Comparison.objects.values_list("judgment_count", flat=True)) == {1}
    event = RaterEvent.objects.get(rater=bad)
    assert (event.action, event.reason, event.by) == ("exclude", "random clicks", admin)
    # Including them again counts their judgments again: above k, nothing lost.
    assert rater_include(study=study, rater=bad, by=admin) is True
    assert set(Comparison.objects.values_list("judgment_count", flat=True)) == {2}
    assert rater_include(study=study, rater=bad, by=admin) is False


def test_an_exclusion_needs_a_reason() -> None:
    study = judging_study(prompts=1)
    rater = make_user("r1")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="reason"):
        rater_exclude(study=study, rater=rater, reason="  ", by=None)
    assert not RaterStanding.objects.exists()
