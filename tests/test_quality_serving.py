"""Control items served among regular pairs: gold, swapped repeats, never counted as data."""

from __future__ import annotations

import pytest

from annotations.models import Comparison, ControlCheck, Judgment
from annotations.selectors.judging import assignment_view, rater_progress
from annotations.services.assignment import assignment_next
from annotations.services.quality import control_answer_revise, control_answer_submit
from tests.judging_support import judging_study, make_user
from tests.quality_support import answer, attention_checks, check_of, pair_gold

pytestmark = pytest.mark.django_db


def test_gold_is_served_at_the_rate_and_never_becomes_a_judgment() -> None:
    study = judging_study(prompts=6, gold_rate=1.0)
    attention_checks(study, 3)
    rater = make_user("r1")
    kinds = [answer(study, rater, right=True) for _ in range(10)]
    # Every item is gold while gold is left (rate 1), then regular pairs.
    assert kinds[:3] == ["gold"] * 3
    assert kinds[3:9] == ["data"] * 6
    assert kinds[9] == "none"
    assert ControlCheck.objects.filter(rater=rater, correct=True).count() == 3
    assert Judgment.objects.filter(rater=rater).count() == 6
    assert sum(Comparison.objects.values_list("judgment_count", flat=True)) == 6
    progress = rater_progress(study=study, rater=rater)
    assert progress["judged"] == 9


def test_a_control_item_looks_like_a_regular_pair() -> None:
    study = judging_study(prompts=2, gold_rate=1.0)
    attention_checks(study, 1)
    rater = make_user("r1")
    gold = assignment_next(study=study, rater=rater)
    assert check_of(gold) is not None
    gold_view = assignment_view(assignment=gold)
    control_answer_submit(check=check_of(gold), rater=rater, winner="left")
    regular = assignment_next(study=study, rater=rater)
    assert check_of(regular) is None
    regular_view = assignment_view(assignment=regular)
    assert set(gold_view) == set(regular_view)
    assert set(gold_view["prompt"]) == set(regular_view["prompt"])
    assert set(gold_view["left"]) == set(regular_view["left"])
    assert gold_view["status"] == regular_view["status"] == "open"


def test_gold_on_loaded_outputs_shows_them_with_the_better_one_as_a() -> None:
    study = judging_study(prompts=3, gold_rate=1.0)
    pair_gold(study, ["p1"])
    rater = make_user("r1")
    lease = assignment_next(study=study, rater=rater)
    check = check_of(lease)
    view = assignment_view(assignment=lease)
    better = view["left"] if check.left_is_a else view["right"]
    assert better["text"] == "candidate answer 1"
    assert view["prompt"]["text"] == "Prompt number 1"
    # Choosing the better one on screen is right, whichever side it is on.
    control_answer_submit(check=check, rater=rater, winner="left" if check.left_is_a else "right")
    check.refresh_from_db()
    assert check.correct is True and check.preference == 1


def test_each_rater_meets_a_gold_item_once() -> None:
    study = judging_study(prompts=4, gold_rate=1.0)
    attention_checks(study, 2)
    first, second = make_user("r1"), make_user("r2")
    assert [answer(study, first) for _ in range(3)] == ["gold", "gold", "data"]
    assert [answer(study, second) for _ in range(3)] == ["gold", "gold", "data"]
    assert ControlCheck.objects.values("gold", "rater").distinct().count() == 4


def test_a_repeat_swaps_sides_and_measures_self_consistency() -> None:
    study = judging_study(prompts=14, repeat_rate=1.0)
    rater = make_user("r1")
    # Nothing to repeat until 11 judgments exist (one made 10 judgments earlier).
    kinds = []
    for _ in range(12):
        kinds.append(answer(study, rater, winner="left"))
    assert kinds[:11] == ["data"] * 11
    assert kinds[11] == "repeat"
    check = ControlCheck.objects.get(rater=rater, kind="repeat")
    original = check.repeat_of
    assert original.rater_id == rater.pk
    assert check.left_is_a is (not original.left_is_a)
    # "left" both times, on swapped sides: the opposite canonical answer, inconsistent.
    assert check.correct is False
    assert Judgment.objects.filter(rater=rater).count() == 11


def test_a_consistent_repeat_is_marked_so() -> None:
    study = judging_study(prompts=12, repeat_rate=1.0)
    rater = make_user("r1")
    for _ in range(11):
        lease = assignment_next(study=study, rater=rater)
        # Always the candidate (output a), wherever it is shown.
        from annotations.services.judging import judgment_submit

        judgment_submit(
            assignment=lease, rater=rater, winner="left" if lease.left_is_a else "right"
        )
    lease = assignment_next(study=study, rater=rater)
    check = check_of(lease)
    assert check.kind == "repeat"
    control_answer_submit(check=check, rater=rater, winner="left" if check.left_is_a else "right")
    check.refresh_from_db()
    assert check.correct is True


def test_the_last_control_answer_can_be_revised_once_like_a_judgment() -> None:
    study = judging_study(prompts=2, gold_rate=1.0)
    attention_checks(study, 1)
    rater = make_user("r1")
    lease = assignment_next(study=study, rater=rater)
    check = check_of(lease)
    wrong = "right" if check.left_is_a else "left"
    control_answer_submit(check=check, rater=rater, winner=wrong)
    check.refresh_from_db()
    assert check.correct is False
    revised = control_answer_revise(
        check=check, rater=rater, winner="left" if check.left_is_a else "right"
    )
    assert revised.revised_at is not None
    check.refresh_from_db()
    assert check.correct is True
    # A repeat submit returns the stored answer, not a second one.
    again, created = control_answer_submit(check=check, rater=rater, winner=wrong)
    assert created is False and again.preference == 1
