"""Quotas and completion: never past the quota (also under concurrency), the completion code
in no answer before completion and in the progress once complete."""

from __future__ import annotations

import json
import threading
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from annotations.models import Judgment, Membership, Study
from annotations.selectors.judging import rater_progress
from annotations.services.assignment import (
    PICK_RULE,
    _pick_params,
    assignment_next,
    assignment_skip,
)
from annotations.services.judging import judgment_submit
from tests.access_support import crowd_user, logged_in
from tests.judging_support import judging_study, make_user

pytestmark = pytest.mark.django_db

CODE = "SECRET-CODE-7Q"
URL = "https://app.prolific.com/submissions/complete?cc={code}"


def _study(**settings_: object) -> Study:
    return judging_study(
        slug="paid",
        prompts=settings_.pop("prompts", 6),
        overlap=1,
        quota=settings_.pop("quota", 3),
        completion_code=CODE,
        completion_url=URL,
        **settings_,
    )


def test_create_study_takes_access_quota_and_completion_options() -> None:
    out = StringIO()
    call_command(
        "create_study",
        "crowd",
        "--baseline",
        "base",
        "--access",
        "invite",
        "--quota",
        "20",
        "--completion-code",
        "C0DE",
        "--completion-url",
        URL,
        stdout=out,
    )
    study = Study.objects.get(slug="crowd")
    assert (study.access, study.quota, study.completion_code) == ("invite", 20, "C0DE")
    assert study.completion_url == URL
    call_command("create_study", "crowd", "--baseline", "base", "--quota", "0", stdout=out)
    study.refresh_from_db()
    assert study.quota is None
    assert "quota" in out.getvalue().splitlines()[-1]
    with pytest.raises(CommandError, match="completion_url"):
        call_command("create_study", "crowd", "--baseline", "base", "--completion-url", "nope")
    with pytest.raises(CommandError, match="quota"):
        call_command("create_study", "crowd", "--baseline", "base", "--quota", "-1")
    call_command("create_study", "plain", "--baseline", "base", stdout=out)
    assert Study.objects.get(slug="plain").access == "open"


def test_a_rater_gets_no_lease_past_the_quota_and_then_has_completed() -> None:
    study = _study(quota=3)
    rater = make_user("worker")
    for _ in range(3):
        lease = assignment_next(study=study, rater=rater)
        assert lease is not None
        judgment_submit(assignment=lease, rater=rater, winner="left")
    assert assignment_next(study=study, rater=rater) is None
    progress = rater_progress(study=study, rater=rater)
    assert progress == {
        "judged": 3,
        "skipped": 0,
        "remaining": 0,
        "quota": 3,
        "complete": True,
        "completion_code": CODE,
        "completion_url": f"https://app.prolific.com/submissions/complete?cc={CODE}",
        "stopped": None,
        "screenout_code": None,
        "screenout_url": None,
        "study_complete": False,
    }
    # Completing an open study makes no membership: that would let the rater in after the
    # study turned invite-only.
    assert not Membership.objects.filter(study=study, user=rater).exists()
    study.access = "invite"
    study.save(update_fields=["access"])
    assert assignment_next(study=study, rater=rater) is None
    study.access = "open"
    study.save(update_fields=["access"])
    # Others still get work: the quota is per rater.
    assert assignment_next(study=study, rater=make_user("another")) is not None


def test_skips_do_not_count_toward_the_quota_and_remaining_is_capped_by_it() -> None:
    study = _study(quota=2)
    rater = make_user("skipper")
    lease = assignment_next(study=study, rater=rater)
    client = logged_in(rater)
    client.post(f"/api/assignments/{lease.pk}/skip", content_type="application/json")
    progress = rater_progress(study=study, rater=rater)
    assert (progress["judged"], progress["skipped"], progress["remaining"]) == (0, 1, 2)
    assert progress["complete"] is False and progress["completion_code"] is None


def test_nothing_left_is_completion_too() -> None:
    study = _study(quota=None, prompts=2)
    rater = make_user("finisher")
    for _ in range(2):
        judgment_submit(
            assignment=assignment_next(study=study, rater=rater), rater=rater, winner="tie"
        )
    body = logged_in(rater).get("/api/studies/paid/progress").json()
    assert body["complete"] is True and body["quota"] is None
    assert body["completion_code"] == CODE


