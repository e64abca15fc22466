"""Control items served among regular pairs: gold, swapped repeats, never counted as data."""

from __future__ import annotations

import pytest

from annotations.models import Comparison, ControlCheck, Judgment
from annotations.selectors.judging import assignment_view, rater_progress
from annotations.services.assignment import assignment_next
from tests.judging_support import judging_study, make_user
from tests.quality_support import answer, attention_checks, check_of

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
    answer_gold = answer  # noqa: F841 - keep the helper import used below
    from annotations.services.quality import control_answer_submit

    control_answer_submit(check=check_of(gold), rater=rater, winner="left")
    regular = assignment_next(study=study, rater=rater)
    assert check_of(regular) is None
    regular_view = assignment_view(assignment=regular)
    assert set(gold_view) == set(regular_view)
    assert set(gold_view["prompt"]) == set(regular_view["prompt"])
    assert set(gold_view["left"]) == set(regular_view["left"])
    assert gold_view["status"] == regular_view["status"] == "open"
