"""Many raters at once on real PostgreSQL: exactly k distinct raters per comparison."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from annotations.models import Assignment, AssignmentStatus, Comparison, Judgment
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from tests.rating_support import make_user, rating_study

THREADS = 32
RATERS = 12
OVERLAP = 3
COMPARISONS = 24


@pytest.mark.django_db(transaction=True)
def test_32_threads_as_12_raters_fill_every_comparison_exactly() -> None:
    study = rating_study(slug="race", prompts=COMPARISONS, overlap=OVERLAP)
    raters = [make_user(f"racer{i}") for i in range(RATERS)]
    barrier = threading.Barrier(THREADS)
    created_by_thread: list[int] = [0] * THREADS
    repeats_created: list[int] = [0] * THREADS
    errors: list[BaseException] = []

    def work(index: int) -> None:
        rater = raters[index % RATERS]
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

    per_comparison = Counter(Judgment.objects.values_list("comparison_id", flat=True))
    assert len(per_comparison) == COMPARISONS
    assert set(per_comparison.values()) == {OVERLAP}
    pairs = list(Judgment.objects.values_list("comparison_id", "rater_id"))
    assert len(pairs) == len(set(pairs)) == COMPARISONS * OVERLAP
    assert sum(created_by_thread) == COMPARISONS * OVERLAP
    assert sum(repeats_created) == 0
    counts = dict(Comparison.objects.values_list("id", "judgment_count"))
    assert set(counts.values()) == {OVERLAP}
    assert not Assignment.objects.filter(status=AssignmentStatus.OPEN).exists()
    # Each comparison's raters saw both orders (3 raters: 2 one way, 1 the other).
    for comparison_id in counts:
        lefts = list(
            Judgment.objects.filter(comparison_id=comparison_id).values_list("left_is_a", flat=True)
        )
        assert sorted(Counter(lefts).values()) == [1, 2]
    # Work was shared: no rater was shut out.
    judged_by = Counter(Judgment.objects.values_list("rater_id", flat=True))
    assert len(judged_by) == RATERS
