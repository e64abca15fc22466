"""Automatic judges against the human majority (annotations.analysis.judges), worked by hand,
and the judges section of a study's results."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from annotations.analysis.inputs import JudgmentArrays
from annotations.analysis.judges import cohen_kappa, human_majority, judge_agreement


def _arrays(rows: list[tuple[int, int, bool]]) -> JudgmentArrays:
    """(comparison, preference sign, left_is_a) per judgment."""
    n = len(rows)
    comparison = np.array([r[0] for r in rows], dtype=np.int64)
    zeros = np.zeros(n, dtype=np.int64)
    return JudgmentArrays(
        id=np.arange(n, dtype=np.int64),
        comparison=comparison,
        generator_a=zeros,
        generator_b=zeros + 1,
        prompt=comparison,
        rater=np.arange(n, dtype=np.int64),
        category=np.zeros(n, dtype=np.int32),
        preference=np.array([r[1] for r in rows], dtype=np.int16),
        both_bad=np.zeros(n, dtype=bool),
        left_is_a=np.array([r[2] for r in rows], dtype=bool),
        duration_ms=zeros - 1,
        categories=("",),
    )


# Humans on five comparisons (a = +1, tie 0, b = -1):
#   1: a a b   -> majority a       2: b b tie -> majority b      3: tie tie a -> majority tie
#   4: a b tie -> no majority      5: a a     -> majority a
HUMANS = _arrays(
    [
        *[(1, 1, True), (1, 1, True), (1, -1, True), (2, -1, True), (2, -1, True), (2, 0, True)],
        *[(3, 0, True), (3, 0, True), (3, 1, True), (4, 1, True), (4, -1, True), (4, 0, True)],
        *[(5, 1, True), (5, 1, True)],
    ]
)
# The judge on 1..6 (6: no human judged it): a, a, tie, a, b, b; shown left: a on 1, 2, 4, 5.
JUDGE = _arrays(
    [(1, 1, True), (2, 1, True), (3, 0, False), (4, 1, True), (5, -1, True), (6, -1, False)]
)


def test_the_human_majority_needs_more_than_half() -> None:
    assert human_majority(HUMANS) == {1: 2, 2: 0, 3: 1, 5: 2}


def test_agreement_with_and_without_ties_and_kappa_by_hand() -> None:
    row = judge_agreement(humans=HUMANS, judge=JUDGE)
    # Shared: 1-5 (6 has no human); with a majority: 1, 2, 3, 5.
    assert (row["n"], row["n_shared"], row["n_majority"]) == (6, 5, 4)
    # Judge vs majority: 1 a=a yes, 2 a vs b no, 3 tie=tie yes, 5 b vs a no -> 2 of 4.
    assert row["agreement"] == pytest.approx(0.5)
    # Without ties (neither said tie): 1, 2, 5 -> 1 of 3.
    assert row["n_without_ties"] == 3
    assert row["agreement_without_ties"] == pytest.approx(1 / 3)
    # Kappa over the 4: judge (a, a, tie, b), majority (a, b, tie, a). p_o = 2/4.
    # Marginals: judge a 2/4, tie 1/4, b 1/4; majority a 2/4, tie 1/4, b 1/4.
    # p_e = 1/4 + 1/16 + 1/16 = 3/8; kappa = (1/2 - 3/8) / (5/8) = 0.2.
    assert row["cohen_kappa"] == pytest.approx(0.2)
    # Non-tie verdicts: 1 a (left), 2 a (left), 4 a (left), 5 b (a was left: chose right),
    # 6 b (a was right: chose left) -> 4 of 5 chose left.
    assert (row["left_n"], row["left_share"]) == (5, pytest.approx(0.8))


def test_cohen_kappa_matches_a_textbook_table() -> None:
    # Cohen (1960)-style 2x2 example: 20 agree yes, 15 agree no, 10 + 5 disagree of 50.
    first = [1] * 20 + [1] * 10 + [0] * 5 + [0] * 15
    second = [1] * 20 + [0] * 10 + [1] * 5 + [0] * 15
    # p_o = 0.7; p_e = 0.6*0.5 + 0.4*0.5 = 0.5; kappa = 0.4.
    assert cohen_kappa(first, second, 2) == pytest.approx(0.4)
    assert np.isnan(cohen_kappa([], [], 2))


@pytest.mark.django_db
def test_the_results_list_each_judge_beside_the_humans() -> None:
    from annotations.analysis.cache import study_results
    from annotations.services.loading import judgments_import
    from tests.judging_support import BASELINE, CANDIDATE, judging_study

    study = judging_study(prompts=4, overlap=2)
    humans = [
        {"key": f"p{i}", "left": CANDIDATE, "right": BASELINE, "winner": "left", "rater": r}
        for i in range(4)
        for r in ("h1", "h2")
    ]
    data = "".join(json.dumps(row) + "\n" for row in humans).encode()
    judgments_import(study=study, file=io.BytesIO(data), filename="h.jsonl")
    verdicts = [
        {"key": f"p{i}", "left": CANDIDATE, "right": BASELINE, "winner": w}
        for i, w in enumerate(["left", "left", "left", "right"])
    ]
    data = "".join(json.dumps(row) + "\n" for row in verdicts).encode()
    judgments_import(study=study, file=io.BytesIO(data), filename="j.jsonl", judge="gpt-4o")
    results = study_results(study=study, method="wilson")
    # The human results: 8 judgments, the candidate always won.
    assert results["n_judgments"] == 8
    [human] = results["generators"]
    assert human["win_rate"] == 1.0
    [judge] = results["judges"]
    assert judge["judge"] == "gpt-4o" and judge["n"] == 4 and judge["n_shared"] == 4
    assert judge["agreement"] == pytest.approx(0.75)
    [rate] = judge["generators"]
    assert rate["name"] == CANDIDATE and rate["win_rate"] == pytest.approx(0.75)
    # The judge's own results, by name.
    own = study_results(study=study, method="wilson", judge="gpt-4o")
    assert own["n_judgments"] == 4 and own["generators"][0]["win_rate"] == pytest.approx(0.75)
    assert own["filters"]["judge"] == "gpt-4o" and own["judges"] == []


@pytest.mark.django_db
def test_the_results_page_shows_each_judge_beside_the_humans(client) -> None:
    from django.core.cache import cache

    from annotations.services.loading import judgments_import
    from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user

    cache.clear()
    study = judging_study(prompts=2)
    rows = [
        {"key": f"p{i}", "left": CANDIDATE, "right": BASELINE, "winner": "left", "rater": "h"}
        for i in range(2)
    ]
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    judgments_import(study=study, file=io.BytesIO(data), filename="h.jsonl")
    hostile = [dict(row, rater="x") for row in rows]
    data = "".join(json.dumps(row) + "\n" for row in hostile).encode()
    judgments_import(study=study, file=io.BytesIO(data), filename="j.jsonl", judge="gpt-4o")
    client.force_login(make_user("res", role="researcher"))
    page = client.get(f"/studies/{study.slug}/results/", {"full": "1"}).content.decode()
    assert 'id="sec-judges"' in page and "<td>gpt-4o</td>" in page
    assert 'id="judge-win-rates"' in page and '<th class="num">gpt-4o</th>' in page
    assert '<option value="gpt-4o">automatic judge gpt-4o</option>' in page
    own = client.get(f"/studies/{study.slug}/results/", {"judge": "gpt-4o"}).content.decode()
    assert "judge: gpt-4o" in own
