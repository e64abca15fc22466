"""The study admin: a study made before its models, the baseline chosen later, progress, help."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.models import Comparison, Flag, Generator, Judgment, Study
from tests.admin_support import admin_client, form_posted
from tests.loading_support import BASELINE, NESTED, import_, jsonl, load, make_study

pytestmark = pytest.mark.django_db

ADD = "/admin/annotations/study/add/"
LIST = "/admin/annotations/study/"
UPLOAD = "/admin/annotations/study/upload/"


def _change(study: Study) -> str:
    return f"/admin/annotations/study/{study.pk}/change/"


def _admin_study_add(client: Any, slug: str, **changes: Any) -> Study:
    page = client.get(ADD)
    assert page.status_code == 200
    response = client.post(ADD, form_posted(page, slug=slug, name=slug.title(), **changes))
    assert response.status_code == 302, _errors(response)
    return Study.objects.get(slug=slug)


def _admin_study_change(client: Any, study: Study, **changes: Any) -> Any:
    page = client.get(_change(study))
    response = client.post(_change(study), form_posted(page, **changes), follow=True)
    assert response.redirect_chain, _errors(response)
    return response


def _errors(response: Any) -> str:
    context = response.context
    if context and "adminform" in context:
        return str(context["adminform"].form.errors)
    return response.content.decode()[:2000]


def _upload(client: Any, study: Study, content: str) -> str:
    upload = SimpleUploadedFile("set.jsonl", content.encode())
    response = client.post(UPLOAD, {"study": study.pk, "kind": "prompts", "file": upload})
    assert response.status_code == 200
    return response.content.decode()


def test_a_study_made_in_the_admin_before_its_models_warns_until_its_baseline_is_chosen():
    client = admin_client()
    add_page = client.get(ADD).content.decode()
    # The baseline list is empty, and says so; the field is not required.
    select = re.search(r'<select name="baseline"[^>]*>(.*?)</select>', add_page, re.S)
    assert select and "required" not in select.group(0)
    assert re.findall(r"<option[^>]*>([^<]*)</option>", select.group(1)) == ["(none yet)"]
    study = _admin_study_add(client, "fresh")
    assert study.baseline_id is None
    page = client.get(_change(study)).content.decode()
    assert 'id="baseline-warning"' in page and "has no baseline yet" in page

    # Loading says plainly why no comparisons were made.
    summary = _upload(client, study, jsonl(*NESTED))
    assert 'class="warning" id="load-summary"' in summary
    assert (
        "study &#x27;fresh&#x27; has no baseline yet: no comparisons were made; choose a baseline "
        "(admin or create_study --baseline) and they are made then" in summary
    )
    assert Comparison.objects.filter(study=study).count() == 0

    # Choosing the baseline makes the comparisons at once, and the warning goes.
    baseline = Generator.objects.get(study=study, name=BASELINE)
    done = _admin_study_change(client, study, baseline=str(baseline.pk))
    assert "Made 4 new comparisons" in done.content.decode()
    study.refresh_from_db()
    assert study.baseline_id == baseline.pk
    pairs = Comparison.objects.filter(study=study).select_related("output_b")
    assert pairs.count() == 4  # two prompts, two candidates each
    assert {c.output_b.generator_id for c in pairs} == {baseline.pk}
    assert 'id="baseline-warning"' not in client.get(_change(study)).content.decode()


def test_an_all_pairs_study_pairs_without_a_baseline_and_its_warning_says_so():
    client = admin_client()
    study = _admin_study_add(client, "every", pairing="all_pairs")
    page = client.get(_change(study)).content.decode()
    assert "all_pairs pairing makes comparisons without one" in page
    summary = _upload(client, study, jsonl(*NESTED))
    assert 'class="success" id="load-summary"' in summary and "Warning" not in summary
    assert Comparison.objects.filter(study=study).count() == 6  # 3 pairs of 3 models, 2 prompts


def test_a_change_of_pairing_in_the_admin_adds_comparisons_and_keeps_judgments(tmp_path):
    client = admin_client()
    study = make_study(slug="switch")
    load(study, tmp_path, jsonl(*NESTED))
    import_(study, tmp_path, f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},left,w1\n")
    before = set(Comparison.objects.filter(study=study).values_list("pk", "judgment_count"))
    assert len(before) == 4
    _admin_study_change(client, study, pairing="all_pairs")
    after = set(Comparison.objects.filter(study=study).values_list("pk", "judgment_count"))
    assert before < after and len(after) == 6
    assert Judgment.objects.filter(comparison__study=study).count() == 1


def test_saving_other_settings_makes_no_comparisons_and_no_message(tmp_path):
    client = admin_client()
    study = make_study(slug="quiet")
    load(study, tmp_path, jsonl(*NESTED))
    Comparison.objects.filter(study=study).delete()
    done = _admin_study_change(client, study, overlap="5")
    assert "new comparisons" not in done.content.decode()
    assert Comparison.objects.filter(study=study).count() == 0


def test_criteria_and_flags_say_what_they_accept_and_take_the_instructgpt_preset():
    client = admin_client()
    study = make_study(slug="form")
    page = client.get(_change(study)).content.decode()
    assert "any of: helpful, harmless, honest" in page
    assert "instructgpt (InstructGPT's per-output list, all of them) or comma-separated" in page
    assert "fails_instruction, inappropriate, hallucination" in page
    _admin_study_change(client, study, flags="instructgpt", criteria="helpful, honest")
    study.refresh_from_db()
    assert study.flags == list(Flag.values)
    assert study.criteria == ["helpful", "honest"]
    refused = client.post(_change(study), form_posted(client.get(_change(study)), criteria="kind"))
    assert refused.status_code == 200
    assert (
        "unknown value(s) &#x27;kind&#x27;; choose from helpful, harmless, honest"
        in refused.content.decode()
    )


def _list_row(page: str, slug: str) -> str:
    rows = [row for row in page.split("<tr") if f">{slug}</a>" in row]
    assert len(rows) == 1, page[:3000]
    return rows[0]


def test_the_study_list_shows_judgments_comparisons_that_reached_k_and_raters(tmp_path):
    client = admin_client()
    study = make_study(slug="progress", overlap=2)
    load(study, tmp_path, jsonl(*NESTED))
    import_(
        study,
        tmp_path,
        "key,left,right,winner,rater\n"
        f"sum,GPT 4,{BASELINE},left,w1\nsum,GPT 4,{BASELINE},tie,w2\n"
        f"haiku,Alpaca,{BASELINE},right,w1\n",
    )
    make_study(slug="empty")
    page = client.get(LIST).content.decode()
    for header in ("Judgments", "Comparisons that reached k", "Raters"):
        assert header in page
    row = _list_row(page, "progress")
    assert re.findall(r'<td class="field-(judgments|reached_k|raters)">([^<]*)</td>', row) == [
        ("judgments", "3"),
        ("reached_k", "1 of 4"),
        ("raters", "2"),
    ]
    empty = _list_row(page, "empty")
    assert '<td class="field-reached_k">0 of 0</td>' in empty


def test_the_study_list_costs_the_same_queries_for_one_study_or_many(tmp_path):
    client = admin_client()
    study = make_study(slug="s-0")
    load(study, tmp_path, jsonl(*NESTED))
    client.get(LIST)  # warm the session and content types

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST).status_code == 200
        return len(captured)

    one = queries()
    for i in range(1, 6):
        other = make_study(slug=f"s-{i}")
        load(other, tmp_path, jsonl(*NESTED))
        import_(other, tmp_path, f"key,left,right,winner,rater\nsum,GPT 4,{BASELINE},left,r{i}\n")
    assert queries() == one
