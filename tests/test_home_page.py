"""The studies overview that researchers and admins land on."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from annotations.services.users import user_create_or_update
from tests.loading_support import BASELINE, NESTED, import_, jsonl, load, make_study

pytestmark = pytest.mark.django_db


def _client(role: str) -> Client:
    client = Client()
    client.force_login(user_create_or_update(username=f"u-{role}", role=role).user)
    return client


def _cells(page: str, slug: str) -> list[str]:
    row = next(r for r in page.split("<tr>") if f">{slug}" in r)
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_researchers_see_each_studys_size_and_how_far_judging_has_come(tmp_path):
    study = make_study("overview", overlap=1, name="Overview study")
    load(study, tmp_path, jsonl(*NESTED))
    import_(study, tmp_path, f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},left,w1\n")
    make_study("empty-one")
    page = _client("researcher").get("/").content.decode()
    # prompts, models, comparisons, judgments, complete (k = 1 rater): 1 of 4 comparisons.
    assert _cells(page, "overview")[3:8] == ["2", "3", "4", "1", "1 (25%)"]
    assert _cells(page, "empty-one")[3:8] == ["0", "1", "0", "0", "0"]
    assert "/studies/overview/results/" in page
    assert "/admin/annotations/study/" not in page


def test_admins_also_get_a_link_to_edit_each_study():
    study = make_study("editable")
    page = _client("admin").get("/").content.decode()
    assert f"/admin/annotations/study/{study.pk}/change/" in page


def test_raters_still_see_only_their_own_progress():
    make_study("open-study")
    page = _client("rater").get("/").content.decode()
    assert "Remaining for you" in page
    assert "Comparisons" not in page
