"""The export's rater filters take only the pseudonymous ids exports show, never usernames, and
refuse every other value with the same message (the API, the command and the selector)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from annotations.selectors.judgment_filters import judgment_filter_build
from annotations.selectors.pseudonyms import rater_pseudonym
from annotations.services.users import user_create_or_update
from tests.export_support import BASELINE, PromptSpec, Vote, export_study, judge, rater

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged():
    """One comparison judged by two raters; a third account that never judged in the study."""
    data = export_study(
        slug="rater-filter", prompts=[PromptSpec("p", "Q?", {"c": "a", BASELINE: "b"})]
    )
    alice, bob = rater("alice"), rater("bob")
    rater("carol")
    comparison = data.comparison("p", "c")
    judge(alice, Vote(comparison, 1))
    judge(bob, Vote(comparison, -1))
    return data.study, alice, bob


def _get(study, **params: str):
    client = Client()
    client.force_login(user_create_or_update(username="filter-researcher", role="researcher").user)
    return client.get(reverse("api-study-export", args=[study.slug]), params)


def _rows(response) -> list[dict]:
    return [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]


def test_the_pseudonym_an_export_shows_selects_that_raters_judgments(judged) -> None:
    study, alice, _ = judged
    pseudonym = rater_pseudonym(study_id=study.pk, user_id=alice.pk)
    response = _get(study, format="judgments-jsonl", rater=pseudonym)
    assert response.status_code == 200
    assert [(r["rater"], r["outcome"]) for r in _rows(response)] == [(pseudonym, "a")]
    response = _get(study, format="judgments-jsonl", exclude_rater=pseudonym)
    assert [r["outcome"] for r in _rows(response)] == ["b"]


@pytest.mark.parametrize("field", ["rater", "exclude_rater"])
def test_a_username_is_refused_with_a_400_naming_the_field(judged, field) -> None:
    study, *_ = judged
    response = _get(study, format="judgments-jsonl", **{field: "alice"})
    assert response.status_code == 400
    body = response.json()
    assert [e["field"] for e in body["errors"]] == [field]
    assert "pseudonymous" in body["detail"]


def test_the_refusal_does_not_say_whether_a_username_exists(judged) -> None:
    study, *_ = judged

    def message(value: str) -> str:
        response = _get(study, format="judgments-csv", rater=value)
        assert response.status_code == 400
        return response.json()["detail"].replace(repr(value), "VALUE")

    # A rater of this study, an account that never judged here, and no account at all.
    assert message("alice") == message("carol") == message("nobody-by-that-name")


def test_a_pseudonym_from_another_study_is_refused(judged) -> None:
    study, alice, _ = judged
    other = rater_pseudonym(study_id=study.pk + 1, user_id=alice.pk)
    with pytest.raises(ValidationError) as caught:
        judgment_filter_build(study=study, raters=[other])
    assert list(caught.value.message_dict) == ["rater"]


def test_the_command_takes_pseudonyms_and_refuses_usernames(judged) -> None:
    study, _, bob = judged
    out = io.StringIO()
    pseudonym = rater_pseudonym(study_id=study.pk, user_id=bob.pk)
    call_command(
        "export", study=study.slug, format="judgments-jsonl", rater=[pseudonym], stdout=out
    )
    assert [json.loads(line)["rater"] for line in out.getvalue().splitlines()] == [pseudonym]
    with pytest.raises(CommandError, match="exclude_rater"):
        call_command("export", study=study.slug, format="dpo", exclude_rater=["bob"])
