"""The roster: one row per rater who started or is a member, from one set-based query."""

from __future__ import annotations

import csv
import io
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.pagination import PageNumberPagination

from annotations.models import Study, User
from annotations.selectors.pseudonyms import rater_pseudonym
from annotations.selectors.roster import QUALITY_FIELDS, roster_rows
from annotations.services.access import Arrival, crowd_sign_in, invite_create, membership_add
from annotations.services.assignment import assignment_next, assignment_skip
from annotations.services.judging import judgment_submit
from tests.access_support import logged_in
from tests.judging_support import judging_study, make_user

pytestmark = pytest.mark.django_db


def _judge(study: Study, rater: User, duration_ms: int) -> None:
    lease = assignment_next(study=study, rater=rater)
    judgment_submit(assignment=lease, rater=rater, winner="left", duration_ms=duration_ms)


@pytest.fixture
def world() -> dict[str, object]:
    study = judging_study(slug="pay", prompts=6, overlap=2, quota=3, completion_code="C")
    invite, _ = invite_create(study=study)
    worker = crowd_sign_in(
        invite=invite,
        arrival=Arrival(platform="prolific", platform_id="pid1", session_id="s1", study_id="st"),
    )
    # The worker: three judgments (1.5 s + 2.5 s + 0.25 s), a skip, then the quota: complete.
    _judge(study, worker, 1500)
    assignment_skip(assignment=assignment_next(study=study, rater=worker), rater=worker)
    _judge(study, worker, 2500)
    _judge(study, worker, 250)
    assert assignment_next(study=study, rater=worker) is None
    # A plain rater of the open study: one judgment of 4 s, not a member, not complete.
    plain = make_user("plain")
    _judge(study, plain, 4000)
    # A member who has not started, and a rater who only took a lease.
    idle = make_user("idle")
    membership_add(study=study, user=idle)
    leaser = make_user("leaser")
    assignment_next(study=study, rater=leaser)
    return {"study": study, "worker": worker, "plain": plain, "idle": idle, "leaser": leaser}


def _by_rater(rows: list[dict]) -> dict[str, dict]:
    return {row["rater"]: row for row in rows}


def test_rows_hold_hand_computed_counts_time_and_completion(world) -> None:
    study = world["study"]
    rows = _by_rater(roster_rows(study=study, limit=100))
    pseudo = {
        name: rater_pseudonym(study_id=study.pk, user_id=world[name].pk)
        for name in world
        if name != "study"
    }
    assert set(rows) == set(pseudo.values())
    worker = rows[pseudo["worker"]]
    assert (worker["judged"], worker["skipped"], worker["seconds"]) == (3, 1, 4.25)
    assert worker["member"] is True and worker["completed_at"] is not None
    assert (worker["platform"], worker["platform_id"]) == ("prolific", "pid1")
    assert (worker["platform_session_id"], worker["platform_study_id"]) == ("s1", "st")
    assert worker["username"] == "prolific:pid1"
    assert worker["started_at"] <= worker["last_at"]
    plain = rows[pseudo["plain"]]
    assert (plain["judged"], plain["skipped"], plain["seconds"]) == (1, 0, 4.0)
    assert plain["member"] is False and plain["completed_at"] is None
    idle = rows[pseudo["idle"]]
    assert (idle["judged"], idle["skipped"], idle["seconds"], idle["member"]) == (0, 0, 0, True)
    assert idle["started_at"] is None and idle["last_at"] is None
    leaser = rows[pseudo["leaser"]]
    assert (leaser["judged"], leaser["member"]) == (0, False)
    assert leaser["started_at"] is not None


def test_researchers_see_pseudonymous_rows_and_admins_see_who_each_rater_is(world) -> None:
    researcher = logged_in(make_user("lead", "researcher")).get("/api/studies/pay/raters")
    assert researcher.status_code == 200
    body = researcher.json()
    assert body["count"] == 4
    keys = {
        "rater",
        "judged",
        "skipped",
        "seconds",
        "started_at",
        "last_at",
        "completed_at",
        "member",
        *QUALITY_FIELDS,
    }
    assert all(set(row) == keys for row in body["results"])
    assert "prolific:pid1" not in researcher.content.decode()
    admin = logged_in(make_user("boss", "admin")).get("/api/studies/pay/raters").json()
    assert all(
        set(row) == keys | {"username", "platform", "platform_id"} for row in admin["results"]
    )
    worker = next(row for row in admin["results"] if row["username"] == "prolific:pid1")
    assert (worker["platform"], worker["platform_id"], worker["seconds"]) == (
        "prolific",
        "pid1",
        4.25,
    )
    assert (
        logged_in(make_user("lead2", "researcher")).get("/api/studies/none/raters").status_code
        == 404
    )


def test_the_roster_is_one_query_whatever_the_number_of_raters(world) -> None:
    client = logged_in(make_user("boss", "admin"))
    client.get("/api/studies/pay/raters")  # session and user loaded once

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/studies/pay/raters").status_code == 200
        return len(captured)

    before = queries()
    study = world["study"]
    for i in range(5):
        _judge(study, make_user(f"more{i}"), 100)
    assert queries() == before


def test_the_roster_pages(world, monkeypatch) -> None:
    monkeypatch.setattr(PageNumberPagination, "page_size", 3)
    client = logged_in(make_user("boss", "admin"))
    first = client.get("/api/studies/pay/raters").json()
    second = client.get("/api/studies/pay/raters?page=2").json()
    assert first["count"] == second["count"] == 4
    assert (len(first["results"]), len(second["results"])) == (3, 1)
    assert first["next"] and second["next"] is None
    raters = [row["rater"] for row in first["results"] + second["results"]]
    assert len(set(raters)) == 4
    # First starters first; the member who has not started comes last.
    assert second["results"][0]["username"] == "idle"
    assert client.get("/api/studies/pay/raters?page=3").status_code == 404


def test_raters_csv_export_has_platform_ids_and_is_for_admins_only(world) -> None:
    out = StringIO()
    call_command("export", "--study", "pay", "--format", "raters-csv", stdout=out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 4
    worker = next(row for row in rows if row["username"] == "prolific:pid1")
    assert worker["platform_id"] == "pid1" and worker["platform_session_id"] == "s1"
    assert (worker["judged"], worker["skipped"], worker["seconds"]) == ("3", "1", "4.25")
    assert worker["member"] == "true" and worker["completed_at"]
    url = "/api/studies/pay/export?format=raters-csv"
    assert logged_in(make_user("lead", "researcher")).get(url).status_code == 403
    response = logged_in(make_user("boss", "admin")).get(url)
    assert response.status_code == 200
    assert b"prolific:pid1" in b"".join(response.streaming_content)
    assert Client().get(url).status_code in (401, 403)


def test_raters_csv_refuses_judgment_filters(world) -> None:
    response = logged_in(make_user("boss", "admin")).get(
        "/api/studies/pay/export?format=raters-csv&category=hard"
    )
    assert response.status_code == 400
