"""GET /api/studies/<slug>/export: roles, streaming, headers, filters and errors."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.http import StreamingHttpResponse
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from annotations.exports.registry import EXPORT_FORMATS
from annotations.models import Study, User
from annotations.selectors.pseudonyms import rater_pseudonym
from annotations.services.users import user_create_or_update
from tests.export_support import BASELINE, PromptSpec, Vote, export_study, judge, rater
from tests.quality_support import answer, attention_checks

pytestmark = pytest.mark.django_db


@pytest.fixture
def study():
    data = export_study(
        slug="api-exp",
        prompts=[
            PromptSpec("p1", "First?", {"c": "yes", BASELINE: "no"}, category="easy"),
            PromptSpec("p2", "Second?", {"c": "=1+1", BASELINE: "2"}, category="hard"),
        ],
    )
    p1, p2 = data.comparison("p1", "c"), data.comparison("p2", "c")
    judge(rater("api-r1"), Vote(p1, 1), Vote(p2, 1))
    judge(rater("api-r2"), Vote(p1, 1), Vote(p2, -1))
    judge(rater("api-r3"), Vote(p1, -1))
    # One answered attention check, so that the qc export has a row.
    Study.objects.filter(pk=data.study.pk).update(gold_rate=1.0)
    attention_checks(data.study, 1)
    data.study.refresh_from_db()
    assert answer(data.study, rater("api-r4")) == "gold"
    return data.study


def _pseudonym(study, username: str) -> str:
    """The rater id exports of `study` show for `username`."""
    return rater_pseudonym(study_id=study.pk, user_id=User.objects.get(username=username).pk)


def _url(slug: str = "api-exp", **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("api-study-export", args=[slug]) + ("?" + query if query else "")


def _client(role: str) -> Client:
    client = Client()
    client.force_login(user_create_or_update(username=f"who-{role}", role=role).user)
    return client


def test_researcher_downloads_a_streamed_csv(study) -> None:
    response = _client("researcher").get(_url(format="judgments-csv"))
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="api-exp-judgments.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 5
    assert {r["output_a"] for r in rows} == {"yes", "'=1+1"}


def test_admin_with_a_token_gets_training_pairs_and_their_summary_headers(study) -> None:
    token = user_create_or_update(username="api-admin", role="admin").token
    response = Client().get(_url(format="dpo"), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="api-exp-dpo.jsonl"'
    assert response["X-Export-Comparisons"] == "2"
    assert response["X-Export-Kept"] == "1"
    assert response["X-Export-Dropped-Split"] == "1"
    assert response["X-Export-Dropped-Tie"] == "0"
    assert response["X-Export-Dropped-Both-Bad"] == "0"
    records = [json.loads(x) for x in b"".join(response.streaming_content).splitlines()]
    assert records == [
        {
            "prompt": "First?",
            "chosen": "yes",
            "rejected": "no",
            "meta_prompt_key": "p1",
            "meta_chosen_generator": "c",
            "meta_rejected_generator": BASELINE,
            "meta_votes": {"chosen": 2, "rejected": 1, "tie": 0, "both_bad": 0},
        }
    ]


def test_every_registered_format_downloads(study) -> None:
    for name, export_format in EXPORT_FORMATS.items():
        client = _client("admin" if export_format.admin_only else "researcher")
        response = client.get(_url(format=name))
        assert response.status_code == 200, name
        assert response["Content-Type"] == export_format.content_type
        assert b"".join(response.streaming_content), name


def test_raters_and_anonymous_users_cannot_export(study) -> None:
    assert _client("rater").get(_url(format="judgments-csv")).status_code == 403
    assert Client().get(_url(format="judgments-csv")).status_code in (401, 403)
    rater_token = user_create_or_update(username="api-tok-rater", role="rater").token
    response = Client().get(_url(format="dpo"), HTTP_AUTHORIZATION=f"Token {rater_token}")
    assert response.status_code == 403
    assert "X-Export-Kept" not in response
    # 403 rather than 401 while session authentication comes first in the DRF settings.
    wrong = Client().get(_url(format="dpo"), HTTP_AUTHORIZATION="Token wrong")
    assert wrong.status_code in (401, 403)
    assert "X-Export-Kept" not in wrong


def test_filters_come_from_query_parameters(study) -> None:
    client = _client("researcher")
    response = client.get(_url(format="judgments-jsonl", category="hard"))
    lines = b"".join(response.streaming_content).splitlines()
    assert [json.loads(x)["prompt_key"] for x in lines] == ["p2", "p2"]
    r2, r3 = _pseudonym(study, "api-r2"), _pseudonym(study, "api-r3")
    response = client.get(_url(format="dpo") + f"&exclude_rater={r3}&exclude_rater={r2}")
    assert response["X-Export-Kept"] == "2"  # api-r1 alone preferred c on both prompts


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "format"),
        ({"format": "pdf"}, "format"),
        ({"format": "dpo", "since": "last-week"}, "since"),
        ({"format": "judgments-csv", "generator": "ghost"}, "generator"),
        ({"format": "judgments-csv", "rater": "nobody"}, "rater"),
    ],
)
def test_bad_parameters_get_400_with_field_errors(study, params, field) -> None:
    response = _client("researcher").get(_url(**params))
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert [e["field"] for e in body["errors"]] == [field]


def test_unknown_study_is_404(study) -> None:
    assert _client("researcher").get(_url("no-such", format="dpo")).status_code == 404


def test_export_buttons_link_every_format(study) -> None:
    html = render_to_string("annotations/_export_buttons.html", {"study": study})
    for name, export_format in EXPORT_FORMATS.items():
        link = f'href="/api/studies/api-exp/export?format={name}"'
        assert (link not in html) if export_format.admin_only else (link in html)
