"""The one pick rule: custom counting and ordering reach every path that picks or checks room."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from annotations.models import Assignment, Comparison, Judgment, Study
from annotations.services.assignment import (
    PICK_RULE,
    PickRule,
    assignment_next,
    comparison_has_room,
    comparison_lease,
)
from annotations.services.judging import LeaseLost, judgment_submit
from tests.judging_support import (
    judging_study,
    judgments_import_one_each,
    make_user,
    pick_rule_use,
)

pytestmark = pytest.mark.django_db

# What quality control will ask for, in today's columns: count only judgments made in the app.
WEB_ONLY = PickRule(counts="j.source = 'web'")


def _lease(rule: PickRule, study: Study, rater_name: str) -> Assignment | None:
    rater = make_user(rater_name)
    with transaction.atomic():
        lease_id = comparison_lease(rule=rule, study=study, rater=rater, now=timezone.now())
    return None if lease_id is None else Assignment.objects.get(pk=lease_id)


def test_default_rule_counts_every_judgment_and_follows_the_index() -> None:
    study = judging_study(prompts=2, overlap=1)
    judgments_import_one_each(study)
    assert set(Comparison.objects.values_list("judgment_count", flat=True)) == {1}
    assert _lease(PICK_RULE, study, "r1") is None
    # The index bound (judgment_count < k) is only valid while every judgment counts.
    assert "c.judgment_count < %(overlap)s" in PICK_RULE.pick_sql
    assert "c.judgment_count < %(overlap)s" not in WEB_ONLY.pick_sql


def test_custom_counts_pick_a_comparison_whose_judgments_do_not_count() -> None:
    study = judging_study(prompts=2, overlap=1)
    judgments_import_one_each(study)
    lease = _lease(WEB_ONLY, study, "r1")
    assert lease is not None
    # Fewest judgments first, then id: both have one, so the lower id.
    assert lease.comparison_id == min(Comparison.objects.values_list("id", flat=True))
    # Its one slot is now leased: the next rater gets the other comparison, then nothing.
    other = _lease(WEB_ONLY, study, "r2")
    assert other is not None and other.comparison_id != lease.comparison_id
    assert _lease(WEB_ONLY, study, "r3") is None


def test_custom_order_decides_the_pick() -> None:
    study = judging_study(prompts=3, overlap=2)
    ids = sorted(Comparison.objects.values_list("id", flat=True))
    newest_first = PickRule(order="c.id DESC")
    assert _lease(newest_first, study, "r1").comparison_id == ids[-1]
    assert _lease(PICK_RULE, study, "r2").comparison_id == ids[0]


def test_custom_counts_decide_the_left_right_balance() -> None:
    study = judging_study(prompts=1, overlap=3)
    first, second = make_user("first"), make_user("second")
    a1 = assignment_next(study=study, rater=first)
    judgment_submit(assignment=a1, rater=first, winner="left")
    a2 = assignment_next(study=study, rater=second)
    assert a2.left_is_a != a1.left_is_a
    judgment_submit(assignment=a2, rater=second, winner="left")
    # Counting only the second rater's judgment, the balance calls for the first one's order.
    without_first = PickRule(counts=f"j.rater_id <> {first.pk}")
    assert _lease(without_first, study, "third").left_is_a == a1.left_is_a


def test_room_check_uses_the_rule() -> None:
    study = judging_study(prompts=1, overlap=1)
    judgments_import_one_each(study)
    comparison = Comparison.objects.get()
    rater = make_user("r1")
    with transaction.atomic():
        for rule, expected in ((PICK_RULE, False), (WEB_ONLY, True)):
            room = comparison_has_room(
                rule=rule,
                comparison_id=comparison.pk,
                rater_id=rater.pk,
                overlap=study.overlap,
                now=timezone.now(),
            )
            assert room is expected


def test_services_follow_the_study_rule_on_next_and_submit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    study = judging_study(prompts=2, overlap=1)
    judgments_import_one_each(study)
    r1, r2, r3 = make_user("r1"), make_user("r2"), make_user("r3")
    # Under today's rule the imported judgments fill the study.
    assert assignment_next(study=study, rater=r1) is None
    pick_rule_use(monkeypatch, WEB_ONLY)
    a1 = assignment_next(study=study, rater=r1)
    a2 = assignment_next(study=study, rater=r2)
    assert a1 is not None and a2 is not None and a1.comparison_id != a2.comparison_id
    assert assignment_next(study=study, rater=r3) is None
    judgment_submit(assignment=a1, rater=r1, winner="left")
    # r2's lease expires and r3 takes its slot: the late submit finds no room under the rule.
    Assignment.objects.filter(pk=a2.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    a3 = assignment_next(study=study, rater=r3)
    assert a3 is not None and a3.comparison_id == a2.comparison_id
    a2.refresh_from_db()
    with pytest.raises(LeaseLost):
        judgment_submit(assignment=a2, rater=r2, winner="right")
    judgment_submit(assignment=a3, rater=r3, winner="right")
    web = Judgment.objects.filter(source="web")
    assert sorted(web.values_list("comparison_id", flat=True)) == sorted(
        Comparison.objects.values_list("id", flat=True)
    )
