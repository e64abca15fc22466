"""Importing judgments: orientation, raters, comparisons, counts, re-imports, bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from annotations.models import Comparison, Judgment, Role, User
from annotations.services.loading import EXT_PREFIX
from tests.loading_support import (
    BASELINE,
    NESTED,
    counts,
    import_,
    jsonl,
    load,
    make_study,
    problems,
)

pytestmark = pytest.mark.django_db

HEADER = "key,left,right,winner,rater,created_at,rationale\n"


@pytest.fixture
def study(tmp_path):
    study = make_study(slug="judged")
    load(study, tmp_path, jsonl(*NESTED))
    return study


def _judgment(rater: str, key: str, model: str) -> Judgment:
    return Judgment.objects.select_related("comparison__output_a__generator").get(
        rater__username=EXT_PREFIX + rater,
        comparison__prompt__key=key,
        comparison__output_a__generator__name=model,
    )


def test_left_and_right_are_turned_into_canonical_a_and_b_once(study, tmp_path):
    summary = import_(
        study,
        tmp_path,
        HEADER
        + f"haiku,{BASELINE},GPT 4,left,w1,2024-05-01T10:00:00,baseline reads better\n"
        + f"haiku,GPT 4,{BASELINE},left,w2,2024-05-01T10:00:00+02:00,\n"
        + f"sum,{BASELINE},GPT 4,tie,w1,,\n"
        + f"sum,GPT 4,{BASELINE},both_bad,w2,,\n",
    )
    assert (summary.judgments, summary.judgments_added, summary.raters) == (4, 4, 2)
    first = _judgment("w1", "haiku", "GPT 4")
    assert (first.preference, first.left_is_a, first.both_bad) == (-1, False, False)
    assert first.created_at == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert (first.rationale, first.source, first.scale) == (
        "baseline reads better",
        "import",
        "ternary",
    )
    second = _judgment("w2", "haiku", "GPT 4")
    assert (second.preference, second.left_is_a) == (1, True)
    assert second.created_at == datetime(2024, 5, 1, 8, tzinfo=UTC)
    assert _judgment("w1", "sum", "GPT 4").preference == 0
    both_bad = _judgment("w2", "sum", "GPT 4")
    assert (both_bad.preference, both_bad.both_bad) == (0, True)


def test_judgment_count_is_the_number_of_judgments_of_each_comparison(study, tmp_path):
    rows = "".join(f"haiku,GPT 4,{BASELINE},left,r{i},,\n" for i in range(5))
    import_(study, tmp_path, HEADER + rows + f"sum,Alpaca,{BASELINE},right,r1,,\n")
    for comparison in Comparison.objects.filter(study=study):
        assert comparison.judgment_count == comparison.judgments.count()
    haiku = Comparison.objects.get(prompt__key="haiku", output_a__generator__name="GPT 4")
    assert haiku.judgment_count == 5


def test_a_rater_account_is_made_for_each_external_rater(study, tmp_path):
    import_(
        study,
        tmp_path,
        jsonl({"key": "sum", "left": "GPT 4", "right": BASELINE, "winner": "left", "rater": 58}),
        name="j.jsonl",
    )
    user = User.objects.get(username=f"{EXT_PREFIX}58")
    assert (user.role, user.external_id, user.is_staff) == (Role.RATER, "58", False)
    assert not user.has_usable_password()


def test_an_imported_rater_has_every_other_user_field_at_its_model_default(study, tmp_path):
    import_(study, tmp_path, HEADER + f"sum,GPT 4,{BASELINE},left,w9,,\n")
    user = User.objects.get(username=f"{EXT_PREFIX}w9")
    given = {"id", "password", "username", "date_joined", "role", "external_id"}
    for field in User._meta.concrete_fields:
        if field.attname not in given:
            assert getattr(user, field.attname) == field.get_default(), field.name
    assert user.date_joined is not None


def test_a_pair_outside_the_pairing_rule_gets_its_comparison(study, tmp_path):
    before = Comparison.objects.filter(study=study).count()
    summary = import_(study, tmp_path, HEADER + "haiku,GPT 4,Alpaca,right,w1,,\n")
    assert summary.comparisons_added == 1
    assert Comparison.objects.filter(study=study).count() == before + 1
    judgment = _judgment("w1", "haiku", "Alpaca")  # "Alpaca" sorts first: it is output_a
    assert (judgment.preference, judgment.left_is_a) == (1, False)
    assert judgment.comparison.judgment_count == 1


def test_jsonl_with_rationale_and_likert_strength(tmp_path):
    study = make_study(slug="likert", scale="likert5")
    load(study, tmp_path, jsonl(*NESTED))
    row = {
        "key": "haiku",
        "left": BASELINE,
        "right": "GPT 4",
        "winner": "right",
        "strength": 2,
        "rater": "a",
        "rationale": "much better",
    }
    import_(study, tmp_path, jsonl(row), name="j.jsonl")
    judgment = _judgment("a", "haiku", "GPT 4")
    assert (judgment.preference, judgment.scale, judgment.rationale) == (
        2,
        "likert5",
        "much better",
    )


def test_importing_the_same_file_twice_adds_nothing(study, tmp_path):
    content = HEADER + f"haiku,GPT 4,{BASELINE},left,w1,,\n" + f"haiku,GPT 4,{BASELINE},left,w1,,\n"
    first = import_(study, tmp_path, content)
    before = counts(study)
    again = import_(study, tmp_path, content)
    assert (first.judgments_added, again.judgments_added) == (1, 0)
    assert counts(study) == before
    assert str(again) == (
        "Imported j.csv into 'judged': 2 judgments (2 already there), "
        "1 raters (1 already there), 0 comparisons added."
    )
    assert (
        Comparison.objects.get(
            prompt__key="haiku", output_a__generator__name="GPT 4"
        ).judgment_count
        == 1
    )


def test_a_reimport_that_contradicts_a_stored_judgment_names_the_line(study, tmp_path):
    import_(study, tmp_path, HEADER + f"haiku,GPT 4,{BASELINE},left,w1,,\n")
    found = problems(
        import_,
        study,
        tmp_path,
        HEADER + f"sum,GPT 4,{BASELINE},left,w1,,\nhaiku,{BASELINE},GPT 4,left,w1,,\n",
    )
    assert found == [
        (3, "winner", "rater 'w1' already has a different judgment of this pair in the study")
    ]
    assert Judgment.objects.count() == 1


# Bad rows after a good first row: the expected (line, field, part of the message).
BAD_ROWS = {
    "unknown model": (f"haiku,GPT 5,{BASELINE},left,w,,", (3, "left", "unknown model 'GPT 5'")),
    "unknown prompt key": (
        f"nope,GPT 4,{BASELINE},left,w,,",
        (3, "key", "unknown prompt key 'nope'"),
    ),
    "unknown winner": (f"haiku,GPT 4,{BASELINE},maybe,w,,", (3, "winner", "unknown value 'maybe'")),
    "missing winner": (f"haiku,GPT 4,{BASELINE},,w,,", (3, "winner", "is missing")),
    "missing rater": (f"haiku,GPT 4,{BASELINE},left,,,", (3, "rater", "is empty")),
    "left equals right": ("haiku,GPT 4,GPT 4,left,w,,", (3, "right", "same model as left")),
    "bad created_at": (
        f"haiku,GPT 4,{BASELINE},left,w,yesterday,",
        (3, "created_at", "not an ISO 8601"),
    ),
    "same pair judged differently": (
        f"sum,{BASELINE},GPT 4,left,w0,,",
        (3, "winner", "rater 'w0' judged this pair differently on line 2"),
    ),
    "strength on a ternary scale": (None, None),
    "wrong width": (f"haiku,GPT 4,{BASELINE},left,w,", (3, "", "has 6 fields")),
}


@pytest.mark.parametrize("case", [c for c, (row, _) in BAD_ROWS.items() if row])
def test_bad_rows_are_reported_with_line_and_field_and_nothing_is_written(study, tmp_path, case):
    row, (line, field, message) = BAD_ROWS[case]
    content = HEADER + f"sum,GPT 4,{BASELINE},left,w0,,\n" + row + "\n"
    found = problems(import_, study, tmp_path, content)
    assert any((n, f) == (line, field) and message in m for n, f, m in found), found
    assert Judgment.objects.count() == 0
    assert not User.objects.filter(username__startswith=EXT_PREFIX).exists()


def test_bad_jsonl_values_and_types(study, tmp_path):
    rows = [
        {"key": "sum", "left": "GPT 4", "right": BASELINE, "winner": 1, "rater": "w"},
        {"key": "sum", "left": ["GPT 4"], "right": BASELINE, "winner": "left", "rater": "w"},
        {
            "key": "sum",
            "left": "GPT 4",
            "right": BASELINE,
            "winner": "left",
            "rater": "w",
            "strength": 2,
        },
        {
            "key": "sum",
            "left": "GPT 4",
            "right": BASELINE,
            "winner": "left",
            "rater": "w",
            "created_at": 5,
        },
    ]
    found = problems(import_, study, tmp_path, jsonl(*rows, "{oops"), name="j.jsonl")
    assert [(n, f) for n, f, _ in found] == [
        (1, "winner"),
        (2, "left"),
        (3, "strength"),
        (4, "created_at"),
        (5, ""),
    ]


def test_scale_rules_tie_on_binary_and_disabled_both_bad(tmp_path):
    study = make_study(slug="binary", scale="binary", allow_both_bad=False)
    load(study, tmp_path, jsonl(*NESTED))
    content = HEADER + f"sum,GPT 4,{BASELINE},tie,w,,\nsum,GPT 4,{BASELINE},both_bad,v,,\n"
    found = problems(import_, study, tmp_path, content)
    assert [(n, f) for n, f, _ in found] == [(2, "winner"), (3, "winner")]
    assert "binary" in found[0][2] and "both are bad" in found[1][2]


def test_a_model_without_an_output_for_the_prompt_is_reported(tmp_path):
    study = make_study(slug="partial")
    load(
        study,
        tmp_path,
        jsonl(NESTED[0], {"key": "x", "prompt": "X", "model": "Solo", "output": "o"}),
    )
    found = problems(import_, study, tmp_path, HEADER + f"haiku,Solo,{BASELINE},left,w,,\n")
    assert found == [(2, "left", "model 'Solo' has no output for prompt 'haiku'")]


def test_missing_header_columns_and_empty_files(study, tmp_path):
    found = problems(import_, study, tmp_path, "key,left,right,rater\nsum,a,b,c\n")
    assert found == [(1, "winner", "the header has no 'winner' column")]
    assert problems(import_, study, tmp_path, HEADER)[0][2].startswith("the file is empty")
    assert problems(import_, study, tmp_path, "", name="j.jsonl")[0][:2] == (None, "")
    assert json.loads('"ok"') == "ok"
