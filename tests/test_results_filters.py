"""Results filters (category, since, until, source, criterion) in the service, the API and the
command; the fingerprint and the length features on real judgments; all against hand counts."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from annotations.analysis.cache import _cache_key, study_output_features, study_results
from annotations.analysis.inputs import OutputFeatures
from annotations.analysis.options import results_options_validate, results_query_parse
from annotations.models import Judgment, Output, Study
from annotations.selectors.results import study_outputs_version, study_results_version
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_revise, judgment_submit
from annotations.services.loading import judgments_import, prompt_set_load
from annotations.services.studies import study_create_or_update
from annotations.services.users import user_create_or_update
from tests.results_support import BASELINE, hand_study

pytestmark = pytest.mark.django_db
NO_FILTERS = dict.fromkeys(
    ("category", "since", "until", "source", "criterion", "include_excluded", "judge")
)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def judge_all(study: Study, username: str, **verdict: object) -> int:
    """A rater judges every pair the study serves them, in the app (source "web")."""
    study_create_or_update(slug=study.slug, baseline=BASELINE, is_open=True)
    rater = user_create_or_update(username=username, role="rater", password="pw-123456-x").user
    made = 0
    while (assignment := assignment_next(study=study, rater=rater)) is not None:
        judgment_submit(assignment=assignment, rater=rater, duration_ms=1000, **verdict)
        made += 1
    return made


def timed_study(tmp_path: Path) -> Study:
    """The hand study's prompts and three imported judgments at known times."""
    study = hand_study(tmp_path, slug="timed", rows=[])
    path = tmp_path / "timed.csv"
    path.write_text(
        "key,left,right,winner,rater,created_at\n"
        "p1,Alpha,Base,left,r1,2024-01-01T12:00:00+00:00\n"
        "p2,Alpha,Base,right,r1,2024-01-02T10:00:00+00:00\n"
        "p3,Alpha,Base,left,r1,2024-01-03T23:30:00+00:00\n"
    )
    judgments_import(study=study, file=path)
    return study


# --- each filter ------------------------------------------------------------------------------


def test_no_filters_are_stated_as_null(tmp_path: Path) -> None:
    results = study_results(study=hand_study(tmp_path), method="wilson")
    assert results["filters"] == NO_FILTERS
    assert results["n_judgments"] == 13


