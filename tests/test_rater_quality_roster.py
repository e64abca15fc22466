"""Rater quality signals in the roster: the API rows, the raters page and manage.py raters."""

from __future__ import annotations

import csv
import io
import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from annotations.models import Study, User
from annotations.selectors.pseudonyms import rater_pseudonym
from annotations.selectors.roster import QUALITY_FIELDS, roster_rows
from annotations.services.access import membership_add
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from annotations.services.loading.judgments import judgments_import
from tests.access_support import logged_in
from tests.judging_support import BASELINE, CANDIDATE, judging_study, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, object]:
    """Four comparisons (candidate = output_a), each judged by:
    - e1, e2 (imported): candidate on the left, "left" -> a, always the left side;
    - e3 (imported): baseline on the left, "left" -> b, always the left side;
    - w (on the site): a on every comparison, each judgment 1 s.
    Per comparison the answers are a, a, b, a.
    """
    study = judging_study(slug="qc", prompts=4, overlap=4)
    rows = []
    for i in range(4):
        for rater, left, right in (
            ("e1", CANDIDATE, BASELINE),
            ("e2", CANDIDATE, BASELINE),
            ("e3", BASELINE, CANDIDATE),
        ):
            rows.append(
                {
                    "key": f"p{i}",
                    "left": left,
                    "right": right,
                    "winner": "left",
                    "rater": rater,
                    "created_at": f"2024-01-01T10:0{i}:00Z",
                }
            )
    data = io.BytesIO("".join(json.dumps(row) + "\n" for row in rows).encode())
    judgments_import(study=study, file=data, filename="judgments.jsonl")
    web = make_user("w")
    for _ in range(4):
        lease = assignment_next(study=study, rater=web)
        winner = "left" if lease.left_is_a else "right"
        judgment_submit(assignment=lease, rater=web, winner=winner, duration_ms=1000)
    idle = make_user("idle")
    membership_add(study=study, user=idle)
    return {"study": study, "web": web, "idle": idle}


def _rows(study: Study) -> dict[str, dict]:
    return {row["username"]: row for row in roster_rows(study=study, limit=100)}


def _thresholds(study: Study, **values: object) -> None:
    # No service sets these yet (create_study gains --min-seconds with control items).
    Study.objects.filter(pk=study.pk).update(**values)
    study.refresh_from_db()


def test_signals_by_hand_for_imported_and_site_judgments(world) -> None:
    rows = _rows(world["study"])
    e1, e3, web = rows["ext:e1"], rows["ext:e3"], rows["w"]
    # e3's others on each comparison: a, a, a -> majority a, e3 said b: 0 of 4. e1's others:
    # a, b, a -> a has 2 of 3: agrees, 4 of 4.
    assert (e3["agreement_n"], e3["agreement"]) == (4, 0.0)
    assert (e1["agreement_n"], e1["agreement"]) == (4, 1.0)
    assert (web["agreement_n"], web["agreement"]) == (4, 1.0)
    # Outlier, n = 4 answers (a x3, b): s(a) = 2/5, s(b) = 4/5, mean s = 1/2, so e(a) = 4/5
    # and e(b) = 8/5 on each of the four comparisons.
    assert (e3["outlier_n"], e3["outlier_score"]) == (4, pytest.approx((8 / 5) ** 4))
    assert e1["outlier_score"] == pytest.approx((4 / 5) ** 4)
    # Position: every imported answer was the left side: 4 of 4, p = 2 / 2^4.
    assert (e3["left_n"], e3["left_share"]) == (4, 1.0)
    assert e3["left_p_value"] == pytest.approx(0.125)
    assert e1["longest_streak"] == 4
    # Imports have no durations: no speed signal; the site rater's are all 1 s < 3 s.
    assert (e1["timed_n"], e1["median_seconds"], e1["too_fast_share"]) == (0, None, None)
    assert (web["timed_n"], web["median_seconds"], web["too_fast_share"]) == (4, 1.0, 1.0)
    # Too few observations for any default threshold: nobody is flagged.
    assert not any(row["flagged"] for row in rows.values())
    # Control items and actions are not there yet.
    assert (e1["gold_n"], e1["gold_accuracy"], e1["repeat_n"], e1["self_consistency"]) == (
        0,
        None,
        0,
        None,
    )
    assert (e1["paused"], e1["excluded"], e1["excluded_reason"]) == (False, False, None)
    idle = rows["idle"]
    assert (idle["agreement_n"], idle["outlier_score"], idle["reasons"]) == (0, 1.0, [])


def test_study_thresholds_flag_and_min_seconds_zero_turns_speed_off(world) -> None:
    study = world["study"]
    _thresholds(
        study,
        quality_thresholds={"agreement_min_n": 4, "speed_min_n": 4, "streak_at_least": 4},
    )
    rows = _rows(study)
    assert rows["ext:e3"]["reasons"] == ["agreement", "streak"]
    assert rows["ext:e1"]["reasons"] == ["streak"]
    assert "speed" in rows["w"]["reasons"] and rows["w"]["flagged"]
    _thresholds(study, min_seconds=0)
    web = _rows(study)["w"]
    assert web["too_fast_share"] is None and "speed" not in web["reasons"]


def test_the_api_rows_carry_the_signals_for_researchers(world) -> None:
    study = world["study"]
    body = logged_in(make_user("lead", "researcher")).get("/api/studies/qc/raters").json()
    rows = {row["rater"]: row for row in body["results"]}
    e3 = rows[rater_pseudonym(study_id=study.pk, user_id=User.objects.get(username="ext:e3").pk)]
    assert set(QUALITY_FIELDS) <= set(e3)
    assert (e3["agreement_n"], e3["agreement"], e3["left_n"]) == (4, 0.0, 4)
    assert e3["outlier_score"] == pytest.approx((8 / 5) ** 4)
    assert "username" not in e3


def test_the_raters_page_sorts_highlights_flags_and_names_the_thresholds(world) -> None:
    study = world["study"]
    _thresholds(study, quality_thresholds={"agreement_min_n": 4})
    response = logged_in(make_user("lead", "researcher")).get("/studies/qc/raters/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="flagged"') == 1
    assert '<span class="reason">agreement</span>' in html
    assert "below 50% (at least 4 comparisons with a majority)" in html
    assert "outlier e-value 20 or more" in html
    assert "js/raters.js" in html
    # No inline script (the CSP forbids them) and no names for researchers.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "ext:e3" not in html
    admin = logged_in(make_user("boss", "admin")).get("/studies/qc/raters/").content.decode()
    assert "ext:e3" in admin
    assert logged_in(make_user("r1")).get("/studies/qc/raters/").status_code == 403


def test_manage_py_raters_prints_table_json_and_csv(world) -> None:
    out = StringIO()
    call_command("raters", "--study", "qc", stdout=out)
    table = out.getvalue()
    assert "Outlier e (n)" in table and "ext:e3" in table and "Flagged when:" in table
    out = StringIO()
    call_command("raters", "--study", "qc", "--format", "json", stdout=out)
    rows = {row["username"]: row for row in json.loads(out.getvalue())}
    assert rows["ext:e3"]["agreement"] == 0.0 and rows["w"]["too_fast_share"] == 1.0
    out = StringIO()
    call_command("raters", "--study", "qc", "--format", "csv", stdout=out)
    by_user = {row["username"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}
    assert (by_user["ext:e3"]["agreement_n"], by_user["ext:e3"]["agreement"]) == ("4", "0.0")
    assert by_user["idle"]["reasons"] == "" and by_user["idle"]["flagged"] == "false"
    assert set(QUALITY_FIELDS) <= set(by_user["w"])
