"""Results selectors and the results contract, against hand counts and the LLMFAO demo data."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from scipy import stats as scipy_stats

from annotations.analysis.cache import study_results
from annotations.models import Study
from annotations.selectors.results import study_judgment_arrays, study_results_version
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from annotations.services.studies import study_create_or_update
from annotations.services.users import user_create_or_update
from tests.results_support import BASELINE, hand_study, import_rows

pytestmark = pytest.mark.django_db

Z95 = 1.959964


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def wilson(p: float, n: int) -> tuple[float, float]:
    """The Wilson score interval written out from its textbook formula."""
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 / (1 + Z95**2 / n) * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n))
    return centre - half, centre + half


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def test_arrays_hold_every_judgment_in_canonical_orientation(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    arrays = study_judgment_arrays(study=study)
    assert len(arrays) == 13
    names = dict(study.generators.values_list("id", "name"))
    pairs = Counter(
        (names[a], names[b])
        for a, b in zip(arrays.generator_a.tolist(), arrays.generator_b.tolist(), strict=True)
    )
    # The baseline is always output_b; the pair without it is in name order.
    assert pairs == {("Alpha", BASELINE): 7, ("Beta", BASELINE): 4, ("Alpha", "Beta"): 2}
    assert arrays.categories == ("math", "poetry")
    assert int(arrays.both_bad.sum()) == 1
    # Row 4 of the file: Base shown left and chosen -> stored as a win for output_b (Base).
    assert arrays.preference[3] == -1 and not arrays.left_is_a[3]
    assert set(arrays.duration_ms.tolist()) == {-1}  # imported judgments carry no time


def test_win_rates_match_the_hand_count_with_wilson_intervals(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    results = study_results(study=study, method="wilson")
    assert results["baseline"] == BASELINE
    assert results["n_judgments"] == 13
    assert results["n_judgments_vs_baseline"] == 11
    rows = by_name(results["generators"])
    assert set(rows) == {"Alpha", "Beta"}

    alpha = rows["Alpha"]
    assert (alpha["n"], alpha["wins"], alpha["ties"], alpha["losses"]) == (7, 3, 2, 2)
    assert alpha["both_bad"] == 1
    assert alpha["win_rate"] == pytest.approx(4 / 7)
    assert alpha["win_rate_no_ties"] == pytest.approx(3 / 5)
    low, high = wilson(4 / 7, 7)
    assert (alpha["ci_low"], alpha["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    # The Wilson interval inverts the score test: z = (p - 0.5) / sqrt(0.25 / n).
    z = (4 / 7 - 0.5) / math.sqrt(0.25 / 7)
    assert alpha["p_value"] == pytest.approx(2 * scipy_stats.norm.sf(z))
    assert alpha["method"] == "wilson" and alpha["n_prompts"] == 4

    beta = rows["Beta"]
    assert (beta["n"], beta["wins"], beta["ties"], beta["losses"]) == (4, 1, 1, 2)
    assert beta["win_rate"] == pytest.approx(0.375)
    assert (beta["ci_low"], beta["ci_high"]) == tuple(pytest.approx(v) for v in wilson(0.375, 4))
    # Sorted best first.
    assert [g["name"] for g in results["generators"]] == ["Alpha", "Beta"]
    # The two Wilson intervals overlap: the same CI-aware rank. Holm over the two p-values:
    # the smaller one doubled, the larger one at least that (its own times one).
    assert alpha["rank"] == beta["rank"] == 1
    p_small, p_large = sorted([alpha["p_value"], beta["p_value"]])
    holm = {alpha["p_value"]: alpha["p_value_holm"], beta["p_value"]: beta["p_value_holm"]}
    assert holm[p_small] == pytest.approx(min(1.0, 2 * p_small))
    assert holm[p_large] == pytest.approx(max(min(1.0, 2 * p_small), p_large))
    # 7 and 4 judgments on 4 prompts: below the documented minimums (30 and 10).
    assert alpha["reliable"] is False and beta["reliable"] is False


def test_baseline_shown_left_and_chosen_is_a_loss_for_the_candidate(tmp_path: Path) -> None:
    study = hand_study(tmp_path, rows=[("p1", BASELINE, "Alpha", "left", "r1")])
    alpha = by_name(study_results(study=study, method="wilson")["generators"])["Alpha"]
    assert (alpha["wins"], alpha["ties"], alpha["losses"]) == (0, 0, 1)
    assert alpha["win_rate"] == 0.0

    other = hand_study(tmp_path, slug="hand-right", rows=[("p1", BASELINE, "Alpha", "right", "r1")])
    alpha = by_name(study_results(study=other, method="wilson")["generators"])["Alpha"]
    assert (alpha["wins"], alpha["losses"]) == (1, 0)


def test_cluster_interval_is_the_miller_formula_by_prompt(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    alpha = by_name(study_results(study=study, method="cluster")["generators"])["Alpha"]
    # Alpha's scores by prompt: p1 [1, 1], p2 [1, 0], p3 [.5, .5], p4 [0].
    mean = 4 / 7
    clusters = [[1, 1], [1, 0], [0.5, 0.5], [0]]
    se = math.sqrt(sum(sum(s - mean for s in c) ** 2 for c in clusters)) / 7
    assert alpha["se"] == pytest.approx(se)
    assert alpha["ci_low"] == pytest.approx(max(0.0, mean - Z95 * se), abs=1e-6)
    assert alpha["ci_high"] == pytest.approx(min(1.0, mean + Z95 * se), abs=1e-6)


def test_bootstrap_is_seeded_and_names_its_method(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    # The Bradley-Terry interval is its own option (default: sandwich, which has no seed).
    first = study_results(study=study, resamples=500, seed=7, bt_ci="bootstrap")
    cache.clear()
    again = study_results(study=study, resamples=500, seed=7, bt_ci="bootstrap")
    other = study_results(study=study, resamples=500, seed=8, bt_ci="bootstrap")
    alpha = by_name(first["generators"])["Alpha"]
    assert alpha["method"] == "bootstrap" and alpha["n_resamples"] == 500
    assert first["method_description"] == "prompt-clustered percentile bootstrap"
    assert alpha["ci_low"] <= 4 / 7 <= alpha["ci_high"]
    assert by_name(again["generators"])["Alpha"]["ci_low"] == alpha["ci_low"]
    assert first["bradley_terry"] == again["bradley_terry"]
    assert other["bradley_terry"] != first["bradley_terry"]


def test_bradley_terry_uses_every_judgment_with_the_baseline_at_1000(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    results = study_results(study=study, resamples=200)
    bt = by_name(results["bradley_terry"])
    assert bt[BASELINE]["rating"] == pytest.approx(1000.0)
    assert {name: row["n"] for name, row in bt.items()} == {"Alpha": 9, "Beta": 6, BASELINE: 11}
    # Alpha beat Beta twice and the baseline more often than Beta did.
    assert bt["Alpha"]["rating"] > bt[BASELINE]["rating"] > bt["Beta"]["rating"]
    assert results["bradley_terry"][0]["name"] == "Alpha"
    assert results["bradley_terry_method"]["n_judgments"] == 13
    for row in results["bradley_terry"]:
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]


def test_categories_agreement_position_bias_and_raters_match_hand_counts(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    results = study_results(study=study, method="wilson")
    categories = {c["category"]: c for c in results["categories"]}
    math_all, poetry_all = categories["math"]["all"], categories["poetry"]["all"]
    assert (math_all["n"], math_all["wins"], math_all["ties"], math_all["losses"]) == (6, 3, 0, 3)
    assert (poetry_all["n"], poetry_all["wins"], poetry_all["ties"]) == (5, 1, 3)
    math_alpha = by_name(categories["math"]["generators"])["Alpha"]
    assert (math_alpha["wins"], math_alpha["losses"]) == (3, 1)

    # Non-tie judgments (rows 1-4, 7-10, 12, 13): left chosen in rows 1, 3, 4, 9, 10, 12.
    bias = results["position_bias"]
    assert (bias["n"], bias["n_left"]) == (10, 6)
    assert bias["p_value"] == pytest.approx(scipy_stats.binomtest(6, 10).pvalue)

    # Comparisons with two judgments: Alpha-Base on p1 (agree), p2 (disagree), p3 (tie, both
    # bad: agree as outcomes).
    agreement = results["agreement"]
    assert agreement["n_comparisons"] == 3 and agreement["n_pairs"] == 3
    assert agreement["pairwise_agreement"] == pytest.approx(2 / 3)
    assert agreement["n_pairs_without_ties"] == 2
    assert agreement["pairwise_agreement_without_ties"] == pytest.approx(1 / 2)

    raters = {r["n"]: r for r in results["raters"]}
    assert set(raters) == {7, 6}
    assert all(r["rater"].startswith("r-") for r in results["raters"])
    # r1 and r2 share the three doubly judged comparisons and agree on two of them.
    assert raters[7]["agreement"] == pytest.approx(2 / 3) and raters[7]["agreement_pairs"] == 3
    # r1's non-tie judgments: rows 1, 3, 7, 8, 9, 12 -> left in 1, 3, 9, 12.
    assert (raters[7]["n_non_tie"], raters[7]["left_share"]) == (6, pytest.approx(4 / 6))
    assert raters[7]["median_seconds"] is None
    json.dumps(results, allow_nan=False)


def test_another_baseline_scores_from_the_candidates_side(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    results = study_results(study=study, baseline="Beta", method="wilson")
    rows = by_name(results["generators"])
    # Against Beta: Alpha won both (rows 12, 13); Base won 2, lost 1, tied 1 (rows 8-11).
    assert (rows["Alpha"]["wins"], rows["Alpha"]["losses"]) == (2, 0)
    base = rows[BASELINE]
    assert (base["wins"], base["ties"], base["losses"]) == (2, 1, 1)
    assert by_name(results["bradley_terry"])["Beta"]["rating"] == pytest.approx(1000.0)


def test_bad_options_are_refused_with_the_field_named(tmp_path: Path) -> None:
    study = hand_study(tmp_path, rows=[])
    with pytest.raises(ValidationError) as info:
        study_results(study=study, baseline="Nope", method="magic", resamples=10, seed="x")
    errors = info.value.message_dict
    assert set(errors) == {"baseline", "method", "resamples", "seed"}
    assert "Alpha" in errors["baseline"][0]
    assert "bootstrap, wilson, cluster" in errors["method"][0]


def test_a_study_without_judgments_gives_empty_but_valid_results(tmp_path: Path) -> None:
    study = hand_study(tmp_path, rows=[])
    results = study_results(study=study)
    assert results["n_judgments"] == 0
    assert results["generators"] == [] and results["bradley_terry"] == []
    assert results["note"]
    assert results["agreement"]["n_comparisons"] == 0
    assert results["position_bias"]["n"] == 0
    json.dumps(results, allow_nan=False)


def test_results_are_cached_until_a_judgment_arrives(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    version = study_results_version(study=study)
    first = study_results(study=study, method="wilson")
    assert study_results(study=study, method="wilson")["computed_at"] == first["computed_at"]
    assert first["version"] == version

    import_rows(study, tmp_path, [("p4", "Beta", BASELINE, "left", "r3")])
    assert study_results_version(study=study) != version
    updated = study_results(study=study, method="wilson")
    assert updated["n_judgments"] == 14
    assert by_name(updated["generators"])["Beta"]["wins"] == 2


def test_criteria_and_flags_from_judgments_made_in_the_app(tmp_path: Path) -> None:
    study = hand_study(
        tmp_path, slug="crit", rows=[], criteria=["helpful"], flags=["hallucination"], overlap=1
    )
    study_create_or_update(slug="crit", baseline=BASELINE, is_open=True)
    rater = user_create_or_update(username="crit-rater", role="rater", password="pw-123456-x").user
    made = 0
    while (assignment := assignment_next(study=study, rater=rater)) is not None:
        # Prefer whatever is shown left overall and call it helpful; flag the right output.
        judgment_submit(
            assignment=assignment,
            rater=rater,
            winner="left",
            criteria={"helpful": "right"},
            flags={"left": [], "right": ["hallucination"]},
            duration_ms=1000,
        )
        made += 1
    assert made == 8  # 4 prompts x (Alpha, Beta) against Base
    results = study_results(study=Study.objects.get(slug="crit"), method="wilson")
    overall = {g["name"]: g for g in results["generators"]}
    helpful = {g["name"]: g for g in results["criteria"][0]["generators"]}
    assert results["criteria"][0]["criterion"] == "helpful"
    for name in ("Alpha", "Beta"):
        # The helpful answer always went against the overall verdict.
        assert helpful[name]["n"] == overall[name]["n"] == 4
        assert helpful[name]["wins"] == overall[name]["losses"]
        assert helpful[name]["losses"] == overall[name]["wins"]
    flags = {g["name"]: g for g in results["flags"][0]["generators"]}
    # Each output shown was flagged exactly when it was on the right: the candidate's flags are
    # its judgments with the candidate on the right, i.e. its overall losses.
    for name in ("Alpha", "Beta"):
        assert flags[name]["n"] == 4
        assert flags[name]["k"] == overall[name]["losses"]
    assert flags[BASELINE]["n"] == 8
    assert flags[BASELINE]["k"] == sum(overall[n]["wins"] for n in ("Alpha", "Beta"))
    low, high = wilson(flags[BASELINE]["k"] / 8, 8)
    assert flags[BASELINE]["ci_low"] == pytest.approx(max(0.0, low))
    assert flags[BASELINE]["ci_high"] == pytest.approx(min(1.0, high))
    assert results["raters"][0]["median_seconds"] == pytest.approx(1.0)


def test_llmfao_demo_study_matches_a_direct_count_of_its_file() -> None:
    demo = Path(settings.BASE_DIR) / "demo" / "llmfao"
    call_command(
        "create_study", "llmfao", baseline="Weaver 12k", pairing="vs_baseline", verbosity=0
    )
    call_command("load_prompts", str(demo / "prompts.jsonl"), study="llmfao", verbosity=0)
    call_command("import_judgments", str(demo / "judgments.csv"), study="llmfao", verbosity=0)
    study = Study.objects.get(slug="llmfao")

    expected: dict[str, Counter] = {}
    total = 0
    with (demo / "judgments.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            total += 1
            sides = {"left": row["left"], "right": row["right"]}
            if "Weaver 12k" not in sides.values():
                continue
            candidate_side = "left" if row["right"] == "Weaver 12k" else "right"
            outcome = (
                "wins"
                if row["winner"] == candidate_side
                else "ties"
                if row["winner"] in ("tie", "both_bad")
                else "losses"
            )
            expected.setdefault(sides[candidate_side], Counter())[outcome] += 1

    results = study_results(study=study, method="wilson", resamples=100)
    assert results["n_judgments"] == total == 8931
    assert results["n_judgments_vs_baseline"] == 2762
    rows = by_name(results["generators"])
    assert set(rows) == set(expected)
    for name, counts in expected.items():
        row = rows[name]
        assert (row["wins"], row["ties"], row["losses"]) == (
            counts["wins"],
            counts["ties"],
            counts["losses"],
        ), name
        assert row["win_rate"] == pytest.approx(
            (counts["wins"] + counts["ties"] / 2) / sum(counts.values())
        )
    gpt4 = rows["GPT 4"]
    assert (gpt4["wins"], gpt4["ties"], gpt4["losses"]) == (33, 9, 10)
    # 52 judgments on 13 prompts: above the minimums; ranks follow the definition.
    assert gpt4["reliable"] is True
    for row in results["generators"]:
        above = sum(other["ci_low"] > row["ci_high"] for other in results["generators"])
        assert row["rank"] == 1 + above
    bt = by_name(results["bradley_terry"])
    assert bt["Weaver 12k"]["rating"] == pytest.approx(1000.0)
    assert len(bt) == 59 and all(r["connected"] for r in bt.values())
    # Bradley-Terry and the win rates agree on who beats the baseline most clearly.
    top = [g["name"] for g in results["generators"][:5]]
    assert np.mean([bt[n]["rating"] for n in top]) > 1000.0