def test_category_keeps_that_categorys_prompts(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    everything = study_results(study=study, method="wilson")
    math_only = study_results(study=study, method="wilson", category="math")
    # Not the unfiltered entry from the cache: the options, filters included, make the key.
    assert everything["n_judgments"] == 13
    assert math_only["filters"] == {**NO_FILTERS, "category": "math"}
    # Prompts p1 and p2: four Alpha-Base, two Beta-Base and two Alpha-Beta judgments.
    assert math_only["n_judgments"] == 8
    rows = by_name(math_only["generators"])
    assert (rows["Alpha"]["wins"], rows["Alpha"]["losses"]) == (3, 1)
    assert (rows["Beta"]["wins"], rows["Beta"]["losses"]) == (0, 2)
    assert [c["category"] for c in math_only["categories"]] == ["math"]
    assert math_only["bradley_terry_method"]["n_judgments"] == 8


def test_source_separates_imported_from_web_judgments(tmp_path: Path) -> None:
    study = hand_study(tmp_path, overlap=5)
    made = judge_all(study, "web-rater", winner="left")
    # 4 prompts x (Alpha, Beta) against the baseline, and the two Alpha-Beta comparisons the
    # import made.
    assert made == 10
    web = study_results(study=study, method="wilson", source="web")
    imported = study_results(study=study, method="wilson", source="import")
    assert (web["n_judgments"], imported["n_judgments"]) == (10, 13)
    assert web["filters"]["source"] == "web" and imported["filters"]["source"] == "import"
    assert study_results(study=study, method="wilson")["n_judgments"] == 23


def test_since_and_until_are_inclusive_and_a_date_covers_its_day(tmp_path: Path) -> None:
    study = timed_study(tmp_path)
    days = study_results(study=study, method="wilson", since="2024-01-02", until="2024-01-03")
    assert days["n_judgments"] == 2
    assert days["filters"]["since"] == "2024-01-02T00:00:00+00:00"
    assert days["filters"]["until"] == "2024-01-03T23:59:59.999999+00:00"
    exact = study_results(study=study, method="wilson", until="2024-01-02T10:00:00+00:00")
    assert exact["n_judgments"] == 2  # the bound itself counts
    offset = study_results(study=study, method="wilson", since="2024-01-03T01:00:00+02:00")
    assert offset["n_judgments"] == 1
    assert offset["filters"]["since"] == "2024-01-02T23:00:00+00:00"
    # The stated filters, passed back as query parameters, select the same judgments.
    again = study_results(study=study, **results_query_parse(query=days["filters"]))
    assert again["n_judgments"] == 2 and again["filters"] == days["filters"]


def test_criterion_puts_its_verdict_in_place_and_drops_judgments_without_it(
    tmp_path: Path,
) -> None:
    study = hand_study(tmp_path, slug="crit", criteria=["helpful"], overlap=5)
    # In the app: the overall winner is always the left output, the helpful one the right.
    assert judge_all(study, "crit-rater", winner="left", criteria={"helpful": "right"}) == 10
    overall = study_results(study=study, method="wilson", source="web")
    helpful = study_results(study=study, method="wilson", criterion="helpful")
    # The 13 imported judgments carry no criteria: left out.
    assert helpful["n_judgments"] == 10
    assert helpful["filters"]["criterion"] == "helpful"
    for name in ("Alpha", "Beta"):
        mine, theirs = by_name(helpful["generators"])[name], by_name(overall["generators"])[name]
        assert (mine["wins"], mine["losses"]) == (theirs["losses"], theirs["wins"])
    # The verdict counted is the criterion's: the fingerprint hashes it.
    assert helpful["fingerprint"]["judgments_sha256"] != overall["fingerprint"]["judgments_sha256"]


@pytest.mark.parametrize(
    ("options", "field", "says"),
    [
        ({"category": "cooking"}, "category", "math, poetry"),
        ({"category": "(none)"}, "category", "math, poetry"),
        ({"since": "yesterday"}, "since", "YYYY-MM-DD"),
        ({"until": "2024-13-01"}, "until", "YYYY-MM-DD"),
        ({"since": "2024-02-01", "until": "2024-01-31"}, "since", "after until"),
        ({"source": "email"}, "source", "web, import"),
        ({"criterion": "funny"}, "criterion", "asks none"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(
    tmp_path: Path, options: dict, field: str, says: str
) -> None:
    study = hand_study(tmp_path, rows=[])
    with pytest.raises(ValidationError) as info:
        study_results(study=study, **options)
    errors = info.value.message_dict
    assert list(errors) == [field]
    assert says in errors[field][0]


def test_an_unknown_criterion_lists_the_studys_criteria(tmp_path: Path) -> None:
    study = hand_study(tmp_path, rows=[], criteria=["helpful", "honest"])
    with pytest.raises(ValidationError) as info:
        study_results(study=study, criterion="harmless")
    assert "helpful, honest" in info.value.message_dict["criterion"][0]


def test_uncategorised_prompts_are_asked_for_as_none(tmp_path: Path) -> None:
    study = hand_study(tmp_path)
    extra = tmp_path / "plain.jsonl"
    extra.write_text(
        json.dumps({"key": "p5", "prompt": "Say hi.", "outputs": {"Alpha": "hi", "Base": "hello"}})
        + "\n"
    )
    prompt_set_load(study=study, file=extra)
    path = tmp_path / "plain.csv"
    path.write_text("key,left,right,winner,rater\np5,Alpha,Base,left,r1\n")
    judgments_import(study=study, file=path)
    results = study_results(study=study, method="wilson", category="(none)")
    assert results["n_judgments"] == 1
    assert results["filters"]["category"] == "(none)"
    assert results["categories"][0]["category"] == "(none)"


# --- options: query parameters and the cache key ----------------------------------------------


def test_query_parse_passes_the_filters_and_empty_means_none() -> None:
    parsed = results_query_parse(
        query={"category": "math", "since": "2024-01-01", "until": "", "source": "web"}
    )
    assert parsed["category"] == "math" and parsed["since"] == "2024-01-01"
    assert parsed["until"] is None and parsed["criterion"] is None
    assert parsed["method"] == "bootstrap"  # the defaults of the other options stay


def test_cache_keys_are_short_hashes_of_every_option(tmp_path: Path) -> None:
    study = hand_study(tmp_path, rows=[])
    version = study_results_version(study=study)
    keys = {
        _cache_key(study, version, results_options_validate(study=study, **options))
        for options in ({}, {"category": "math"}, {"source": "web"}, {"until": "2024-01-01"})
    }
    assert len(keys) == 4
    assert all(len(key) < 64 for key in keys)
    again = _cache_key(study, version, results_options_validate(study=study, category="math"))
    assert again in keys


# --- the API and the command ------------------------------------------------------------------


def test_api_takes_the_filters_and_states_them(tmp_path: Path) -> None:
    hand_study(tmp_path)
    user = user_create_or_update(username="res", role="researcher", password="pw-123456-x").user
    client = Client()
    client.force_login(user)
    response = client.get(
        "/api/studies/hand/results",
        {"method": "wilson", "category": "poetry", "source": "import", "until": "2100-01-01"},
    )
    assert response.status_code == 200
    data = response.json()
    assert data["filters"] == {
        **NO_FILTERS,
        "category": "poetry",
        "source": "import",
        "until": "2100-01-01T23:59:59.999999+00:00",
    }
    assert data["n_judgments"] == 5  # p3 and p4
    bad = client.get("/api/studies/hand/results", {"since": "soon", "source": "fax"})
    assert bad.status_code == 400
    assert sorted(e["field"] for e in bad.json()["errors"]) == ["since", "source"]


def test_command_takes_the_filters(tmp_path: Path) -> None:
    hand_study(tmp_path)
    out = io.StringIO()
    call_command(
        "results", "--study", "hand", "--method", "wilson", "--category", "math",
        "--source", "import", "--format", "json", stdout=out,
    )  # fmt: skip
    data = json.loads(out.getvalue())
    assert data["filters"] == {**NO_FILTERS, "category": "math", "source": "import"}
    assert data["n_judgments"] == 8
    with pytest.raises(CommandError, match="until"):
        call_command("results", "--study", "hand", "--until", "31/01/2024", stdout=io.StringIO())


# --- the fingerprint on real judgments --------------------------------------------------------


def test_fingerprint_changes_with_a_new_or_revised_judgment_or_an_option(
    tmp_path: Path,
) -> None:
    study = hand_study(tmp_path, overlap=5)
    first = study_results(study=study, method="wilson")["fingerprint"]
    cache.clear()
    assert study_results(study=study, method="wilson")["fingerprint"] == first  # recomputed
    assert first["n_judgments"] == 13
    assert first["parameters"]["baseline"] == BASELINE
    assert first["software_version"].startswith("prefeval ")

    other_seed = study_results(study=study, method="wilson", seed=3)["fingerprint"]
    assert other_seed["sha256"] != first["sha256"]
    assert other_seed["judgments_sha256"] == first["judgments_sha256"]

    study_create_or_update(slug=study.slug, baseline=BASELINE, is_open=True)
    rater = user_create_or_update(username="fp", role="rater", password="pw-123456-x").user
    assignment = assignment_next(study=study, rater=rater)
    judgment_submit(assignment=assignment, rater=rater, winner="left", duration_ms=900)
    added = study_results(study=study, method="wilson")["fingerprint"]
    assert added["n_judgments"] == 14
    assert added["judgments_sha256"] != first["judgments_sha256"]

    judgment_revise(assignment=assignment, rater=rater, winner="left")  # same verdict, revised
    assert Judgment.objects.filter(rater=rater).get().revised_at is not None
    revised = study_results(study=study, method="wilson")["fingerprint"]
    assert revised["n_judgments"] == 14
    assert revised["judgments_sha256"] != added["judgments_sha256"]


# --- length and style from the stored texts ---------------------------------------------------


def test_length_bias_and_style_features_come_from_the_output_texts(tmp_path: Path) -> None:
    study = study_create_or_update(slug="styled", baseline=BASELINE).study
    prompts = tmp_path / "styled.jsonl"
    long_answer = "# Answer\n\n" + "- a point worth making\n" * 5 + "**In short:** yes."
    prompts.write_text(
        "".join(
            json.dumps({"key": k, "prompt": f"Question {k}?", "outputs": outputs}) + "\n"
            for k, outputs in (
                ("q1", {"Alpha": long_answer, BASELINE: "Yes."}),
                ("q2", {"Alpha": long_answer, BASELINE: "No, not really."}),
                ("q3", {"Alpha": "Maybe.", BASELINE: "It depends on the weather."}),
            )
        )
    )
    prompt_set_load(study=study, file=prompts)
    path = tmp_path / "styled.csv"
    path.write_text(
        "key,left,right,winner,rater\n"
        "q1,Alpha,Base,left,r1\n"  # longer won
        "q1,Base,Alpha,right,r2\n"  # longer won
        "q2,Alpha,Base,right,r1\n"  # shorter won
        "q3,Alpha,Base,right,r1\n"  # longer (the baseline) won
        "q3,Base,Alpha,tie,r2\n"  # tie: left out
    )
    judgments_import(study=study, file=path)
    results = study_results(study=study, method="wilson")
    bias = results["length_bias"]
    assert (bias["n"], bias["n_longer_won"], bias["n_ties"]) == (4, 3, 1)
    assert set(results["style_coefficients"]) == {"length", "headers", "lists", "bold"}
    alpha = by_name(results["generators"])["Alpha"]
    assert alpha["lc_win_rate"] is not None
    assert alpha["lc_ci_low"] <= alpha["lc_win_rate"] <= alpha["lc_ci_high"]
    assert {r["name"] for r in results["bradley_terry_style_controlled"]} == {"Alpha", BASELINE}


def test_features_missing_an_output_are_read_again(tmp_path: Path) -> None:
    # As if outputs were loaded between reading the features and reading the judgments: the
    # cached features lack outputs that judgments refer to, and are read anew.
    study = hand_study(tmp_path)
    key = f"output-features:{study.pk}:{study_outputs_version(study=study)}"
    empty = np.zeros(0, dtype=np.int64)
    cache.set(key, OutputFeatures(output=empty, values=np.zeros((0, 4), dtype=np.int64)))
    results = study_results(study=study, method="wilson")
    # Every output of the hand study has three words: all pairs are equally long.
    assert results["length_bias"]["n_same_length"] == 10
    assert study_output_features(study=study).covers(
        np.array(list(Output.objects.filter(study=study).values_list("id", flat=True)))
    )
