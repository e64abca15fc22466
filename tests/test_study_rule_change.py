"""A change of baseline or pairing makes its comparisons at once, by every route; loads warn."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from annotations.models import Comparison, Generator, Judgment, Study
from annotations.services.studies import study_create_or_update, study_save
from tests.api_support import token_client
from tests.loading_support import BASELINE, NESTED, import_, jsonl, load, make_study, write

pytestmark = pytest.mark.django_db

NO_BASELINE = (
    "study 'bare' has no baseline yet: no comparisons were made; choose a baseline "
    "(admin or create_study --baseline) and they are made then"
)


def _bare_study(tmp_path: Any, **settings: Any) -> Study:
    """A study saved as the admin saves a new one (no baseline), with NESTED loaded into it."""
    study = Study(slug="bare", name="Bare", **settings)
    study_save(study=study, changed=())
    summary = load(study, tmp_path, jsonl(*NESTED))
    assert summary.comparisons == 0
    return study


def _pairs(study: Study) -> set[tuple[str, str]]:
    return set(
        Comparison.objects.filter(study=study).values_list(
            "output_a__generator__name", "output_b__generator__name"
        )
    )


def _command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_loading_into_a_study_without_a_baseline_says_so_in_the_summary(tmp_path):
    study = _bare_study(tmp_path)
    again = load(study, tmp_path, jsonl(*NESTED))
    assert again.warnings == [NO_BASELINE]
    assert str(again).endswith(f"0 comparisons (0 already there). Warning: {NO_BASELINE}.")
    with_baseline = load(make_study(slug="based"), tmp_path, jsonl(*NESTED))
    assert with_baseline.warnings == [] and "Warning" not in str(with_baseline)


def test_the_load_command_prints_the_warning(tmp_path):
    _bare_study(tmp_path)
    path = str(write(tmp_path, "more.jsonl", jsonl(*NESTED)))
    assert NO_BASELINE in _command("load_prompts", path, "--study", "bare")


def test_the_upload_api_lists_the_warning(tmp_path):
    _bare_study(tmp_path)
    upload = SimpleUploadedFile("set.jsonl", jsonl(*NESTED).encode())
    response = token_client("adm", "admin").post(
        "/api/studies/bare/prompts", {"file": upload}, format="multipart"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["warnings"] == [NO_BASELINE] and body["comparisons"] == 0
    assert body["message"].endswith(f"Warning: {NO_BASELINE}.")


def test_an_all_pairs_study_needs_no_baseline_to_pair_and_gets_no_warning(tmp_path):
    study = Study(slug="bare", name="Bare", pairing="all_pairs")
    study_save(study=study, changed=())
    summary = load(study, tmp_path, jsonl(*NESTED))
    assert summary.warnings == [] and summary.comparisons == 6
    # With no baseline every pair is oriented by name.
    assert _pairs(study) == {
        ("Alpaca", BASELINE),
        ("Alpaca", "GPT 4"),
        (BASELINE, "GPT 4"),
    }


def test_create_study_with_a_baseline_makes_the_comparisons_at_once(tmp_path):
    study = _bare_study(tmp_path)
    out = _command("create_study", "bare", "--baseline", BASELINE)
    assert "Updated study 'bare': baseline." in out
    assert _pairs(study) == {("Alpaca", BASELINE), ("GPT 4", BASELINE)}
    assert Comparison.objects.filter(study=study).count() == 4


def test_create_study_with_a_new_pairing_adds_and_keeps_judgments(tmp_path):
    study = make_study(slug="cli")
    load(study, tmp_path, jsonl(*NESTED))
    import_(study, tmp_path, f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},left,w1\n")
    judged = Judgment.objects.get(comparison__study=study)
    _command("create_study", "cli", "--baseline", BASELINE, "--pairing", "all_pairs")
    assert Comparison.objects.filter(study=study).count() == 6
    assert Judgment.objects.get(comparison__study=study) == judged


def test_the_service_reports_how_many_comparisons_it_made(tmp_path):
    _bare_study(tmp_path)
    result = study_create_or_update(slug="bare", baseline=BASELINE)
    assert (result.changed, result.comparisons_added) == (["baseline"], 4)
    # A second baseline adds the pairs against it; the first ones stay.
    result = study_create_or_update(slug="bare", baseline="GPT 4")
    # Alpaca against GPT 4 on each prompt; Base 7B's pair with GPT 4 is already there.
    assert result.comparisons_added == 2
    assert Comparison.objects.filter(study__slug="bare").count() == 6
    unchanged = study_create_or_update(slug="bare", baseline="GPT 4", overlap=5)
    assert (unchanged.changed, unchanged.comparisons_added) == (["overlap"], 0)


def test_patch_of_the_baseline_makes_the_comparisons_at_once(tmp_path):
    study = _bare_study(tmp_path)
    client = token_client("adm", "admin")
    response = client.patch("/api/studies/bare", {"baseline": BASELINE}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["baseline"] == BASELINE
    assert _pairs(study) == {("Alpaca", BASELINE), ("GPT 4", BASELINE)}


def test_patch_of_the_pairing_of_a_study_without_a_baseline_pairs_all(tmp_path):
    study = _bare_study(tmp_path)
    client = token_client("adm", "admin")
    response = client.patch("/api/studies/bare", {"pairing": "all_pairs"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["baseline"] is None
    assert Comparison.objects.filter(study=study).count() == 6
    assert not Generator.objects.filter(study=study, name="").exists()


def test_a_failure_making_the_comparisons_undoes_the_baseline_change(tmp_path, monkeypatch):
    from annotations.services import studies

    _bare_study(tmp_path)

    def broken(**kwargs: Any) -> tuple[int, int]:
        raise RuntimeError("pairing failed")

    monkeypatch.setattr(studies, "comparisons_create", broken)
    with pytest.raises(RuntimeError):
        study_create_or_update(slug="bare", baseline=BASELINE)
    assert Study.objects.get(slug="bare").baseline_id is None


def test_a_load_holding_a_stale_study_pairs_by_the_baseline_chosen_meanwhile(tmp_path):
    stale = _bare_study(tmp_path)
    study_create_or_update(slug="bare", baseline=BASELINE)
    more = {**NESTED[0], "key": "later"}
    summary = load(stale, tmp_path, jsonl(more))
    assert summary.warnings == [] and summary.comparisons == 2
    assert Comparison.objects.filter(study=stale).count() == 6
