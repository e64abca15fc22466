"""create_study and add_user: create, update, report, and refuse bad input."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from annotations.models import Flag, Generator, Study, User

pytestmark = pytest.mark.django_db


def _run(*args: str, **options: object) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue().strip()


def test_create_study_creates_it_with_its_baseline():
    out = _run("create_study", "demo", "--baseline", "Weaver 12k", "--overlap", "5")
    assert out == "Created study 'demo' (baseline 'Weaver 12k', vs_baseline, ternary, overlap 5)."
    study = Study.objects.get(slug="demo")
    assert (study.name, study.overlap, study.baseline.name) == ("demo", 5, "Weaver 12k")
    assert study.baseline.study == study


def test_create_study_updates_only_what_changed_and_says_so():
    _run("create_study", "demo", "--baseline", "Base")
    out = _run(
        "create_study",
        "demo",
        "--baseline",
        "Base",
        "--pairing",
        "all_pairs",
        "--scale",
        "likert7",
        "--flags",
        "instructgpt",
        "--criteria",
        "helpful,honest",
    )
    assert out == "Updated study 'demo': pairing, scale, criteria, flags."
    study = Study.objects.get(slug="demo")
    assert (study.pairing, study.scale) == ("all_pairs", "likert7")
    assert study.flags == list(Flag.values)
    assert study.criteria == ["helpful", "honest"]
    assert _run("create_study", "demo", "--baseline", "Base") == "Study 'demo' already up to date."


def test_create_study_can_move_the_baseline_to_a_new_model():
    _run("create_study", "demo", "--baseline", "Old")
    assert _run("create_study", "demo", "--baseline", "New") == "Updated study 'demo': baseline."
    assert Study.objects.get(slug="demo").baseline.name == "New"
    assert set(Generator.objects.values_list("name", flat=True)) == {"Old", "New"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--overlap", "0"], "overlap: must be a whole number of at least 1"),
        (["--criteria", "funny"], "criteria: unknown value(s) 'funny'"),
        (["--flags", "rude"], "flags: unknown value(s) 'rude'"),
        (["--scale", "likert9"], "invalid choice: 'likert9'"),
        (["--instructions-file", "/nonexistent/instructions.md"], "cannot read instructions file"),
    ],
)
def test_create_study_refuses_bad_settings(args, message):
    with pytest.raises(CommandError) as info:
        _run("create_study", "demo", "--baseline", "Base", *args)
    assert message in str(info.value)
    assert not Study.objects.filter(slug="demo").exists()


def test_create_study_needs_a_baseline_and_a_valid_slug():
    with pytest.raises(CommandError, match="baseline"):
        _run("create_study", "demo", "--baseline", "  ")
    with pytest.raises(CommandError, match="slug"):
        _run("create_study", "not a slug!", "--baseline", "Base")
    assert Study.objects.count() == 0


def test_add_user_creates_a_user_with_a_token_and_the_roles_flags():
    out = _run("add_user", "ada", "--role", "admin", "--password", "correct-horse-9")
    user = User.objects.get(username="ada")
    token = Token.objects.get(user=user).key
    assert out == f"Created admin 'ada'; API token: {token}"
    assert (user.role, user.is_staff, user.is_superuser) == ("admin", True, True)
    assert user.check_password("correct-horse-9")


def test_add_user_updates_the_role_and_keeps_the_token_and_password():
    _run("add_user", "bob", "--role", "researcher", "--password", "first-pass-1")
    token = Token.objects.get(user__username="bob").key
    out = _run("add_user", "bob", "--role", "rater")
    assert out == f"Updated rater 'bob'; API token: {token}"
    user = User.objects.get(username="bob")
    assert (user.role, user.is_staff) == ("rater", False)
    assert user.check_password("first-pass-1")


def test_add_user_without_a_password_cannot_log_in_with_one():
    _run("add_user", "carol", "--role", "rater")
    assert not User.objects.get(username="carol").has_usable_password()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["  ", "--role", "rater"], "username: a username is required"),
        (["bad name!", "--role", "rater"], "username"),
        (["dave", "--role", "boss"], "invalid choice: 'boss'"),
    ],
)
def test_add_user_refuses_bad_input(args, message):
    with pytest.raises(CommandError) as info:
        _run("add_user", *args)
    assert message in str(info.value)
    assert not User.objects.exists()
