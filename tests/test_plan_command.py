"""manage.py plan: fixed-n and anytime-valid sizes, a pilot study's win rate and ICC, JSON, and
clear errors. The pilot is loaded and judged through the loader and the importer."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotations.models import Comparison, Generator, Study
from annotations.selectors.planning import study_pilot_scores
from annotations.services.loading import judgments_import, prompt_set_load
from annotations.services.studies import study_create_or_update
from tests.results_support import BASELINE, hand_study

pytestmark = pytest.mark.django_db

PROMPTS = [f"q{i:02d}" for i in range(12)]
# The two raters' verdicts for the candidate on each prompt (1 win, 0 loss), four times over.
# Alpha: {1, 1}, {1, 1}, {1, 0}; Beta: {0, 0}, {1, 0}, {1, 1}.
PATTERNS = {"Alpha": [(1, 1), (1, 1), (1, 0)] * 4, "Beta": [(0, 0), (1, 0), (1, 1)] * 4}


def pilot_study(tmp_path: Path, slug: str = "pilot") -> Study:
    """12 prompts, two candidates against the baseline, two raters on every comparison."""
    study = study_create_or_update(slug=slug, baseline=BASELINE, overlap=2).study
    prompts = tmp_path / f"{slug}.jsonl"
    prompts.write_text(
        "".join(
            json.dumps(
                {
                    "key": key,
                    "prompt": f"Question {key}?",
                    "outputs": {m: f"{m} on {key}" for m in (*PATTERNS, BASELINE)},
                }
            )
            + "\n"
            for key in PROMPTS
        )
    )
    prompt_set_load(study=study, file=prompts)
    rows = ["key,left,right,winner,rater"]
    for model, verdicts in PATTERNS.items():
        for key, pair in zip(PROMPTS, verdicts, strict=True):
            for rater, win in zip(("r1", "r2"), pair, strict=True):
                # The candidate is shown left; "left" is its win, "right" the baseline's.
                rows.append(f"{key},{model},{BASELINE},{'left' if win else 'right'},{rater}")
    judgments = tmp_path / f"{slug}.csv"
    judgments.write_text("\n".join(rows) + "\n")
    judgments_import(study=study, file=judgments)
    return study


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("plan", *args, stdout=out)
    return out.getvalue()


def plan_json(*args: str) -> dict:
    return json.loads(run(*args, "--format", "json"))


def test_fixed_n_for_a_given_win_rate_is_the_survey_size() -> None:
    # 1.96^2 * 0.25 / 0.05^2 = 384.1 -> 385 prompts, one judgment each.
    out = run("--win-rate", "0.5", "--half-width", "0.05")
    fixed = next(line for line in out.splitlines() if line.startswith("Fixed-n design"))
    assert fixed.split()[-2:] == ["385", "385"]
    assert "(ICC) 0.000 (assumed" in out and "design effect 1 + (k - 1) ICC = 1.000" in out
    assert "Anytime-valid, stop once within +-5.0 points" in out


def test_design_effect_and_raters_by_hand() -> None:
    # P = 0.6, H = 0.1, k = 3, ICC 0.2: 1.96^2 * 0.24 / 0.01 = 92.2 independent judgments;
    # deff = 1.4, so 92.2 * 1.4 / 3 = 43.03 -> 44 prompts and 132 judgments.
    data = plan_json(
        "--win-rate", "0.6", "--half-width", "0.1", "--raters-per-comparison", "3", "--icc", "0.2"
    )
    assert data["design_effect"] == pytest.approx(1.4)
    assert data["fixed"] == {"prompts": 44, "judgments": 132, "judgments_if_independent": 93}
    assert data["sources"] == {
        "win_rate": "given",
        "raters_per_comparison": "given",
        "icc": "given",
    }
    anytime = data["anytime"]
    # The anytime-valid rule costs more than one planned look, and deciding (0.6 is 10 points
    # from 50%) stops sooner than reaching +-10 points.
    assert 44 < anytime["prompts_mean"] < 2.5 * 44
    assert anytime["judgments_mean"] == pytest.approx(3 * anytime["prompts_mean"])
    assert data["anytime_stop_on_decision"]["prompts_mean"] < anytime["prompts_mean"]
    assert anytime["runs"] == 32 and anytime["seed"] == 0 and anytime["reached"] == 1.0
    assert data["anytime_method"] == "betting"


def test_json_is_one_object_with_the_plan() -> None:
    data = plan_json("--win-rate", "0.7", "--half-width", "0.08")
    assert {"win_rate", "half_width", "raters_per_comparison", "icc", "design_effect"} <= set(data)
    assert {"fixed", "anytime", "anytime_stop_on_decision", "pilot", "sources"} <= set(data)
    assert (data["win_rate"], data["half_width"], data["raters_per_comparison"]) == (0.7, 0.08, 1)
    assert data["pilot"] is None and data["confidence"] == 0.95


def test_from_study_estimates_the_win_rate_and_the_icc(tmp_path: Path) -> None:
    pilot_study(tmp_path)
    data = plan_json("--half-width", "0.1", "--from-study", "pilot")
    # Win rate: 32 wins of 48 judgments = 2/3. ICC within candidates (one-way ANOVA): Alpha's
    # comparisons have means 1, 1, 1/2 around 5/6, Beta's 0, 1/2, 1 around 1/2, so
    # SSB = 4/3 + 4 = 16/3 over 24 - 2 = 22 df, MSB = 8/33; SSW = 4 over 48 - 24 = 24 df,
    # MSW = 1/6; n0 = 2; ICC = (8/33 - 1/6) / (8/33 + 1/6) = 5/27.
    assert data["win_rate"] == pytest.approx(2 / 3)
    assert data["icc"] == pytest.approx(5 / 27)
    assert data["raters_per_comparison"] == 2  # the pilot's k
    assert data["sources"] == {
        "win_rate": "pilot",
        "raters_per_comparison": "study",
        "icc": "pilot",
    }
    assert data["pilot"]["judgments"] == 48 and data["pilot"]["comparisons"] == 24
    assert data["pilot"]["comparisons_with_2_or_more"] == 24 and data["pilot"]["candidates"] == 2
    # deff = 1 + 5/27 = 32/27; 1.96^2 * (2/9) / 0.01 = 85.37 judgments if independent;
    # 85.37 * 32/27 / 2 = 50.6 -> 51 prompts and 102 judgments.
    assert data["design_effect"] == pytest.approx(32 / 27)
    assert data["fixed"] == {"prompts": 51, "judgments": 102, "judgments_if_independent": 86}


def test_from_study_table_names_the_pilot(tmp_path: Path) -> None:
    pilot_study(tmp_path)
    out = run("--half-width", "0.1", "--from-study", "pilot")
    assert "win rate 66.7% (from the pilot)" in out
    assert "2 judgments per comparison (the pilot's k)" in out
    assert "ICC) 0.185 (from the pilot)" in out
    assert "Pilot pilot: 48 judgments against the baseline, 24 comparisons" in out


def test_given_values_override_the_pilot(tmp_path: Path) -> None:
    pilot_study(tmp_path)
    data = plan_json(
        "--half-width", "0.1", "--from-study", "pilot", "--icc", "0", "--raters-per-comparison", "1"
    )
    assert data["icc"] == 0.0 and data["raters_per_comparison"] == 1
    assert data["win_rate"] == pytest.approx(2 / 3)  # still from the pilot
    assert data["pilot"]["icc"] is None  # not estimated when given
    assert data["fixed"]["prompts"] == math.ceil(1.959964**2 * (2 / 9) / 0.01)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--win-rate", "1.5", "--half-width", "0.05"], "win_rate: must be between 0 and 1"),
        (["--win-rate", "0", "--half-width", "0.05"], "win_rate: must be between 0 and 1"),
        (["--win-rate", "1", "--half-width", "0.05"], "win_rate: must be between 0 and 1"),
        (["--win-rate", "high", "--half-width", "0.05"], "win_rate: must be a number"),
        (["--win-rate", "0.5", "--half-width", "0"], r"half_width: must be in \(0, 0.5\]"),
        (["--win-rate", "0.5", "--half-width", "0.6"], r"half_width: must be in \(0, 0.5\]"),
        (["--win-rate", "0.5", "--half-width", "nan"], "half_width: must be a number"),
        (
            ["--win-rate", "0.5", "--half-width", "0.05", "--raters-per-comparison", "0"],
            "raters_per_comparison: must be at least 1",
        ),
        (
            ["--win-rate", "0.5", "--half-width", "0.05", "--raters-per-comparison", "2.5"],
            "raters_per_comparison: must be a whole number",
        ),
        (["--win-rate", "0.5", "--half-width", "0.05", "--icc", "-0.1"], "icc: must be between"),
        (["--win-rate", "0.5", "--half-width", "0.05", "--icc", "1.2"], "icc: must be between"),
        (["--half-width", "0.05"], "win_rate: give --win-rate, or --from-study"),
        (["--half-width", "0.05", "--from-study", "nope"], "no study with slug 'nope'"),
    ],
)
def test_bad_values_are_refused_with_a_clear_message(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)


def test_a_pilot_with_too_little_data_is_refused(tmp_path: Path) -> None:
    # The hand-counted study: 11 judgments against the baseline, 3 comparisons with two.
    hand_study(tmp_path)
    with pytest.raises(CommandError, match="has 11 judgments against the baseline; estimating"):
        run("--half-width", "0.1", "--from-study", "hand")
    with pytest.raises(CommandError, match="has 3 comparisons with two or more judgments"):
        run("--half-width", "0.1", "--from-study", "hand", "--win-rate", "0.6")
    # Given both, the pilot only supplies k.
    data = plan_json(
        "--half-width", "0.1", "--from-study", "hand", "--win-rate", "0.6", "--icc", "0"
    )
    assert data["raters_per_comparison"] == 3  # the study's default overlap


def test_a_pilot_without_judgments_is_refused(tmp_path: Path) -> None:
    hand_study(tmp_path, slug="empty", rows=[])
    with pytest.raises(CommandError, match="has 0 judgments against the baseline"):
        run("--half-width", "0.1", "--from-study", "empty")


def test_pilot_scores_are_from_the_candidates_side_whichever_side_the_baseline_is(
    tmp_path: Path,
) -> None:
    study = pilot_study(tmp_path)
    scores = study_pilot_scores(study=study)
    assert len(scores) == 48 and scores.score.mean() == pytest.approx(2 / 3)
    # With Alpha as the baseline, its 24 judgments against Base count from Base's side, with
    # Alpha stored as output_a: Base won 4 of Alpha's 24, a score of 1/6.
    study = study_create_or_update(slug="pilot", baseline="Alpha").study
    flipped = study_pilot_scores(study=study)
    base = Generator.objects.get(study=study, name=BASELINE)
    assert len(flipped) == 24 and set(flipped.candidate.tolist()) == {base.pk}
    assert flipped.score.mean() == pytest.approx(1 / 6)
    assert Comparison.objects.filter(study=study, output_a__generator__name="Alpha").exists()
