"""Studies and generators API: contract fields, pagination, roles, error shape."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotations.models import Generator, Study
from annotations.services.studies import study_create_or_update
from tests.api_support import assert_error_shape, token_client
from tests.judging_support import BASELINE, CANDIDATE, judging_study

pytestmark = pytest.mark.django_db

STUDY_FIELDS = {
    "slug",
    "name",
    "description",
    "instructions",
    "baseline",
    "pairing",
    "scale",
    "allow_both_bad",
    "criteria",
    "flags",
    "rationale",
    "overlap",
    "lease_minutes",
    "is_open",
    "access",
    "quota",
    "completion_code",
    "completion_url",
    "min_seconds",
    "quality_thresholds",
    "gold_rate",
    "repeat_rate",
    "qualification",
    "qualification_pass",
    "qualification_retry",
    "screenout_code",
    "screenout_url",
    "gold_min_accuracy",
    "gold_min_n",
    "target_half_width",
    "stop_on_decision",
    "sampling",
    "created_at",
    "updated_at",
}


def test_researcher_lists_studies_with_every_contract_field() -> None:
    judging_study(slug="s-one", scale="likert5", criteria=["helpful"])
    response = token_client("res", "researcher").get("/api/studies")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["next"] is None and body["previous"] is None
    [study] = body["results"]
    assert set(study) == STUDY_FIELDS
    assert study["slug"] == "s-one"
    assert study["baseline"] == BASELINE
    assert study["scale"] == "likert5" and study["criteria"] == ["helpful"]


def test_studies_list_is_paginated_fifty_a_page() -> None:
    for i in range(53):
        study_create_or_update(slug=f"page-{i:02d}", baseline="b")
    client = token_client("res", "researcher")
    first = client.get("/api/studies").json()
    assert first["count"] == 53 and len(first["results"]) == 50
    assert first["results"][0]["slug"] == "page-00"
    second = client.get(first["next"]).json()
    assert [s["slug"] for s in second["results"]] == ["page-50", "page-51", "page-52"]
    beyond = client.get("/api/studies?page=9")
    assert beyond.status_code == 404
    assert_error_shape(beyond.json())


def test_admin_creates_a_study_through_the_service() -> None:
    client = token_client("adm", "admin")
    response = client.post(
        "/api/studies",
        {
            "slug": "new-study",
            "baseline": "gpt-base",
            "name": "New study",
            "scale": "likert7",
            "flags": ["hallucination", "hallucination"],
            "overlap": 2,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["slug"] == "new-study" and body["baseline"] == "gpt-base"
    assert body["scale"] == "likert7" and body["overlap"] == 2
    assert body["flags"] == ["hallucination"]
    study = Study.objects.get(slug="new-study")
    assert study.baseline.name == "gpt-base" and study.name == "New study"


def test_creating_an_existing_slug_is_refused_and_changes_nothing() -> None:
    study_create_or_update(slug="taken", baseline="b", name="Original")
    response = token_client("adm", "admin").post(
        "/api/studies", {"slug": "taken", "baseline": "other", "name": "X"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body)
    assert body["errors"][0]["field"] == "slug"
    assert "already exists" in body["errors"][0]["message"]
    study = Study.objects.get(slug="taken")
    assert study.name == "Original" and study.baseline.name == "b"


def test_bad_study_settings_get_one_error_per_field() -> None:
    response = token_client("adm", "admin").post(
        "/api/studies",
        {"slug": "bad slug!", "baseline": "b", "scale": "likert9", "overlap": 0, "criteria": ["x"]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body)
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"slug", "scale", "overlap", "criteria.0"}
    assert not Study.objects.exists()


def test_admin_updates_settings_and_baseline_with_patch() -> None:
    judging_study(slug="upd")
    client = token_client("adm", "admin")
    response = client.patch(
        "/api/studies/upd", {"overlap": 5, "is_open": False, "baseline": CANDIDATE}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["overlap"] == 5 and body["is_open"] is False and body["baseline"] == CANDIDATE
    study = Study.objects.get(slug="upd")
    assert study.overlap == 5 and study.baseline.name == CANDIDATE
    # Without a baseline the current one stays.
    client.patch("/api/studies/upd", {"name": "Renamed"}, format="json")
    study.refresh_from_db()
    assert study.name == "Renamed" and study.baseline.name == CANDIDATE


def test_researchers_and_raters_cannot_write_studies_and_raters_cannot_read_them() -> None:
    judging_study(slug="ro")
    researcher = token_client("res", "researcher")
    rater = token_client("rat", "rater")
    assert researcher.get("/api/studies/ro").status_code == 200
    for client in (researcher, rater):
        refused = client.patch("/api/studies/ro", {"overlap": 9}, format="json")
        assert refused.status_code == 403
        assert_error_shape(refused.json())
        created = client.post("/api/studies", {"slug": "x", "baseline": "b"}, format="json")
        assert created.status_code == 403
    assert rater.get("/api/studies").status_code == 403
    assert rater.get("/api/studies/ro").status_code == 403
    assert rater.get("/api/studies/ro/generators").status_code == 403
    anonymous = APIClient().get("/api/studies")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == "Token"
    assert_error_shape(anonymous.json())
    assert Study.objects.get(slug="ro").overlap == 3


def test_unknown_study_is_404_with_the_error_shape() -> None:
    response = token_client("res", "researcher").get("/api/studies/nope")
    assert response.status_code == 404
    assert_error_shape(response.json())


def test_generators_list_marks_the_baseline() -> None:
    judging_study(slug="gen")
    response = token_client("res", "researcher").get("/api/studies/gen/generators")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    rows = {g["name"]: g for g in body["results"]}
    assert set(rows[BASELINE]) == {"id", "name", "family", "size", "is_baseline"}
    assert rows[BASELINE]["is_baseline"] is True and rows[CANDIDATE]["is_baseline"] is False


def test_admin_sets_family_and_size_of_a_generator_and_researcher_cannot() -> None:
    study = judging_study(slug="gen")
    generator = Generator.objects.get(study=study, name=CANDIDATE)
    url = f"/api/studies/gen/generators/{generator.pk}"
    refused = token_client("res", "researcher").patch(url, {"size": 7}, format="json")
    assert refused.status_code == 403
    client = token_client("adm", "admin")
    response = client.patch(url, {"family": "Llama", "size": 7_000_000_000}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["family"] == "Llama" and response.json()["size"] == 7_000_000_000
    generator.refresh_from_db()
    assert (generator.family, generator.size) == ("Llama", 7_000_000_000)
    bad = client.patch(url, {"size": 0}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "size"
    cleared = client.patch(url, {"size": None}, format="json")
    assert cleared.json()["size"] is None and cleared.json()["family"] == "Llama"


def test_a_generator_of_another_study_is_not_found_through_this_one() -> None:
    judging_study(slug="gen-a")
    other = judging_study(slug="gen-b")
    foreign = Generator.objects.filter(study=other).first()
    response = token_client("adm", "admin").get(f"/api/studies/gen-a/generators/{foreign.pk}")
    assert response.status_code == 404
