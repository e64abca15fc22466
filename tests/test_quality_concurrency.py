"""Quality control under 32 threads on real PostgreSQL: control items, exclusion and
replacement still leave exactly k counted judgments on every comparison."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from annotations.models import Assignment, Comparison, ControlCheck, Judgment, RaterStanding
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from annotations.services.quality import control_answer_submit, rater_exclude
from tests.judging_support import judging_study, make_user
from tests.quality_support import attention_checks

THREADS = 32
RATERS = 14
BAD = 3
OVERLAP = 3
COMPARISONS = 24


@pytest.mark.django_db(transaction=True)
def test_control_items_exclusion_and_replacement_keep_exactly_k_counted() -> None:
    study = judging_study(
        slug="qc-race", prompts=COMPARISONS, overlap=OVERLAP, gold_rate=0.2, repeat_rate=0.1
    )
    attention_checks(study, 8)
    study.refresh_from_db()
    raters = [make_user(f"r{i}") for i in range(RATERS)]
    bad = raters[:BAD]
    admin = make_user("boss", role="admin")
    barrier = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        rater = raters[index % RATERS]
        try:
            barrier.wait(timeout=30)
            for _ in range(COMPARISONS * 3):
                lease = assignment_next(study=study, rater=rater)
                if lease is None:
                    break
                check = ControlCheck.objects.filter(pk=lease.pk).first()
                try:
                    if check is not None:
                        control_answer_submit(check=check, rater=rater, winner="left")
                    else:
                        judgment_submit(assignment=lease, rater=rater, winner="right")
                except Exception as exc:  # a lease closed by the exclusion is refused
                    if getattr(exc, "code", None) != "skipped":
                        raise
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    def exclude_midway() -> None:
        try:
            barrier.wait(timeout=30)
            # Exclude the bad raters while everyone is judging.
            while Judgment.objects.count() < COMPARISONS:
                pass
            for rater in bad:
                rater_exclude(study=study, rater=rater, reason="simulated bad rater", by=admin)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    threads.append(threading.Thread(target=exclude_midway))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert RaterStanding.objects.filter(excluded=True).count() == BAD
    bad_ids = [rater.pk for rater in bad]
    # The excluded raters had judged before the exclusion: their pairs were judged again.
    assert Judgment.objects.filter(rater_id__in=bad_ids).exists()
    counted = Judgment.objects.exclude(rater_id__in=bad_ids)
    per_comparison = Counter(counted.values_list("comparison_id", flat=True))
    # Every comparison ends with exactly k judgments from raters in good standing ...
    assert len(per_comparison) == COMPARISONS
    assert set(per_comparison.values()) == {OVERLAP}
    pairs = list(counted.values_list("comparison_id", "rater_id"))
    assert len(pairs) == len(set(pairs))
    # ... and the denormalised count the pick rule reads says the same.
    counts = dict(Comparison.objects.values_list("id", "judgment_count"))
    assert counts == dict(per_comparison)
    assert not Assignment.objects.filter(status="open").exists()
    assert not ControlCheck.objects.filter(status="open").exists()
    # Control answers were made and never became judgments.
    assert ControlCheck.objects.filter(status="done").exists()
