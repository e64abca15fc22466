"""The loader's fast paths: counts of new and existing comparisons, repeats, JSON fallbacks."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from annotations.models import Assignment, Comparison, Judgment
from annotations.services.assignment import assignment_next
from annotations.services.judging import judgment_submit
from annotations.services.users import user_create_or_update
from tests.loading_support import BASELINE, NESTED, import_, jsonl, load, make_study, problems

pytestmark = pytest.mark.django_db

HEADER = "key,left,right,winner,rater\n"


@pytest.fixture
def study(tmp_path):
    study = make_study(slug="fast")
    load(study, tmp_path, jsonl(*NESTED))
    return study


def _counts_match(study) -> list[tuple[int, int]]:
    """(judgment_count, judgments) of every comparison of the study."""
    return [
        (c.judgment_count, c.judgments.count())
        for c in Comparison.objects.filter(study=study).order_by("id")
    ]


def test_counts_are_right_for_new_and_existing_comparisons_across_imports(study, tmp_path):
    first = import_(
        study,
        tmp_path,
        HEADER
        # An existing (vs-baseline) comparison and a new one (two candidates), each with a
        # rater who repeats the same verdict on a later line.
        + f"haiku,GPT 4,{BASELINE},left,w1\n"
        + f"haiku,{BASELINE},GPT 4,right,w1\n"
        + f"haiku,GPT 4,{BASELINE},left,w2\n"
        + "haiku,GPT 4,Alpaca,left,w1\n"
        + "haiku,Alpaca,GPT 4,right,w1\n"
        + "haiku,GPT 4,Alpaca,tie,w2\n",
    )
    assert (first.judgments, first.judgments_added, first.comparisons_added) == (6, 4, 1)
    pairs = _counts_match(study)
    assert all(count == stored for count, stored in pairs)
    assert sorted(count for count, _ in pairs) == [0, 0, 0, 2, 2]

    # A second file: the known judgments again, one new rater on each pair.
    second = import_(
        study,
        tmp_path,
        HEADER
        + f"haiku,GPT 4,{BASELINE},left,w1\n"
        + "haiku,GPT 4,Alpaca,tie,w2\n"
        + f"haiku,GPT 4,{BASELINE},tie,w3\n"
        + "haiku,Alpaca,GPT 4,left,w3\n",
    )
    assert (second.judgments_added, second.comparisons_added) == (2, 0)
    pairs = _counts_match(study)
    assert all(count == stored for count, stored in pairs)
    assert sorted(count for count, _ in pairs) == [0, 0, 0, 3, 3]


def test_a_repeated_verdict_on_a_new_pair_is_one_judgment(study, tmp_path):
    summary = import_(study, tmp_path, HEADER + "sum,Alpaca,GPT 4,left,w9\n" * 3)
    assert (summary.judgments, summary.judgments_added) == (3, 1)
    comparison = Comparison.objects.get(study=study, judgments__rater__username="ext:w9")
    assert comparison.judgment_count == 1


def test_the_assignment_picks_a_comparison_an_import_filled_last(study, tmp_path):
    # Every vs-baseline comparison but one gets three imported judgments (the overlap).
    rows = "".join(f"haiku,GPT 4,{BASELINE},left,x{i}\n" for i in range(3))
    rows += "".join(f"haiku,Alpaca,{BASELINE},left,x{i}\n" for i in range(3))
    rows += "".join(f"sum,Alpaca,{BASELINE},left,x{i}\n" for i in range(3))
    import_(study, tmp_path, HEADER + rows)
    rater = user_create_or_update(username="rita", role="rater").user
    assignment = assignment_next(study=study, rater=rater)
    assert assignment is not None
    comparison = Comparison.objects.select_related("prompt", "output_a__generator").get(
        pk=assignment.comparison_id
    )
    assert (comparison.prompt.key, comparison.output_a.generator.name) == ("sum", "GPT 4")


def test_an_assignment_is_judged_at_most_once_while_imports_carry_none(study, tmp_path):
    import_(study, tmp_path, HEADER + f"sum,GPT 4,{BASELINE},left,w1\n")
    assert Judgment.objects.filter(assignment__isnull=True).count() == 1
    rater = user_create_or_update(username="rita", role="rater").user
    assignment = assignment_next(study=study, rater=rater)
    judgment, created = judgment_submit(assignment=assignment, rater=rater, winner="left")
    assert created and judgment.assignment_id == assignment.pk
    other = Comparison.objects.filter(study=study).exclude(pk=assignment.comparison_id).first()
    with pytest.raises(IntegrityError, match="judgment_one_per_assignment"), transaction.atomic():
        Judgment.objects.create(
            comparison=other,
            rater=rater,
            assignment=Assignment.objects.get(pk=assignment.pk),
            scale="ternary",
            preference=1,
            left_is_a=True,
        )


def test_the_composite_keys_still_refuse_an_output_of_a_missing_prompt(study):
    output = Comparison.objects.filter(study=study).first().output_a
    with (
        pytest.raises(IntegrityError, match="output_prompt_in_study"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO annotations_output (study_id, prompt_id, generator_id, text,"
            " created_at) VALUES (%s, %s, %s, 't', now())",
            [study.pk, 2**40, output.generator_id],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'{"key": "k", "prompt": NaN}', "must be a string or a list of messages, not a number"),
        (b'{"key": "k", "prompt": "\\ud800"}', "an unpaired surrogate escape"),
        (b'{"key": "k", "prompt": "caf\xe9"}', "not UTF-8 text (byte 0xe9 at column 28)"),
        (b'{"key": "k", "prompt": }', "not JSON: Expecting value at column 24"),
        (b"[1, 2]", "a JSON array is not supported"),
        (b'"text"', "expected a JSON object, got a string"),
    ],
)
def test_lines_orjson_refuses_get_the_json_module_s_reading(study, tmp_path, line, message):
    found = problems(load, study, tmp_path, line + b"\n")
    assert any(message in text for _, _, text in found), found
