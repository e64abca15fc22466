"""The pure results computation, from hand-built judgment arrays: no database anywhere.

These tests carry no django_db mark, so pytest-django refuses any query they would make: the
computation passing them is the proof that it reads nothing itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from annotations.analysis.compute import results_compute
from annotations.analysis.inputs import GeneratorRow, JudgmentArrays, ResultsInputs
from annotations.analysis.options import ResultsOptions

ALPHA, BASE, BETA = 1, 2, 3
Z95 = 1.959963984540054

# judgment id, comparison, generator a, generator b, prompt, rater, preference (+1 a better,
# 0 tie, -1 b better), both bad, left_is_a, duration_ms. Canonical orientation: a is the
# candidate and b the baseline whenever the baseline is one side.
ROWS = [
    (11, 100, ALPHA, BASE, 10, 7, 1, False, True, 2000),  # Alpha win (rater 7 chose left)
    (12, 100, ALPHA, BASE, 10, 8, 1, False, False, 4000),  # Alpha win (rater 8 chose right)
    (13, 101, ALPHA, BASE, 20, 7, 0, False, True, -1),  # Alpha tie
    (14, 101, ALPHA, BASE, 20, 8, -1, False, True, 6000),  # Alpha loss (rater 8 chose right)
    (15, 102, BETA, BASE, 10, 7, -1, False, False, -1),  # Beta loss (rater 7 chose left)
    (16, 103, BETA, BASE, 20, 8, 0, True, True, -1),  # Beta tie (both bad)
    (17, 104, ALPHA, BETA, 10, 7, 1, False, True, -1),  # not against the baseline
]
GENERATORS = (
    GeneratorRow(id=ALPHA, name="Alpha", family="", size=None),
    GeneratorRow(id=BASE, name="Base", family="", size=None),
    GeneratorRow(id=BETA, name="Beta", family="big", size=7_000_000_000),
)
PSEUDONYMS = {7: "r-seven", 8: "r-eight"}


def arrays_of(rows: list[tuple], categories: tuple[str, ...] = ("",)) -> JudgmentArrays:
    columns = list(zip(*rows, strict=True)) if rows else [()] * 10

    def column(i: int, dtype: type) -> np.ndarray:
        return np.array(columns[i], dtype=dtype)

    return JudgmentArrays(
        id=column(0, np.int64),
        comparison=column(1, np.int64),
        generator_a=column(2, np.int64),
        generator_b=column(3, np.int64),
        prompt=column(4, np.int64),
        rater=column(5, np.int64),
        category=np.zeros(len(rows), dtype=np.int32),
        preference=column(6, np.int16),
        both_bad=column(7, np.bool_),
        left_is_a=column(8, np.bool_),
        duration_ms=column(9, np.int64),
        categories=categories,
    )


def inputs_of(rows: list[tuple] = ROWS, **extra: object) -> ResultsInputs:
    return ResultsInputs(
        slug="tiny",
        name="A tiny study",
        generators=GENERATORS,
        arrays=arrays_of(rows),
        rater_pseudonyms=PSEUDONYMS,
        **extra,  # type: ignore[arg-type]
    )


def options_of(method: str = "wilson", resamples: int = 100) -> ResultsOptions:
    return ResultsOptions(
        baseline_id=BASE, method=method, resamples=resamples, seed=0, confidence=0.95
    )


def compute(inputs: ResultsInputs, options: ResultsOptions | None = None) -> dict:
    return results_compute(
        inputs=inputs, options=options or options_of(), computed_at="2024-01-02T03:04:05+00:00"
    )


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def test_counts_and_win_rates_against_the_baseline() -> None:
    results = compute(inputs_of())
    assert (results["study"], results["study_name"], results["baseline"]) == (
        "tiny",
        "A tiny study",
        "Base",
    )
    assert (results["n_judgments"], results["n_judgments_vs_baseline"]) == (7, 6)
    assert results["computed_at"] == "2024-01-02T03:04:05+00:00"
    rows = by_name(results["generators"])
    assert set(rows) == {"Alpha", "Beta"}  # the baseline is never its own candidate
    alpha, beta = rows["Alpha"], rows["Beta"]
    assert (alpha["n"], alpha["wins"], alpha["ties"], alpha["losses"]) == (4, 2, 1, 1)
    assert alpha["win_rate"] == pytest.approx(2.5 / 4)  # a tie counts half
    assert alpha["win_rate_no_ties"] == pytest.approx(2 / 3)
    assert (beta["wins"], beta["ties"], beta["losses"], beta["both_bad"]) == (0, 1, 1, 1)
    assert beta["win_rate"] == pytest.approx(0.25)
    assert (beta["family"], beta["size"]) == ("big", 7_000_000_000)
    # Sorted by win rate, best first.
    assert [row["name"] for row in results["generators"]] == ["Alpha", "Beta"]


def test_wilson_interval_matches_a_hand_computation() -> None:
    alpha = by_name(compute(inputs_of())["generators"])["Alpha"]
    # Wilson (1927) for p = 0.625 over n = 4: centre (p + z^2/2n) / (1 + z^2/n), half-width
    # z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2).
    p, n, z2 = 0.625, 4, Z95 * Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    assert alpha["ci_low"] == pytest.approx(centre - half) == pytest.approx(0.2194265, abs=1e-6)
    assert alpha["ci_high"] == pytest.approx(centre + half) == pytest.approx(0.9081008, abs=1e-6)
    assert alpha["method"] == "wilson"
    assert alpha["n_prompts"] == 2


def test_agreement_of_two_raters_on_two_comparisons() -> None:
    agreement = compute(inputs_of())["agreement"]
    # Comparisons 100 (+1, +1) and 101 (0, -1) have two judgments each; the others one.
    assert (agreement["n_comparisons"], agreement["n_judgments"], agreement["n_pairs"]) == (2, 4, 2)
    assert agreement["pairwise_agreement"] == pytest.approx(0.5)
    assert agreement["n_pairs_without_ties"] == 1
    assert agreement["pairwise_agreement_without_ties"] == pytest.approx(1.0)
    # Cohen: observed 1/2; rater 7 said (+1, 0) and rater 8 (+1, -1), so chance is 1/2 * 1/2.
    assert agreement["n_rater_pairs"] == 1
    assert agreement["mean_cohen_kappa"] == pytest.approx((0.5 - 0.25) / (1 - 0.25))
    # Fleiss: items agree 1 and 0 (mean 1/2); shares -1: 1/4, 0: 1/4, +1: 1/2.
    expected = 0.25**2 + 0.25**2 + 0.5**2
    assert agreement["fleiss_kappa"] == pytest.approx((0.5 - expected) / (1 - expected))


def test_position_bias_and_the_raters_table() -> None:
    results = compute(inputs_of())
    bias = results["position_bias"]
    # Non-tie judgments 11, 12, 14, 15, 17: chose left in 11 and 15 and 17.
    assert (bias["n"], bias["n_left"]) == (5, 3)
    assert bias["share_left"] == pytest.approx(0.6)
    raters = {row["rater"]: row for row in results["raters"]}
    assert set(raters) == {"r-seven", "r-eight"}
    assert (raters["r-seven"]["n"], raters["r-eight"]["n"]) == (4, 3)
    assert raters["r-seven"]["median_seconds"] == pytest.approx(2.0)
    assert raters["r-eight"]["median_seconds"] == pytest.approx(5.0)  # of 4 s and 6 s
    assert raters["r-seven"]["n_timed"] == 1
    assert raters["r-seven"]["agreement"] == pytest.approx(0.5)


def test_bradley_terry_anchors_the_baseline_at_1000() -> None:
    results = compute(inputs_of())
    ratings = by_name(results["bradley_terry"])
    assert set(ratings) == {"Alpha", "Base", "Beta"}
    assert ratings["Base"]["rating"] == pytest.approx(1000.0)
    assert ratings["Alpha"]["rating"] > 1000.0 > ratings["Beta"]["rating"]
    assert (ratings["Alpha"]["n"], ratings["Base"]["n"], ratings["Beta"]["n"]) == (5, 6, 3)
    # The default Bradley-Terry interval (sandwich) draws no resamples, whatever the method.
    assert results["bradley_terry_method"]["n_resamples"] == 0
    assert results["bradley_terry_method"]["ci"] == "sandwich"


def test_criteria_and_flags_come_from_the_rows_read() -> None:
    inputs = inputs_of(
        criteria=(("helpful", "Helpful"),),
        # Helpful went to the baseline on judgment 11 and to Alpha on 13.
        criterion_answers=((11, "helpful", -1), (13, "helpful", 1)),
        flags=(("hallucination", "Hallucination"),),
        flag_marks=((11, "a", "hallucination"), (15, "b", "hallucination")),
    )
    results = compute(inputs)
    helpful = results["criteria"][0]
    assert (helpful["criterion"], helpful["label"]) == ("helpful", "Helpful")
    alpha = by_name(helpful["generators"])["Alpha"]
    assert (alpha["n"], alpha["wins"], alpha["losses"]) == (2, 1, 1)
    flag = results["flags"][0]
    assert (flag["flag"], flag["label"]) == ("hallucination", "Hallucination")
    rates = by_name(flag["generators"])
    # Every output shown could be flagged: Alpha 5 times, Base 6, Beta 3.
    assert (rates["Alpha"]["k"], rates["Alpha"]["n"]) == (1, 5)
    assert (rates["Base"]["k"], rates["Base"]["n"]) == (1, 6)
    assert (rates["Beta"]["k"], rates["Beta"]["n"]) == (0, 3)


def test_the_same_inputs_give_the_same_results() -> None:
    options = options_of(method="bootstrap", resamples=200)
    assert compute(inputs_of(), options) == compute(inputs_of(), options)


def test_a_study_without_judgments_keeps_the_shape() -> None:
    results = compute(inputs_of(rows=[]), options_of(method="bootstrap"))
    assert results["note"] == "This study has no judgments yet."
    assert results["generators"] == results["bradley_terry"] == results["categories"] == []
    assert results["bradley_terry_method"] == {}
    assert results["resamples"] == 100
    assert results["agreement"]["n_comparisons"] == 0
    assert results["raters"] == []


def test_bradley_terry_interval_is_its_own_option() -> None:
    sandwich = compute(
        inputs_of(),
        ResultsOptions(
            baseline_id=BASE,
            method="bootstrap",
            resamples=200,
            seed=0,
            confidence=0.95,
            bt_ci="sandwich",
        ),
    )
    info = sandwich["bradley_terry_method"]
    assert (sandwich["bt_ci"], info["ci"], info["n_resamples"]) == ("sandwich", "sandwich", 0)
    assert "sandwich" in info["method"] and "sandwich" in info["ci_description"]
    # The win rates keep their own method and resamples.
    assert sandwich["resamples"] == 200
    assert by_name(sandwich["generators"])["Alpha"]["n_resamples"] == 200
    booted = compute(
        inputs_of(),
        ResultsOptions(
            baseline_id=BASE,
            method="wilson",
            resamples=150,
            seed=0,
            confidence=0.95,
            bt_ci="bootstrap",
        ),
    )
    assert booted["bradley_terry_method"]["n_resamples"] == 150
    assert by_name(booted["bradley_terry"])["Alpha"]["rating"] == pytest.approx(
        by_name(sandwich["bradley_terry"])["Alpha"]["rating"], abs=1e-9
    )


def test_cohen_kappa_of_every_rater_pair_matches_pandalms_published_figures() -> None:
    """PandaLM's README (github.com/WeOpenML/PandaLM, "Test data") reports its annotators'
    Cohen's kappas as 0.85 (#1-#2), 0.88 (#1-#3) and 0.86 (#2-#3): the same 999 items x 3
    annotators through the whole results computation, under pseudonymous rater ids."""
    rows = json.loads((Path(__file__).parent / "data" / "pandalm" / "testset-v1.json").read_text())
    labels = np.array([[r["annotator1"], r["annotator2"], r["annotator3"]] for r in rows], int)
    n_items = len(labels)
    # PandaLM codes 0 tie, 1 response1 better, 2 response2 better; response 1 is output a.
    preference = np.select([labels == 1, labels == 2], [1, -1], 0).ravel()
    n = len(preference)
    comparison = np.repeat(np.arange(n_items), 3)
    arrays = JudgmentArrays(
        id=np.arange(1, n + 1, dtype=np.int64),
        comparison=comparison.astype(np.int64),
        generator_a=np.full(n, ALPHA, dtype=np.int64),
        generator_b=np.full(n, BASE, dtype=np.int64),
        prompt=comparison.astype(np.int64),
        rater=np.tile([101, 102, 103], n_items).astype(np.int64),
        category=np.zeros(n, dtype=np.int32),
        preference=preference.astype(np.int16),
        both_bad=np.zeros(n, dtype=bool),
        left_is_a=np.ones(n, dtype=bool),
        duration_ms=np.full(n, -1, dtype=np.int64),
        categories=("",),
    )
    inputs = ResultsInputs(
        slug="pandalm",
        name="PandaLM test set",
        generators=GENERATORS,
        arrays=arrays,
        rater_pseudonyms={101: "rater-1", 102: "rater-2", 103: "rater-3"},
    )
    options = ResultsOptions(
        baseline_id=BASE, method="wilson", resamples=100, seed=0, confidence=0.95, bt_ci="sandwich"
    )
    agreement = compute(inputs, options)["agreement"]
    pairs = agreement["cohen_kappa_by_pair"]
    assert [(p["rater_a"], p["rater_b"], p["n"]) for p in pairs] == [
        ("rater-1", "rater-2", 999),
        ("rater-1", "rater-3", 999),
        ("rater-2", "rater-3", 999),
    ]
    assert [round(p["kappa"], 2) for p in pairs] == [0.85, 0.88, 0.86]
    assert agreement["n_rater_pairs"] == 3
    assert agreement["mean_cohen_kappa"] == pytest.approx(np.mean([p["kappa"] for p in pairs]))