def test_a_study_without_a_quota_never_runs_the_quota_count() -> None:
    # The pick's quota test is an uncorrelated subquery behind "quota IS NULL OR": for a study
    # without a quota PostgreSQL never runs it, so the hot path costs what it did.
    study = judging_study(slug="free", prompts=2)
    rater = make_user("free-rater")
    params = _pick_params(study=study, rater=rater, now=timezone.now())
    with connection.cursor() as cursor:
        # A generic plan, as the prepared statement of the hot path gets once it is reused:
        # the quota is then a parameter, not a constant the planner could fold away.
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        types = ", ".join(_TYPES[name] for name in sorted(params))
        cursor.execute(f"PREPARE pick({types}) AS {_numbered(PICK_RULE.pick_sql, params)}")
        values = ", ".join(["%s"] * len(params))
        cursor.execute(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE pick({values})",
            [params[name] for name in sorted(params)],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE pick")
    counts = [line for line in plan.splitlines() if "qj" in line and "Scan" in line]
    assert counts and all("never executed" in line for line in counts), plan


_TYPES = {
    "expires": "timestamptz",
    "now": "timestamptz",
    "overlap": "integer",
    "quota": "integer",
    "rater": "bigint",
    "study": "bigint",
    "tried": "bigint[]",
}


def _numbered(sql: str, params: dict[str, object]) -> str:
    """`sql` with its %(name)s parameters as $1, $2, ... in sorted name order."""
    for number, name in enumerate(sorted(params), start=1):
        sql = sql.replace(f"%({name})s", f"${number}")
    return sql


THREADS = 16
QUOTA = 5


@pytest.mark.django_db(transaction=True)
def test_16_threads_of_one_rater_never_exceed_the_quota() -> None:
    study = _study(quota=QUOTA, prompts=40)
    rater = make_user("greedy")
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            for _ in range(QUOTA * 3):
                lease = assignment_next(study=study, rater=rater)
                if lease is None:
                    break
                try:
                    judgment_submit(assignment=lease, rater=rater, winner="left")
                except Exception as exc:  # a lease judged by a sibling thread: 409-type refusals
                    if getattr(exc, "code", None) not in ("skipped", "judged", "lease_lost"):
                        raise
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert Judgment.objects.filter(rater=rater).count() == QUOTA
    assert assignment_next(study=study, rater=rater) is None


def _bodies_before_completion(client: Client, study: Study) -> list[str]:
    """Every body the rater gets on the way to their last judgment, that one excluded."""
    bodies = [client.get("/").content.decode(), client.get("/studies/paid/judge/").content.decode()]
    judge_js = Path(settings.BASE_DIR, "static", "js", "judge.js").read_text()
    bodies.append(judge_js)
    for _ in range(study.quota - 1):
        nxt = client.post("/api/studies/paid/assignments/next?progress=1")
        bodies.append(nxt.content.decode())
        bodies.append(client.get("/api/studies/paid/progress").content.decode())
        lease = nxt.json()["id"]
        judged = client.post(
            f"/api/assignments/{lease}/judgment?progress=1",
            json.dumps({"winner": "left"}),
            content_type="application/json",
        )
        bodies.append(judged.content.decode())
    return bodies


def test_the_code_is_in_no_answer_before_completion_and_in_the_progress_after() -> None:
    study = _study(quota=3)
    rater = crowd_user(study)
    client = logged_in(rater)
    for body in _bodies_before_completion(client, study):
        assert CODE not in body
    # A skip on the way gives nothing away either.
    nxt = client.post("/api/studies/paid/assignments/next?progress=1")
    skipped = client.post(f"/api/assignments/{nxt.json()['id']}/skip?progress=1")
    assert CODE not in nxt.content.decode() + skipped.content.decode()

    last = client.post("/api/studies/paid/assignments/next?progress=1").json()
    judged = client.post(
        f"/api/assignments/{last['id']}/judgment?progress=1",
        json.dumps({"winner": "right"}),
        content_type="application/json",
    ).json()
    assert judged["progress"]["complete"] is True
    assert judged["progress"]["completion_code"] == CODE
    assert judged["progress"]["completion_url"].endswith(f"cc={CODE}")
    assert client.post("/api/studies/paid/assignments/next").status_code == 204
    progress = client.get("/api/studies/paid/progress").json()
    assert progress["completion_code"] == CODE and progress["judged"] == 3
    assert Membership.objects.get(study=study, user=rater).completed_at is not None


def test_the_code_is_not_shown_to_raters_through_the_studies_api() -> None:
    # Raters cannot read study settings at all; researchers and admins see the code there.
    study = _study()
    rater = logged_in(make_user("nosy"))
    assert rater.get("/api/studies/paid").status_code == 403
    researcher = logged_in(make_user("lead", "researcher"))
    assert researcher.get(f"/api/studies/{study.slug}").json()["completion_code"] == CODE


def test_a_completion_url_code_is_url_quoted() -> None:
    study = judging_study(
        slug="q", prompts=1, overlap=1, quota=1, completion_code="A B&C", completion_url=URL
    )
    rater = make_user("quoted")
    judgment_submit(
        assignment=assignment_next(study=study, rater=rater), rater=rater, winner="left"
    )
    progress = rater_progress(study=study, rater=rater)
    assert (
        progress["completion_url"] == "https://app.prolific.com/submissions/complete?cc=A%20B%26C"
    )


def test_skipping_everything_or_arriving_before_any_pair_shows_no_code() -> None:
    study = _study(quota=5)
    rater = make_user("skipper")
    while (lease := assignment_next(study=study, rater=rater)) is not None:
        assignment_skip(assignment=lease, rater=rater)
    progress = rater_progress(study=study, rater=rater)
    assert progress["remaining"] == 0 and progress["judged"] == 0
    assert progress["complete"] is False and progress["completion_code"] is None
