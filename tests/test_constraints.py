"""Every database constraint of the data model refuses a bad row (IntegrityError)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotations.models import (
    Assignment,
    Comparison,
    Generator,
    Judgment,
    Output,
    Prompt,
    Study,
    User,
)
from annotations.services.users import user_create_or_update
from tests.loading_support import BASELINE, NESTED, jsonl, load, make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tmp_path) -> dict:
    """Two loaded studies and a rater, made through the services."""
    one = make_study(slug="one")
    load(one, tmp_path, jsonl(*NESTED))
    two = make_study(slug="two")
    load(two, tmp_path, jsonl(*NESTED))
    rater = user_create_or_update(username="rita", role="rater").user
    comparison = Comparison.objects.filter(study=one).order_by("id").first()
    return {"one": one, "two": two, "rater": rater, "comparison": comparison}


def _output(study: Study, key: str, model: str) -> Output:
    return Output.objects.get(study=study, prompt__key=key, generator__name=model)


def _judgment(w: dict, **fields) -> Judgment:
    values = {
        "comparison": w["comparison"],
        "rater": w["rater"],
        "scale": "ternary",
        "preference": 1,
        "left_is_a": True,
    }
    return Judgment.objects.create(**{**values, **fields})


def _lease(w: dict, **fields) -> Assignment:
    values = {
        "study": w["one"],
        "comparison": w["comparison"],
        "rater": w["rater"],
        "left_is_a": True,
        "expires_at": timezone.now() + timedelta(minutes=5),
    }
    return Assignment.objects.create(**{**values, **fields})


def _second_open_lease(w: dict) -> None:
    other = Comparison.objects.filter(study=w["one"]).order_by("id")[1]
    _lease(w)
    _lease(w, comparison=other)


def _reversed_pair(w: dict) -> None:
    c = w["comparison"]
    Comparison.objects.create(
        study=c.study, prompt=c.prompt, output_a=c.output_b, output_b=c.output_a
    )


BAD_ROWS: dict[str, tuple[str, Callable[[dict], object]]] = {
    "user role": ("user_role_valid", lambda w: User.objects.create(username="x", role="boss")),
    "study overlap": (
        "study_overlap_positive",
        lambda w: Study.objects.filter(pk=w["one"].pk).update(overlap=0),
    ),
    "study lease": (
        "study_lease_minutes_positive",
        lambda w: Study.objects.filter(pk=w["one"].pk).update(lease_minutes=0),
    ),
    "study pairing": (
        "study_pairing",
        lambda w: Study.objects.filter(pk=w["one"].pk).update(pairing="x"),
    ),
    "study scale": (
        "study_scale",
        lambda w: Study.objects.filter(pk=w["one"].pk).update(scale="x"),
    ),
    "study rationale": (
        "study_rationale",
        lambda w: Study.objects.filter(pk=w["one"].pk).update(rationale="x"),
    ),
    "study baseline from another study": (
        "study_baseline_in_study",
        lambda w: Study.objects.filter(pk=w["one"].pk).update(baseline=w["two"].baseline),
    ),
    "generator name twice": (
        "generator_unique_name",
        lambda w: Generator.objects.create(study=w["one"], name=BASELINE),
    ),
    "generator empty name": (
        "generator_name_not_empty",
        lambda w: Generator.objects.create(study=w["one"], name=""),
    ),
    "generator size": (
        "generator_size_positive",
        lambda w: Generator.objects.create(study=w["one"], name="Z", size=0),
    ),
    "prompt key twice": (
        "prompt_unique_key",
        lambda w: Prompt.objects.create(study=w["one"], key="haiku", text="t"),
    ),
    "prompt empty key": (
        "prompt_key_not_empty",
        lambda w: Prompt.objects.create(study=w["one"], key="", text="t"),
    ),
    "second output of a model": (
        "output_one_per_generator",
        lambda w: Output.objects.create(
            study=w["one"], prompt=w["comparison"].prompt, generator=w["one"].baseline, text="again"
        ),
    ),
    "output prompt of another study": (
        "output_prompt_in_study",
        lambda w: Output.objects.create(
            study=w["one"],
            prompt=Prompt.objects.get(study=w["two"], key="haiku"),
            generator=Generator.objects.get(study=w["one"], name="Alpaca"),
            text="t",
        ),
    ),
    "output model of another study": (
        "output_generator_in_study",
        lambda w: Output.objects.create(
            study=w["one"],
            prompt=Prompt.objects.create(study=w["one"], key="new", text="t"),
            generator=w["two"].baseline,
            text="t",
        ),
    ),
    "comparison of one output with itself": (
        "comparison_outputs_differ",
        lambda w: Comparison.objects.create(
            study=w["one"],
            prompt=w["comparison"].prompt,
            output_a=w["comparison"].output_a,
            output_b=w["comparison"].output_a,
        ),
    ),
    "comparison twice, reversed": ("comparison_unique_pair", _reversed_pair),
    "comparison prompt of another study": (
        "comparison_prompt_in_study",
        lambda w: Comparison.objects.create(
            study=w["two"],
            prompt=w["comparison"].prompt,
            output_a=_output(w["one"], "haiku", "Alpaca"),
            output_b=_output(w["one"], "haiku", "GPT 4"),
        ),
    ),
    "comparison output_a for another prompt": (
        "comparison_output_a_same_prompt",
        lambda w: Comparison.objects.create(
            study=w["one"],
            prompt=Prompt.objects.get(study=w["one"], key="haiku"),
            output_a=_output(w["one"], "sum", "Alpaca"),
            output_b=_output(w["one"], "haiku", "GPT 4"),
        ),
    ),
    "comparison output_b for another prompt": (
        "comparison_output_b_same_prompt",
        lambda w: Comparison.objects.create(
            study=w["one"],
            prompt=Prompt.objects.get(study=w["one"], key="haiku"),
            output_a=_output(w["one"], "haiku", "Alpaca"),
            output_b=_output(w["one"], "sum", "GPT 4"),
        ),
    ),
    "assignment twice for a rater": (
        "assignment_one_per_rater",
        lambda w: [_lease(w, status="done"), _lease(w)],
    ),
    "two open leases": ("assignment_one_open_per_rater", _second_open_lease),
    "assignment status": ("assignment_status", lambda w: _lease(w, status="lost")),
    "assignment comparison of another study": (
        "assignment_comparison_in_study",
        lambda w: _lease(w, study=w["two"]),
    ),
    "judgment twice by a rater": ("judgment_one_per_rater", lambda w: [_judgment(w), _judgment(w)]),
    "preference out of range": (
        "judgment_preference_range",
        lambda w: _judgment(w, scale="likert7", preference=4),
    ),
    "both bad but not a tie": ("judgment_both_bad_is_tie", lambda w: _judgment(w, both_bad=True)),
    "preference beyond the scale": (
        "judgment_preference_fits_scale",
        lambda w: _judgment(w, scale="likert5", preference=3),
    ),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_the_database_refuses_a_bad_row(world, case):
    constraint, make = BAD_ROWS[case]
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        make(world)
        # Composite foreign keys are deferred to commit: check them now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_good_rows_of_the_fixture_pass_every_constraint(world):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert Comparison.objects.filter(study=world["one"]).count() == 4
