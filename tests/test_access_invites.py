"""Invite links, memberships and the members file: sign-up, joining, expiry and use counts."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from annotations.models import Invite, Membership, User
from annotations.services.access import invite_create, members_import
from tests.access_support import logged_in
from tests.judging_support import TEST_PASSWORD, judging_study, make_user

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "correct-horse-battery-9"


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def _sign_up(token: str, username: str, password: str = GOOD_PASSWORD) -> tuple[Client, object]:
    client = Client()
    response = client.post(f"/join/{token}/", {"username": username, "password": password})
    return client, response


def test_invite_command_prints_the_link_last_and_stores_only_its_hash(settings) -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    settings.BASE_URL = ""
    out = _run("invite", "--study", "inv", "--uses", "3", "--days", "2")
    link = out.splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8000/join/") and link.endswith("/")
    token = link.rsplit("/", 2)[-2]
    assert len(token) >= 43  # secrets.token_urlsafe(32)
    invite = Invite.objects.get(study=study)
    assert invite.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert invite.uses_left == 3
    assert timedelta(days=1.9) < invite.expires_at - timezone.now() < timedelta(days=2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM annotations_invite")
        assert token not in repr(cursor.fetchall())
    other = _run("invite", "--study", "inv", "--base-url", "https://eval.example.org/")
    assert other.splitlines()[-1].startswith("https://eval.example.org/join/")
    settings.BASE_URL = "https://env.example.org"  # DJANGO_BASE_URL
    assert (
        _run("invite", "--study", "inv")
        .splitlines()[-1]
        .startswith("https://env.example.org/join/")
    )


def test_invite_command_refuses_bad_options() -> None:
    judging_study(slug="inv", prompts=1)
    with pytest.raises(CommandError, match="uses"):
        _run("invite", "--study", "inv", "--uses", "0")
    with pytest.raises(CommandError, match="no study"):
        _run("invite", "--study", "nope")


def test_sign_up_makes_a_member_rater_logs_them_in_and_opens_the_judging_page() -> None:
    study = judging_study(slug="inv", prompts=2, access="invite")
    _, token = invite_create(study=study)
    form = Client().get(f"/join/{token}/")
    assert form.status_code == 200 and b'name="password"' in form.content
    client, response = _sign_up(token, "newbie")
    assert response.status_code == 302 and response["Location"] == "/studies/inv/judge/"
    user = User.objects.get(username="newbie")
    assert user.is_rater and not user.is_staff and user.check_password(GOOD_PASSWORD)
    assert Membership.objects.filter(study=study, user=user).exists()
    assert client.get("/studies/inv/judge/").status_code == 200


def test_sign_up_shows_the_password_validators_messages_and_makes_nothing() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    _, token = invite_create(study=study)
    _, response = _sign_up(token, "weak", "123")
    assert response.status_code == 400
    text = response.content.decode()
    assert "This password is too short" in text
    assert "This password is entirely numeric" in text
    _, response = _sign_up(token, "bad:name", GOOD_PASSWORD)
    assert response.status_code == 400 and "Enter a valid username" in response.content.decode()
    assert not User.objects.filter(username__in=["weak", "bad:name"]).exists()


def test_sign_up_never_takes_over_an_existing_account() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    owner = make_user("taken")
    _, token = invite_create(study=study)
    _, response = _sign_up(token, "taken")
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    owner.refresh_from_db()
    assert owner.check_password(TEST_PASSWORD)
    assert not Membership.objects.filter(study=study).exists()


def test_a_logged_in_rater_who_opens_the_link_becomes_a_member() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    rater = make_user("known")
    _, token = invite_create(study=study, uses=1)
    client = logged_in(rater)
    assert client.get("/studies/inv/judge/").status_code == 404
    response = client.get(f"/join/{token}/")
    assert response.status_code == 302 and response["Location"] == "/studies/inv/judge/"
    assert client.get("/studies/inv/judge/").status_code == 200
    # Opening it again takes no use: the link (one use) still lets them in.
    assert client.get(f"/join/{token}/").status_code == 302
    assert Invite.objects.get().uses_left == 0


def test_a_used_up_link_gets_a_clear_410_page() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    _, token = invite_create(study=study, uses=2)
    assert _sign_up(token, "first")[1].status_code == 302
    assert _sign_up(token, "second")[1].status_code == 302
    assert Invite.objects.get().uses_left == 0
    _, response = _sign_up(token, "third")
    assert response.status_code == 410
    assert "used up" in response.content.decode()
    assert Client().get(f"/join/{token}/").status_code == 410
    assert not User.objects.filter(username="third").exists()


def test_an_expired_link_gets_a_clear_410_page() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    invite, token = invite_create(study=study, days=1)
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(f"/join/{token}/")
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert _sign_up(token, "late")[1].status_code == 410
    assert logged_in(make_user("member-late")).get(f"/join/{token}/").status_code == 410
    assert Client().get(f"/join/{token}/?PROLIFIC_PID=abc").status_code == 410


def test_members_come_back_through_an_expired_or_used_up_link() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    invite, token = invite_create(study=study, uses=1, days=1)
    worker = Client()
    assert worker.get(f"/join/{token}/?PROLIFIC_PID=p1").status_code == 302
    Invite.objects.filter(pk=invite.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    again = Client().get(f"/join/{token}/?PROLIFIC_PID=p1")
    assert again.status_code == 302
    assert Client().get(f"/join/{token}/?PROLIFIC_PID=p2").status_code == 410
    assert Membership.objects.filter(study=study).count() == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [({"days": float("nan")}, "days"), ({"days": 1e10}, "days"), ({"uses": 2**31}, "uses")],
)
def test_invite_bounds_are_refused_naming_the_field(options: dict, field: str) -> None:
    study = judging_study(slug="inv", prompts=1)
    with pytest.raises(ValidationError) as refused:
        invite_create(study=study, **options)
    assert field in refused.value.message_dict
    assert not Invite.objects.exists()


def test_an_unknown_token_is_404_and_a_closed_study_says_so() -> None:
    study = judging_study(slug="inv", prompts=1, is_open=False)
    _, token = invite_create(study=study)
    assert Client().get("/join/made-up-token/").status_code == 404
    assert Client().get(f"/join/{token}/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_uses_are_counted_atomically_under_concurrent_arrivals() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    _, token = invite_create(study=study, uses=3)
    threads, statuses = 8, []
    barrier = threading.Barrier(threads)

    def arrive(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            response = Client().get(f"/join/{token}/?participant=person{index}")
            statuses.append(response.status_code)
        finally:
            connection.close()

    workers = [threading.Thread(target=arrive, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sorted(statuses) == [302] * 3 + [410] * 5
    assert Membership.objects.filter(study=study).count() == 3
    assert Invite.objects.get().uses_left == 0


def test_add_user_with_study_options_makes_a_member_of_each() -> None:
    first = judging_study(slug="one", prompts=1, access="invite")
    second = judging_study(slug="two", prompts=1, access="invite")
    out = _run("add_user", "ann", "--role", "rater", "--study", "one", "--study", "two")
    assert "member of 'one'; member of 'two'" in out
    user = User.objects.get(username="ann")
    assert set(Membership.objects.filter(user=user).values_list("study", flat=True)) == {
        first.pk,
        second.pk,
    }
    with pytest.raises(CommandError, match="no study"):
        _run("add_user", "bob", "--role", "rater", "--study", "nope")


def test_add_members_adds_raters_and_prints_one_time_set_password_links(tmp_path) -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    make_user("has-password")
    path = tmp_path / "raters.csv"
    path.write_text("username,email\nalice,alice@example.org\nbob\nhas-password\n")
    out = _run("add_members", str(path), "--study", "inv", "--base-url", "https://x.example")
    lines = out.splitlines()
    assert lines[-1] == "Added 3 members to 'inv' (2 new accounts); 2 set-password links above."
    links = dict(line.split("\t") for line in lines[:-1])
    assert set(links) == {"alice", "bob"}
    assert User.objects.get(username="alice").email == "alice@example.org"
    assert Membership.objects.filter(study=study).count() == 3

    # The link sets a password once, with Django's validators, and logs the rater in.
    path_part = links["alice"].removeprefix("https://x.example")
    client = Client()
    form = client.get(path_part, follow=True)
    assert form.status_code == 200 and b"new_password1" in form.content
    set_url = form.redirect_chain[-1][0]
    weak = client.post(set_url, {"new_password1": "123", "new_password2": "123"})
    assert "This password is too short" in weak.content.decode()
    done = client.post(set_url, {"new_password1": GOOD_PASSWORD, "new_password2": GOOD_PASSWORD})
    assert done.status_code == 302
    assert client.get("/studies/inv/judge/").status_code == 200
    again = Client().get(path_part, follow=True)
    assert b"already been used" in again.content


def test_a_members_file_with_a_bad_row_adds_nobody() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    make_user("boss", "admin")
    with pytest.raises(Exception, match="row 2") as caught:
        members_import(study=study, data="ok-name\nbad name!\nboss\n")
    assert "not a rater" in str(caught.value)
    assert not Membership.objects.exists()
    assert not User.objects.filter(username="ok-name").exists()


def test_the_admin_makes_invite_links_and_adds_members_from_its_pages() -> None:
    study = judging_study(slug="inv", prompts=1, access="invite")
    admin = logged_in(make_user("boss", "admin"))
    change = admin.get(f"/admin/annotations/study/{study.pk}/change/").content.decode()
    assert f"/admin/annotations/study/{study.pk}/invite/" in change
    made = admin.post(f"/admin/annotations/study/{study.pk}/invite/", {"uses": "5", "days": ""})
    text = made.content.decode()
    assert made.status_code == 200 and "/join/" in text
    assert Invite.objects.get(study=study).uses_left == 5
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("m.csv", b"carol\ndave,dave@example.org\n")
    added = admin.post(f"/admin/annotations/study/{study.pk}/members/", {"file": upload})
    assert added.status_code == 200 and "/reset/" in added.content.decode()
    assert Membership.objects.filter(study=study).count() == 2
    # The members are listed on the study's page.
    change = admin.get(f"/admin/annotations/study/{study.pk}/change/").content.decode()
    assert "members (who may judge an invite-only study)" in change.lower()
