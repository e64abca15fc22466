"""Crowd platforms: each platform's URL parameters sign a person in, with no form."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from annotations.models import Assignment, Invite, Membership, User
from annotations.services.access import invite_create
from annotations.services.users import user_create_or_update
from tests.access_support import logged_in
from tests.judging_support import judging_study, make_user

pytestmark = pytest.mark.django_db

# (query string, username, platform id, session id, study id), one per platform.
PLATFORMS = [
    (
        "PROLIFIC_PID=5f1a2b3c4d&STUDY_ID=study_77&SESSION_ID=sess-1",
        "prolific:5f1a2b3c4d",
        ("prolific", "5f1a2b3c4d", "sess-1", "study_77"),
    ),
    (
        "workerId=A1B2C3&assignmentId=3XYZ&hitId=HIT9&turkSubmitTo=https%3A%2F%2Fwww.mturk.com",
        "mturk:A1B2C3",
        ("mturk", "A1B2C3", "3XYZ", "HIT9"),
    ),
    ("participant=anon_42", "participant:anon_42", ("participant", "anon_42", "", "")),
]


@pytest.fixture
def link() -> str:
    study = judging_study(slug="crowd", prompts=3, access="invite", instructions="Be **fair**.")
    _, token = invite_create(study=study, uses=10)
    return f"/join/{token}/"


@pytest.mark.parametrize(("query", "username", "ids"), PLATFORMS)
def test_each_platform_signs_the_person_in_as_a_member_and_opens_the_judging_page(
    link: str, query: str, username: str, ids: tuple[str, str, str, str]
) -> None:
    client = Client()
    response = client.get(f"{link}?{query}")
    assert response.status_code == 302 and response["Location"] == "/studies/crowd/judge/"
    user = User.objects.get(username=username)
    assert user.is_rater and user.is_crowd and not user.has_usable_password()
    membership = Membership.objects.get(user=user)
    got = (
        membership.platform,
        membership.platform_id,
        membership.platform_session_id,
        membership.platform_study_id,
    )
    assert got == ids
    assert client.get("/studies/crowd/judge/").status_code == 200
    next_ = client.post("/api/studies/crowd/assignments/next", content_type="application/json")
    assert next_.status_code == 200


@pytest.mark.parametrize(("query", "username", "ids"), PLATFORMS)
def test_the_same_id_gets_the_same_account_back_and_takes_no_second_use(
    link: str, query: str, username: str, ids: tuple[str, str, str, str]
) -> None:
    Client().get(f"{link}?{query}")
    again = Client()
    changed = query.replace("sess-1", "sess-2").replace("3XYZ", "4ABC")
    assert again.get(f"{link}?{changed}").status_code == 302
    assert User.objects.filter(username=username).count() == 1
    assert Membership.objects.count() == 1
    assert Invite.objects.get().uses_left == 9
    if ids[0] != "participant":
        # The platform's latest session is the one kept (MTurk: one assignment per HIT).
        assert Membership.objects.get().platform_session_id in ("sess-2", "4ABC")
    assert again.get("/studies/crowd/judge/").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "workerId=A1B2C3&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE",
        # MTurk may leave the worker out of a preview: the assignment id alone says it.
        "assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=HIT9",
    ],
)
def test_the_mturk_preview_shows_the_instructions_and_no_pairs(link: str, query: str) -> None:
    response = Client().get(f"{link}?{query}")
    assert response.status_code == 200
    text = response.content.decode()
    assert "<strong>fair</strong>" in text and "preview" in text.lower()
    assert "candidate answer" not in text and "baseline answer" not in text
    assert not User.objects.filter(username__startswith="mturk:").exists()
    assert not Assignment.objects.exists()
    assert Invite.objects.get().uses_left == 10


@pytest.mark.parametrize(
    "query",
    [
        "PROLIFIC_PID=" + "a" * 101,
        "PROLIFIC_PID=abc%3Cscript%3E",
        "PROLIFIC_PID=",
        "PROLIFIC_PID=ok&SESSION_ID=bad%20session",
        "workerId=A1&assignmentId=x/../y",
        "participant=a:b",
        "participant=%C3%A9t%C3%A9",
    ],
)
def test_bad_parameters_get_a_clear_400_page_and_make_nothing(link: str, query: str) -> None:
    response = Client().get(f"{link}?{query}")
    assert response.status_code == 400
    assert "letters, digits" in response.content.decode()
    assert User.objects.count() == 0
    assert Invite.objects.get().uses_left == 10


def test_an_id_of_100_characters_is_accepted(link: str) -> None:
    assert Client().get(f"{link}?participant={'x' * 100}").status_code == 302


def test_a_crowd_account_judges_only_the_study_it_joined(link: str) -> None:
    judging_study(slug="open-to-all", prompts=1)
    client = Client()
    client.get(f"{link}?PROLIFIC_PID=p1")
    assert client.get("/studies/open-to-all/judge/").status_code == 404
    home = client.get("/").content.decode()
    assert "/studies/crowd/judge/" in home and "/studies/open-to-all/judge/" not in home


def test_a_crowd_session_is_limited_to_the_study_whose_link_signed_it_in(link: str) -> None:
    other = judging_study(slug="crowd-b", prompts=1, access="invite")
    _, other_token = invite_create(study=other)
    first = Client()
    first.get(f"{link}?PROLIFIC_PID=p7")
    second = Client()
    second.get(f"/join/{other_token}/?PROLIFIC_PID=p7")
    # The same account is a member of both, but each session judges only its own study,
    # on the page and through the rater API alike.
    assert Membership.objects.filter(user__username="prolific:p7").count() == 2
    assert first.get("/studies/crowd/judge/").status_code == 200
    assert first.get("/studies/crowd-b/judge/").status_code == 404
    assert second.get("/studies/crowd-b/judge/").status_code == 200
    assert second.get("/studies/crowd/judge/").status_code == 404
    csrf = second.cookies["csrftoken"].value
    api = second.post("/api/studies/crowd/assignments/next", HTTP_X_CSRFTOKEN=csrf)
    assert api.status_code == 404 and api["Content-Type"] == "application/json"
    assert (
        second.post("/api/studies/crowd-b/assignments/next", HTTP_X_CSRFTOKEN=csrf).status_code
        == 200
    )
    home = second.get("/").content.decode()
    assert "/studies/crowd-b/judge/" in home and "/studies/crowd/judge/" not in home


def test_a_link_asks_before_replacing_a_signed_in_account(link: str) -> None:
    client = logged_in(make_user("alice"))
    page = client.get(f"{link}?participant=someone_else")
    assert page.status_code == 200
    assert "Continue as participant:someone_else" in page.content.decode()
    assert client.get("/api/me").json()["username"] == "alice"
    assert not User.objects.filter(username="participant:someone_else").exists()
    confirmed = client.post(f"{link}?participant=someone_else")
    assert confirmed.status_code == 302
    assert client.get("/api/me").json()["username"] == "participant:someone_else"


def test_crowd_names_cannot_be_registered_by_hand() -> None:
    # The colon is refused by the username rules everywhere people name accounts; only the
    # crowd sign-in makes such names.
    with pytest.raises(ValidationError):
        user_create_or_update(username="prolific:stolen", role="rater", password="x-Y-z-12345")
    study = judging_study(slug="crowd2", prompts=1)
    _, token = invite_create(study=study)
    response = Client().post(
        f"/join/{token}/", {"username": "prolific:stolen", "password": "correct-horse-9"}
    )
    assert response.status_code == 400
    assert not User.objects.filter(username="prolific:stolen").exists()


def test_a_crowd_name_held_by_another_role_is_refused(link: str) -> None:
    User.objects.create(username="prolific:staff1", role="researcher")
    response = Client().get(f"{link}?PROLIFIC_PID=staff1")
    assert response.status_code == 403
    assert not Membership.objects.exists()
