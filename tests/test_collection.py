"""Collection with a target: candidates stop when their anytime-valid interval is narrow
enough or decided; adaptive serves a stopped candidate no more and uniform serves every
candidate evenly until all have stopped; the order of the pick, the status JSON."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from annotations.models import Comparison, Generator, Judgment, Study
from annotations.services.assignment import assignment_next
from annotations.services.collection import collection_refresh
from annotations.services.judging import judgment_submit
from annotations.services.loading.prompts import prompt_set_load
from annotations.services.studies import study_create_or_update
from tests.api_support import token_client
from tests.judging_support import make_user

pytestmark = pytest.mark.django_db

BASE = "base"


def _study(prompts: int, candidates: list[str], **settings: object) -> Study:
    study = study_create_or_update(slug="target", baseline=BASE, **settings).study
    rows = [
        {
            "key": f"p{i}",
            "prompt": f"prompt {i}",
            "outputs": {name: f"{name} answer {i}" for name in [BASE, *candidates]},
        }
        for i in range(prompts)
    ]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    import io

    prompt_set_load(study=study, file=io.BytesIO(data), filename="p.jsonl")
    study.refresh_from_db()
    return study


def _judge_all(study: Study, raters: list, winner_of) -> int:
    """Each rater judges until nothing is left; `winner_of(candidate name)` picks the
    canonical winner ('a' the candidate, 'b' the baseline). Returns the judgments made."""
    made = 0
    for rater in raters:
        while True:
            study.refresh_from_db()
            collection_refresh(study=study, force=True)
            lease = assignment_next(study=study, rater=rater)
            if lease is None:
                break
            comparison = lease.comparison
            candidate = Generator.objects.get(outputs__pk=comparison.output_a_id).name
            a_wins = winner_of(candidate) == "a"
            winner = "left" if a_wins == lease.left_is_a else "right"
            judgment_submit(assignment=lease, rater=rater, winner=winner)
            made += 1
    return made


def test_a_clear_winner_stops_early_on_decision_and_is_served_no_more() -> None:
    study = _study(200, ["strong"], overlap=1, target_half_width=0.05, stop_on_decision=True)
    raters = [make_user("r1")]
    made = _judge_all(study, raters, lambda name: "a")
    study.refresh_from_db()
    state = collection_refresh(study=study, force=True)
    [row] = state["generators"]
    assert row["status"] == "decided" and row["av_ci_low"] > 0.5
    # An always-winning candidate is decided after a handful of comparisons, far fewer than 200.
    assert 5 <= made <= 30
    assert state["status"] == "complete"
    assert state["judgments_used"] == made and state["judgments_if_uniform"] == 200
    assert state["judgments_saved"] == 200 - made
    assert set(Comparison.objects.values_list("priority", flat=True)) == {None}
    assert assignment_next(study=study, rater=make_user("late")) is None


def test_without_decision_a_candidate_stops_when_precise() -> None:
    study = _study(400, ["even"], overlap=1, target_half_width=0.15)
    # Alternating wins and losses: a win rate of 50%, never decided.
    flips = iter(range(10_000))
    made = _judge_all(study, [make_user("r1")], lambda name: "a" if next(flips) % 2 else "b")
    state = collection_refresh(study=study, force=True)
    [row] = state["generators"]
    assert row["status"] == "precise" and row["half_width"] <= 0.15
    assert row["av_ci_low"] < 0.5 < row["av_ci_high"]
    assert made < 400


def test_adaptive_serves_the_candidate_furthest_from_its_rule() -> None:
    study = _study(
        60,
        ["clear", "close"],
        overlap=1,
        target_half_width=0.1,
        stop_on_decision=True,
        sampling="adaptive",
    )
    rater = make_user("r1")
    flips = iter(range(10_000))

    def winner(name: str) -> str:
        return "a" if name == "clear" or next(flips) % 2 else "b"

    made = _judge_all(study, [rater], winner)
    state = collection_refresh(study=study, force=True)
    rows = {row["name"]: row for row in state["generators"]}
    assert rows["clear"]["status"] == "decided"
    # The clear winner stopped early; the close one got the rest of the judgments.
    assert rows["clear"]["judgments"] < rows["close"]["judgments"]
    assert made == rows["clear"]["judgments"] + rows["close"]["judgments"]


def test_uniform_serves_every_candidate_evenly_until_all_have_stopped() -> None:
    study = _study(60, ["clear", "close"], overlap=1, target_half_width=0.1, stop_on_decision=True)
    rater = make_user("r1")
    flips = iter(range(10_000))
    clear_at_decision = None
    while True:
        study.refresh_from_db()
        state = collection_refresh(study=study, force=True)
        rows = {row["name"]: row for row in state["generators"]}
        if clear_at_decision is None and rows["clear"]["status"] == "decided":
            clear_at_decision = rows["clear"]["judgments"]
            # Decided, and still served: the close one has not stopped.
            assert rows["clear"]["served"] and rows["close"]["served"]
            assert rows["close"]["status"] == "collecting"
            client = Client()
            client.force_login(make_user("watcher", role="researcher"))
            page = client.get("/").content.decode()
            assert "clear: decided (judged on evenly until all have stopped)" in page
        lease = assignment_next(study=study, rater=rater)
        if lease is None:
            break
        name = Generator.objects.get(outputs__pk=lease.comparison.output_a_id).name
        a_wins = name == "clear" or next(flips) % 2 == 1
        judgment_submit(
            assignment=lease, rater=rater, winner="left" if a_wins == lease.left_is_a else "right"
        )
    rows = {row["name"]: row for row in state["generators"]}
    assert state["status"] == "complete"
    # (Judged on, the clear one may end precise as well as decided.)
    assert rows["clear"]["status"] in {"decided", "precise"}
    assert not rows["clear"]["served"] and not rows["close"]["served"]
    # The clear one went on being judged after its decision, as often as the close one.
    assert clear_at_decision is not None and rows["clear"]["judgments"] > 2 * clear_at_decision
    total = rows["clear"]["judgments"] + rows["close"]["judgments"]
    assert abs(rows["clear"]["judgments"] - total / 2) <= 3 * (total / 4) ** 0.5


def test_with_a_target_both_samplings_finish_started_pairs_first() -> None:
    for sampling in ["uniform", "adaptive"]:
        Study.objects.filter(slug="target").delete()
        study = _study(40, ["c"], overlap=2, target_half_width=0.05, sampling=sampling)
        collection_refresh(study=study, force=True)
        first = assignment_next(study=study, rater=make_user(f"{sampling}-1"))
        judgment_submit(assignment=first, rater=first.rater, winner="left")
        # Fewest judgments first would start another of the 40; the started pair comes first.
        second = assignment_next(study=study, rater=make_user(f"{sampling}-2"))
        assert second.comparison_id == first.comparison_id, sampling


def test_more_judgments_follows_where_each_sampling_sends_them() -> None:
    import math

    for sampling in ["uniform", "adaptive"]:
        Study.objects.filter(slug="target").delete()
        study = _study(200, ["x", "y"], overlap=1, target_half_width=0.05, sampling=sampling)
        rater = make_user(f"more-{sampling}")
        flips = iter(range(10_000))
        for _ in range(60):
            study.refresh_from_db()
            collection_refresh(study=study, force=True)
            lease = assignment_next(study=study, rater=rater)
            winner = "left" if next(flips) % 3 else "right"
            judgment_submit(assignment=lease, rater=rater, winner=winner)
        state = collection_refresh(study=study, force=True)
        rows = state["generators"]
        assert all(row["status"] == "collecting" and row["observations"] >= 10 for row in rows)
        needs = [
            math.ceil(row["observations"] * (row["half_width"] / 0.05) ** 2) - row["observations"]
            for row in rows
        ]
        # Adaptive: what each needs; uniform: both as many as the furthest one needs.
        expected = sum(needs) if sampling == "adaptive" else 2 * max(needs)
        assert state["more_judgments"] == expected, sampling
        assert all(row["served"] for row in rows)


def test_a_pair_leased_when_the_study_stops_is_finished_without_waiting() -> None:
    from annotations.services.assignment import assignment_skip
    from annotations.services.collection import FINISH_PRIORITY

    study = _study(200, ["strong"], overlap=2, target_half_width=0.05, stop_on_decision=True)
    holder, first, second = make_user("holder"), make_user("first"), make_user("second")

    def judge(rater) -> None:
        lease = assignment_next(study=study, rater=rater)
        judgment_submit(
            assignment=lease, rater=rater, winner="left" if lease.left_is_a else "right"
        )

    while True:
        # The holder leases a pair nobody has judged, and holds it over the refresh.
        held = assignment_next(study=study, rater=holder)
        assert held.comparison.judgment_count == 0
        study.refresh_from_db()
        state = collection_refresh(study=study, force=True)
        if state["generators"][0]["status"] != "collecting":
            break
        assignment_skip(assignment=held, rater=holder)
        judge(first)
        judge(second)
    # The study has stopped, but the held pair is started: finished first, not dropped.
    assert state["status"] == "collecting"
    held.comparison.refresh_from_db()
    assert held.comparison.priority == FINISH_PRIORITY
    judgment_submit(assignment=held, rater=holder, winner="left" if held.left_is_a else "right")
    # Its second rater gets it at once, before the next scheduled refresh.
    nxt = assignment_next(study=study, rater=first)
    assert nxt is not None and nxt.comparison_id == held.comparison_id
    judgment_submit(assignment=nxt, rater=first, winner="left" if nxt.left_is_a else "right")
    assert assignment_next(study=study, rater=second) is None
    study.refresh_from_db()
    state = collection_refresh(study=study, force=True)
    assert state["status"] == "complete"
    assert not Comparison.objects.filter(judgment_count=1).exists()


def test_the_refresh_schedule_follows_what_a_refresh_costs() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from annotations.services.collection import refresh_interval

    assert refresh_interval(compute_seconds=None) == 1.0
    assert refresh_interval(compute_seconds=0.002) == 1.0
    assert refresh_interval(compute_seconds=0.35) == pytest.approx(3.5)
    assert refresh_interval(compute_seconds=4.0) == 10.0
    study = _study(20, ["c"], overlap=1, target_half_width=0.1)
    state = collection_refresh(study=study, force=True)
    assert 0 < state["compute_seconds"] < 1
    # A refresh that took 0.5 s: the status is kept for 5 s, recomputed after.
    for age, recomputed in [(2, False), (6, True)]:
        stamp = timezone.now() - timedelta(seconds=age)
        Study.objects.filter(pk=study.pk).update(
            collection_at=stamp, collection_state={**state, "compute_seconds": 0.5}
        )
        study.refresh_from_db()
        collection_refresh(study=study)
        study.refresh_from_db()
        assert (study.collection_at > stamp) is recomputed, age


def test_lifting_the_target_serves_everything_again() -> None:
    study = _study(50, ["strong"], overlap=1, target_half_width=0.05, stop_on_decision=True)
    _judge_all(study, [make_user("r1")], lambda name: "a")
    assert Comparison.objects.filter(priority__isnull=True).exists()
    study_create_or_update(slug="target", target_half_width=0)
    study.refresh_from_db()
    assert study.target_half_width is None
    assert not Comparison.objects.filter(priority__isnull=True).exists()
    assert assignment_next(study=study, rater=make_user("r2")) is not None


def test_the_study_api_shows_the_collection_status() -> None:
    study = _study(30, ["strong"], overlap=1, target_half_width=0.05, stop_on_decision=True)
    _judge_all(study, [make_user("r1")], lambda name: "a")
    body = token_client("res", "researcher").get(f"/api/studies/{study.slug}").json()
    collection = body["collection"]
    assert collection["status"] == "complete" and collection["sampling"] == "uniform"
    assert collection["target_half_width"] == 0.05
    assert collection["judgments_used"] == Judgment.objects.count()
    assert collection["judgments_if_uniform"] == 30
    [row] = collection["generators"]
    assert set(row) >= {"name", "status", "half_width", "judgments"}
    assert row["name"] == "strong" and row["status"] == "decided"


def test_bad_targets_are_refused_with_the_field_named() -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="target_half_width"):
        study_create_or_update(slug="bad", baseline=BASE, target_half_width=0.7)
    with pytest.raises(ValidationError, match="sampling"):
        study_create_or_update(slug="bad", baseline=BASE, sampling="greedy")


def test_the_overview_says_how_many_judgments_were_saved(client) -> None:
    study = _study(40, ["strong"], overlap=1, target_half_width=0.05, stop_on_decision=True)
    made = _judge_all(study, [make_user("r1")], lambda name: "a")
    client.force_login(make_user("res", role="researcher"))
    page = client.get("/").content.decode()
    assert f"<strong>Complete</strong>: {made} judgments of 40, {40 - made} saved" in page
    assert "strong: decided" in page


def test_raters_are_told_the_study_has_what_it_needs() -> None:
    from annotations.selectors.judging import rater_progress

    study = _study(40, ["strong"], overlap=1, target_half_width=0.05, stop_on_decision=True)
    rater = make_user("r1")
    _judge_all(study, [rater], lambda name: "a")
    study.refresh_from_db()
    assert rater_progress(study=study, rater=rater)["study_complete"] is True


def test_results_show_the_anytime_valid_interval_beside_the_fixed_n_one(client) -> None:
    from django.core.cache import cache

    from annotations.analysis.cache import study_results

    cache.clear()
    study = _study(60, ["strong"], overlap=1, target_half_width=0.05, stop_on_decision=True)
    _judge_all(study, [make_user("r1")], lambda name: "a")
    study.refresh_from_db()
    results = study_results(study=study, method="wilson")
    [row] = results["generators"]
    state = collection_refresh(study=study, force=True)
    [candidate] = state["generators"]
    assert (row["av_ci_low"], row["av_ci_high"]) == (
        candidate["av_ci_low"],
        candidate["av_ci_high"],
    )
    # Anytime-valid is the wider of the two: the price of looking all the time.
    assert row["av_ci_low"] <= row["ci_low"] and row["collection_status"] == "decided"
    assert "betting" in results["av_method"]
    client.force_login(make_user("res", role="researcher"))
    page = client.get(f"/studies/{study.slug}/results/").content.decode()
    assert "Anytime-valid 95%" in page and "holds however often it is looked at" in page


def test_an_exhausted_candidate_completes_the_study() -> None:
    # Too few prompts for the target: the candidate is still collecting when its pairs run out.
    study = _study(6, ["even"], overlap=1, target_half_width=0.05)
    flips = iter(range(10_000))
    made = _judge_all(study, [make_user("r1")], lambda name: "a" if next(flips) % 2 else "b")
    assert made == 6
    state = collection_refresh(study=study, force=True)
    [row] = state["generators"]
    assert row["status"] == "collecting" and row["exhausted"] is True and row["served"] is False
    assert state["status"] == "complete"


def test_a_complete_all_pairs_study_serves_nothing_more() -> None:
    study = _study(
        120,
        ["x", "y"],
        overlap=1,
        target_half_width=0.05,
        stop_on_decision=True,
        pairing="all_pairs",
        sampling="adaptive",
    )
    made = _judge_all(study, [make_user("r1")], lambda name: "a")
    state = collection_refresh(study=study, force=True)
    assert state["status"] == "complete"
    # Not every candidate-vs-candidate pair was judged, and none is served now.
    assert made < Comparison.objects.count()
    assert assignment_next(study=study, rater=make_user("late")) is None


def test_without_a_target_the_study_is_complete_when_every_pair_has_k() -> None:
    study = _study(3, ["c"], overlap=2)
    rater = make_user("r1")
    _judge_all(study, [rater], lambda name: "a")
    state = collection_refresh(study=study, force=True)
    assert state["status"] == "collecting" and state["generators"] == []
    _judge_all(study, [make_user("r2")], lambda name: "a")
    assert collection_refresh(study=study, force=True)["status"] == "complete"
