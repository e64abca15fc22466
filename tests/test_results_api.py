"""GET /api/studies/<slug>/results and the results downloads: contract, options, 400s, roles."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token

from annotations.services.users import user_create_or_update
from tests.results_support import BASELINE, hand_study

pytestmark = pytest.mark.django_db
URL = "/api/studies/hand/results"


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def client_for(role: str) -> Client:
    user = user_create_or_update(username=f"api-{role}", role=role, password="pw-123456-x").user
    client = Client()
    client.force_login(user)
    return client


def test_researcher_gets_the_json_contract(tmp_path: Path) -> None:
    hand_study(tmp_path)
    response = client_for("researcher").get(URL, {"method": "wilson"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert (data["study"], data["baseline"], data["method"], data["confidence"]) == (
        "hand",
        BASELINE,
        "wilson",
        0.95,
    )
    alpha = next(g for g in data["generators"] if g["name"] == "Alpha")
    assert (alpha["n"], alpha["wins"], alpha["ties"], alpha["losses"]) == (7, 3, 2, 2)
    assert {"rating", "ci_low", "ci_high"} <= set(data["bradley_terry"][0])
    assert data["agreement"]["n_comparisons"] == 3
    assert data["position_bias"]["n_left"] == 6


def test_admin_with_a_token_and_the_same_options_as_the_command(tmp_path: Path) -> None:
    hand_study(tmp_path)
    admin = user_create_or_update(username="api-admin", role="admin", password="pw-123456-x").user
    token, _ = Token.objects.get_or_create(user=admin)
    response = Client().get(
        URL,
        {"baseline": "Beta", "method": "bootstrap", "resamples": "250", "seed": "4"},
        HTTP_AUTHORIZATION=f"Token {token.key}",
    )
    assert response.status_code == 200
    data = response.json()
    assert (data["baseline"], data["resamples"], data["seed"]) == ("Beta", 250, 4)
    assert all(g["n_resamples"] == 250 for g in data["generators"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"method": "exact"}, "method"),
        ({"resamples": "99"}, "resamples"),
        ({"resamples": "10001"}, "resamples"),
        ({"resamples": "many"}, "resamples"),
        ({"seed": "-1"}, "seed"),
        ({"baseline": "Gamma"}, "baseline"),
    ],
)
def test_bad_options_get_400_naming_the_field(tmp_path: Path, query: dict, field: str) -> None:
    hand_study(tmp_path)
    response = client_for("researcher").get(URL, query)
    assert response.status_code == 400
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert body["detail"]


def test_raters_and_anonymous_are_refused(tmp_path: Path) -> None:
    hand_study(tmp_path)
    assert client_for("rater").get(URL).status_code == 403
    assert Client().get(URL).status_code in (401, 403)
    assert client_for("rater").get("/api/studies/hand/export?format=results-csv").status_code == 403


def test_unknown_study_is_404() -> None:
    assert client_for("researcher").get("/api/studies/none/results").status_code == 404


def test_results_downloads_join_the_export_registry(tmp_path: Path) -> None:
    hand_study(tmp_path)
    client = client_for("researcher")
    response = client.get("/api/studies/hand/export", {"format": "results-csv"})
    assert response.status_code == 200
    assert 'filename="hand-results.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["generator"], r["wins"], r["ties"], r["losses"]) for r in rows] == [
        ("Alpha", "3", "2", "2"),
        ("Beta", "1", "1", "2"),
    ]
    response = client.get("/api/studies/hand/export", {"format": "results-json"})
    data = json.loads(b"".join(response.streaming_content))
    assert data["study"] == "hand" and len(data["generators"]) == 2
    response = client.get("/api/studies/hand/export", {"format": "figure-pdf"})
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    # Results describe the whole study: judgment filters are refused, not silently ignored.
    response = client.get("/api/studies/hand/export", {"format": "results-csv", "rater": "x"})
    assert response.status_code == 400


def test_export_command_writes_results(tmp_path: Path) -> None:
    from django.core.management import call_command

    hand_study(tmp_path)
    target = tmp_path / "out.json"
    call_command(
        "export", study="hand", format="results-json", output=str(target), stderr=io.StringIO()
    )
    assert json.loads(target.read_text())["baseline"] == BASELINE


def test_bt_ci_query_parameter(tmp_path: Path) -> None:
    hand_study(tmp_path)
    client = client_for("researcher")
    data = client.get(URL, {"bt_ci": "bootstrap", "resamples": "200"}).json()
    assert data["bradley_terry_method"]["ci"] == "bootstrap"
    assert data["bradley_terry_method"]["n_resamples"] == 200
    data = client.get(URL, {"bt_ci": "sandwich"}).json()
    assert (data["bt_ci"], data["bradley_terry_method"]["n_resamples"]) == ("sandwich", 0)
    response = client.get(URL, {"bt_ci": "nope"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "bt_ci"
