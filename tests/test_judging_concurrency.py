"""Many raters at once on real PostgreSQL: exactly k distinct raters per comparison."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import QuerySet

from annotations.models import Assignment, AssignmentStatus, Comparison, Judgment, Study, User
from annotations.services.assignment import PickRule, assignment_next
from annotations.services.judging import judgment_submit
from tests.judging_support import (
    judging_study,
    judgments_import_one_each,
    make_user,
    pick_rule_use,
)

THREADS = 32
RATERS = 12
OVERLAP = 3
COMPARISONS = 24


def _race(study: Study, raters: list[User]) -> tuple[int, int]:
    """THREADS threads as len(raters) raters judge until nothing is left; (created, repeats)."""
    barrier = threading.Barrier(THREADS)
    created_by_thread: list[int] = [0] * THREADS
    repeats_created: list[int] = [0] * THREADS
    errors: list[BaseException] = []

    def work(index: int) -> None:
        rater = raters[index % len(raters)]
        try:
            barrier.wait(timeout=30)
            for _ in range(COMPARISONS * 2):
                assignment = assignment_next(study=study, rater=rater)
                if assignment is None:
                    break
                winner = "left" if index % 2 else "right"
                _, created = judgment_submit(assignment=assignment, rater=rater, winner=winner)
                created_by_thread[index] += created
                # A double click: the second submit must not make a row.
                _, again = judgment_submit(assignment=assignment, rater=rater, winner="tie")
                repeats_created[index] += again
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    return sum(created_by_thread), sum(repeats_created)


def _assert_exactly_k_balanced(judgments: QuerySet[Judgment]) -> None:
    """Each comparison has OVERLAP judgments in `judgments`, by distinct raters, both orders."""
    per_comparison = Counter(judgments.values_list("comparison_id", flat=True))
    assert len(per_comparison) == COMPARISONS
    assert set(per_comparison.values()) == {OVERLAP}
    pairs = list(judgments.values_list("comparison_id", "rater_id"))
    assert len(pairs) == len(set(pairs)) == COMPARISONS * OVERLAP
    assert not Assignment.objects.filter(status=AssignmentStatus.OPEN).exists()
    # Each comparison's raters saw both orders (3 raters: 2 one way, 1 the other).
    for comparison_id in per_comparison:
        lefts = judgments.filter(comparison_id=comparison_id).values_list("left_is_a", flat=True)
        assert sorted(Counter(lefts).values()) == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_32_threads_as_12_raters_fill_every_comparison_exactly() -> None:
    study = judging_study(slug="race", prompts=COMPARISONS, overlap=OVERLAP)
    raters = [make_user(f"racer{i}") for i in range(RATERS)]
    created, repeats = _race(study, raters)
    assert created == COMPARISONS * OVERLAP
    assert repeats == 0
    _assert_exactly_k_balanced(Judgment.objects.all())
    counts = dict(Comparison.objects.values_list("id", "judgment_count"))
    assert set(counts.values()) == {OVERLAP}
    # Work was shared: no rater was shut out.
    judged_by = Counter(Judgment.objects.values_list("rater_id", flat=True))
    assert len(judged_by) == RATERS


@pytest.mark.django_db(transaction=True)
def test_a_rule_that_counts_only_some_judgments_stays_exact_under_contention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every comparison already holds an imported judgment, which this rule does not count: the
    # index bound is off and each comparison must still end with exactly k counted judgments,
    # counterbalanced among themselves.
    study = judging_study(slug="race", prompts=COMPARISONS, overlap=OVERLAP)
    judgments_import_one_each(study)
    rule = PickRule(counts="j.source = 'web'")
    pick_rule_use(monkeypatch, rule)
    raters = [make_user(f"racer{i}") for i in range(RATERS)]
    created, repeats = _race(study, raters)
    assert created == COMPARISONS * OVERLAP
    assert repeats == 0
    _assert_exactly_k_balanced(Judgment.objects.filter(source="web"))
    counts = dict(Comparison.objects.values_list("id", "judgment_count"))
    assert set(counts.values()) == {OVERLAP + 1}
