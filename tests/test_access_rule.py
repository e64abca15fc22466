"""Who may judge which study: every role x membership x study access, everywhere a rater goes.

The rule (selectors/judging.py MAY_JUDGE_SQL): a rater may judge a study open to raters when it
is open to every rater and theirs is not a crowd account, or when they are its member. Anyone
else gets 404 (the page, the rater API on both its paths, progress), and the home page does not
list the study.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client

from annotations.models import User
from annotations.selectors.judging import JUDGEABLE_SQL, rater_access_params, study_judging_get
from annotations.services.access import Arrival, crowd_sign_in, invite_create, membership_remove
from annotations.services.assignment import assignment_next
from annotations.services.studies import study_create_or_update
from tests.access_support import logged_in, member_add
from tests.judging_support import judging_study, make_user, user_token

pytestmark = pytest.mark.django_db

ROLES = ("rater", "crowd", "researcher", "admin")


def _user(role: str, study) -> User:
    if role == "crowd":
        # A crowd account that joined another study only: it is a member nowhere else.
        other = judging_study(slug="elsewhere", prompts=1)
        invite, _ = invite_create(study=other)
        return crowd_sign_in(invite=invite, arrival=Arrival(platform="prolific", platform_id="p1"))
    return make_user(f"who-{role}", role)


def _may_judge(role: str, member: bool, access: str) -> bool:
    if role in ("researcher", "admin"):
        return False
    return member or (access == "open" and role != "crowd")


@pytest.mark.parametrize("access", ["open", "invite"])
@pytest.mark.parametrize("member", [False, True])
@pytest.mark.parametrize("role", ROLES)
def test_each_role_membership_and_access_gets_what_the_rule_says(
    role: str, member: bool, access: str
) -> None:
    study = judging_study(slug="ruled", prompts=2, access=access)
    user = _user(role, study)
    if member:
        member_add(study, user)
    client = logged_in(user)
    may = _may_judge(role, member, access)
    rater = role in ("rater", "crowd")

    home = client.get("/").content.decode()
    page = client.get("/studies/ruled/judge/")
    fast = client.post("/api/studies/ruled/assignments/next", content_type="application/json")
    # Asking for HTML leaves the fast lane: the DRF view answers with the same rule.
    drf = client.post(
        "/api/studies/ruled/assignments/next",
        content_type="application/json",
        HTTP_ACCEPT="text/html",
    )
    progress = client.get("/api/studies/ruled/progress")

    if may:
        assert 'href="/studies/ruled/judge/"' in home
        assert page.status_code == 200
        assert fast.status_code == 200
        assert drf.status_code == 200
        assert progress.status_code == 200
    elif rater:
        assert 'href="/studies/ruled/judge/"' not in home
        assert page.status_code == 404
        assert fast.status_code == 404
        assert fast.json() == {
            "detail": "Not found.",
            "errors": [{"field": None, "message": "Not found."}],
        }
        assert drf.status_code == 404
        assert progress.status_code == 404
        assert set(progress.json()) == {"detail", "errors"}
    else:
        # Other roles learn nothing new: the judging page and the rater API are for raters.
        assert page.status_code == 403
        assert (fast.status_code, drf.status_code, progress.status_code) == (403, 403, 403)


def test_a_closed_study_is_hidden_from_members_too() -> None:
    study = judging_study(slug="shut", prompts=1, access="invite", is_open=False)
    rater = make_user("member")
    member_add(study, rater)
    assert study_judging_get(slug="shut", user=rater) is None
    assert logged_in(rater).get("/studies/shut/judge/").status_code == 404


def test_a_token_client_gets_the_same_404() -> None:
    judging_study(slug="members", prompts=1, access="invite")
    token = user_token("outsider")
    response = Client().post(
        "/api/studies/members/assignments/next", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert response.status_code == 404


def test_a_removed_member_can_no_longer_submit_on_their_lease() -> None:
    study = judging_study(slug="members", prompts=2, access="invite")
    rater = make_user("leaving")
    member_add(study, rater)
    lease = assignment_next(study=study, rater=rater)
    membership_remove(study=study, user=rater)
    client = logged_in(rater)
    body = json.dumps({"winner": "left"})
    judged = client.post(
        f"/api/assignments/{lease.pk}/judgment", body, content_type="application/json"
    )
    skipped = client.post(f"/api/assignments/{lease.pk}/skip", content_type="application/json")
    assert (judged.status_code, skipped.status_code) == (404, 404)


def test_opening_a_study_to_every_rater_lets_non_members_in_but_not_crowd_accounts() -> None:
    study = judging_study(slug="flip", prompts=1, access="invite")
    rater = make_user("plain")
    crowd = _user("crowd", study)
    assert study_judging_get(slug="flip", user=rater) is None
    study_create_or_update(slug="flip", baseline=study.baseline.name, access="open")
    assert study_judging_get(slug="flip", user=rater) is not None
    assert study_judging_get(slug="flip", user=crowd) is None


def test_an_open_study_lookup_never_runs_the_membership_probe() -> None:
    # The hot path: for an open study and a non-crowd rater, the rule costs the lookup
    # nothing (PostgreSQL stops at the first true branch of the OR).
    judging_study(slug="fast", prompts=1)
    rater = make_user("quick")
    sql = f"SELECT s.id FROM annotations_study s WHERE s.slug = %(slug)s AND {JUDGEABLE_SQL}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}",
            {"slug": "fast", **rater_access_params(rater=rater)},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    [probe] = [line for line in plan.splitlines() if "annotations_membership" in line]
    assert "never executed" in probe, plan
