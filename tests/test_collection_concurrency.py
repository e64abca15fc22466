"""Collection with a target under 32 threads: uniform and adaptive sampling still give every
served comparison exactly k distinct raters, and stopped candidates are served no more."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter

import pytest
from django.db import connection

from annotations.models import Assignment, Comparison, Judgment, Study
from annotations.services.assignment import assignment_next
from annotations.services.collection import collection_refresh
from annotations.services.judging import judgment_submit
from annotations.services.loading.prompts import prompt_set_load
from annotations.services.studies import study_create_or_update
from tests.judging_support import make_user

THREADS = 32
RATERS = 12
OVERLAP = 3
PROMPTS = 40


def _study(slug: str, sampling: str) -> Study:
    study = study_create_or_update(
        slug=slug,
        baseline="base",
        overlap=OVERLAP,
        target_half_width=0.2,
        stop_on_decision=True,
        sampling=sampling,
    ).study
    rows = [
        {"key": f"p{i}", "prompt": f"q{i}", "outputs": {n: f"{n} {i}" for n in ("base", "x", "y")}}
        for i in range(PROMPTS)
    ]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    prompt_set_load(study=study, file=io.BytesIO(data), filename="p.jsonl")
    study.refresh_from_db()
    return study


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sampling", ["uniform", "adaptive"])
def test_32_threads_fill_served_comparisons_exactly_k(sampling: str) -> None:
    study = _study(f"race-{sampling}", sampling)
    raters = [make_user(f"{sampling}-r{i}") for i in range(RATERS)]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        rater = raters[index % RATERS]
        try:
            barrier.wait(timeout=30)
            for step in range(PROMPTS * 2):
                fresh = Study.objects.get(pk=study.pk)
                if step % 5 == 0:
                    collection_refresh(study=fresh, force=True)
                lease = assignment_next(study=fresh, rater=rater)
                if lease is None:
                    break
                # The candidate always wins: every candidate is decided early.
                winner = "left" if lease.left_is_a else "right"
                judgment_submit(assignment=lease, rater=rater, winner=winner)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    # Finish what was started (the raters came back until nothing was left).
    for _ in range(5):
        fresh = Study.objects.get(pk=study.pk)
        collection_refresh(study=fresh, force=True)
        for rater in raters:
            while lease := assignment_next(study=Study.objects.get(pk=study.pk), rater=rater):
                judgment_submit(assignment=lease, rater=rater, winner="left")
    per_comparison = Counter(Judgment.objects.values_list("comparison_id", flat=True))
    assert per_comparison, "nothing was judged"
    assert set(per_comparison.values()) == {OVERLAP}
    pairs = list(Judgment.objects.values_list("comparison_id", "rater_id"))
    assert len(pairs) == len(set(pairs))
    counts = dict(
        Comparison.objects.filter(judgment_count__gt=0).values_list("id", "judgment_count")
    )
    assert counts == dict(per_comparison)
    assert not Assignment.objects.filter(status="open").exists()
    state = collection_refresh(study=Study.objects.get(pk=study.pk), force=True)
    assert state["status"] == "complete"
    if sampling == "adaptive":
        # Completing pairs before beginning new ones lets the rule stop early.
        assert state["judgments_used"] < state["judgments_if_uniform"]
    else:
        # Today's order gives every pair a first judgment before any gets a second: by the
        # time observations complete, every pair is started, and started pairs are finished.
        assert state["judgments_used"] <= state["judgments_if_uniform"]
