"""The judgments CSV (whose per-judgment fields the database renders) and JSONL (assembled
from JSON pieces), byte for byte against an independent rendering of the same rows; rater
pseudonyms computed on first sight; early closing of a prefetching stream."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from django.db import connection

from annotations.exports.judgments import csv_quote
from annotations.exports.registry import export_open
from annotations.models import Judgment
from annotations.selectors.judgment_filters import JudgmentFilter, judgment_filter_build
from annotations.selectors.judgments import judgment_columns, judgment_groups_stream
from annotations.selectors.pseudonyms import RaterPseudonyms, rater_pseudonym, study_rater_ids
from tests.export_support import (
    BASELINE,
    ImportedVote,
    PromptSpec,
    Vote,
    export_study,
    judge,
    judge_imported,
    judgment_rows_stream,
    rater,
)

pytestmark = pytest.mark.django_db

HOSTILE = 'He said "hi, there",\nthen left;\r\n\u0634\u0643\u0631\u0627 — ünïcödé 🎉, tab\there'
RATIONALES = [
    HOSTILE,
    "@SUM(A1)",
    "\tstarts with a tab, and a comma",
    "-1",
    '+"quoted"',
    "=1+1",
    "\rcarriage",
    "plain",
    "",
    'no, formula "but" quotes',
]


def _reference_csv(study, filters: JudgmentFilter) -> bytes:
    """The CSV as the contract describes it, rendered field by field in Python."""
    lines = [",".join(judgment_columns(with_messages=False))]
    for batch in judgment_rows_stream(
        study=study, filters=filters, with_messages=False, spreadsheet_safe=True
    ):
        for row in batch:
            lines.append(",".join(csv_quote("" if v is None else str(v)) for v in row))
    return ("\r\n".join(lines) + "\r\n").encode()


def _reference_jsonl(study, filters: JudgmentFilter) -> bytes:
    """The JSONL as the contract describes it: one orjson record per row."""
    columns = judgment_columns(with_messages=True)
    raw_json = {"messages", "criteria", "flags"}
    lines = []
    for batch in judgment_rows_stream(study=study, filters=filters, with_messages=True):
        for row in batch:
            record = {
                name: orjson.Fragment(value) if name in raw_json and value is not None else value
                for name, value in zip(columns, row, strict=True)
            }
            lines.append(orjson.dumps(record) + b"\n")
    return b"".join(lines)


# Raters whose judgments arrive through the importer: a rationale starting with a tab or a
# carriage return (the judging page trims whitespace), no time on task, a chosen screen order.
IMPORTED = {2, 5, 6}


@pytest.fixture
def varied():
    """Every outcome in both screen orders, hostile text and every formula prefix."""
    data = export_study(
        slug="exp-csv-bytes",
        scale="likert5",
        criteria=["helpful"],
        flags=["hallucination"],
        overlap=len(RATIONALES),
        prompts=[
            PromptSpec(
                key='=key, "one"',
                text=HOSTILE,
                category="-cat",
                outputs={"cand,1": '=HYPERLINK("x")', "+cand": "-1", BASELINE: "@base\r\n"},
            ),
            PromptSpec(
                key="two",
                text="chat",
                messages=[{"role": "user", "content": 'hi \\ "there"\u2028 end'}],
                outputs={"cand,1": "ok", BASELINE: "fine"},
            ),
        ],
    )
    votes = [(-2, False), (-1, True), (0, False), (0, True), (1, False), (2, True)]
    comparisons = [
        data.comparison('=key, "one"', "cand,1"),
        data.comparison('=key, "one"', "+cand"),
        data.comparison("two", "cand,1"),
    ]
    users: dict[int, object] = {
        u_index: rater(f"csv-rater-{u_index}")
        for u_index in range(len(RATIONALES))
        if u_index not in IMPORTED
    }
    for u_index, user in users.items():
        judge(
            user,
            *(
                Vote(
                    comparison,
                    votes[(c_index + u_index) % len(votes)][0],
                    both_bad=votes[(c_index + u_index) % len(votes)][0] == 0 and u_index % 2 == 0,
                    criteria={"helpful": (u_index + c_index) % 5 - 2},
                    flags={"a": ["hallucination"], "b": []} if u_index % 4 == 0 else {},
                    rationale=RATIONALES[u_index],
                    duration_ms=1000 + u_index,
                    created_at=datetime(2024, 5, 1, 12, 0, u_index, 123456 * c_index, tzinfo=UTC),
                )
                for c_index, comparison in enumerate(comparisons)
            ),
        )
    imported = judge_imported(
        *(
            ImportedVote(
                comparison,
                f"csv-rater-{u_index}",
                votes[(c_index + u_index) % len(votes)][0],
                both_bad=votes[(c_index + u_index) % len(votes)][0] == 0 and u_index % 2 == 0,
                left_is_a=votes[(c_index + u_index) % len(votes)][1],
                rationale=RATIONALES[u_index],
                created_at=datetime(2024, 5, 1, 12, 0, u_index, 123456 * c_index, tzinfo=UTC),
            )
            for u_index in sorted(IMPORTED)
            for c_index, comparison in enumerate(comparisons)
        )
    )
    users |= {u_index: imported[f"csv-rater-{u_index}"] for u_index in IMPORTED}
    stored = Judgment.objects.filter(comparison__study=data.study)
    # Every outcome (by the sign of the preference) in both screen orders.
    assert {
        ((p > 0) - (p < 0), left) for p, left in stored.values_list("preference", "left_is_a")
    } == {(sign, left) for sign in (-1, 0, 1) for left in (False, True)}
    return data, [users[u_index] for u_index in range(len(RATIONALES))]


def test_csv_matches_a_field_by_field_rendering_byte_for_byte(varied) -> None:
    data, _ = varied
    filters = judgment_filter_build(study=data.study)
    body = b"".join(
        export_open(study=data.study, format_name="judgments-csv", filters=filters).chunks
    )
    assert body.count(b"\r\nexp-csv-bytes,") == 3 * len(RATIONALES)
    assert body == _reference_csv(data.study, filters)


def test_csv_matches_the_reference_with_filters_too(varied) -> None:
    data, users = varied
    filters = judgment_filter_build(
        study=data.study,
        generators=["+cand"],
        exclude_raters=[rater_pseudonym(study_id=data.study.pk, user_id=users[0].pk)],
    )
    body = b"".join(
        export_open(study=data.study, format_name="judgments-csv", filters=filters).chunks
    )
    # One row per rater but the excluded one, each starting with the study's slug.
    assert body.count(b"\r\nexp-csv-bytes,") == len(RATIONALES) - 1
    assert body == _reference_csv(data.study, filters)


def test_jsonl_matches_one_orjson_record_per_row_byte_for_byte(varied) -> None:
    data, _ = varied
    filters = judgment_filter_build(study=data.study)
    body = b"".join(
        export_open(study=data.study, format_name="judgments-jsonl", filters=filters).chunks
    )
    assert body.count(b"\n") == 3 * len(RATIONALES)
    assert body == _reference_jsonl(data.study, filters)


def test_study_rater_ids_are_the_raters_of_that_study_only(varied) -> None:
    data, users = varied
    other = export_study(
        slug="exp-csv-other",
        prompts=[PromptSpec(key="p", text="t", outputs={"x": "1", BASELINE: "2"})],
    )
    outsider = rater("csv-outsider")
    judge(outsider, Vote(other.comparison("p", "x"), 1))
    judge(users[0], Vote(other.comparison("p", "x"), -1))
    assert sorted(study_rater_ids(study=data.study)) == sorted(u.pk for u in users)
    assert sorted(study_rater_ids(study=other.study)) == sorted([outsider.pk, users[0].pk])


def test_rater_pseudonyms_are_computed_on_first_sight() -> None:
    pseudonyms = RaterPseudonyms(study_id=7)
    assert len(pseudonyms) == 0
    assert pseudonyms[42] == rater_pseudonym(study_id=7, user_id=42)
    assert pseudonyms[42] != RaterPseudonyms(study_id=8)[42]
    assert list(pseudonyms) == [42]


def test_closing_a_stream_early_leaves_the_connection_usable(varied) -> None:
    data, _ = varied
    stream = judgment_groups_stream(
        study=data.study, filters=JudgmentFilter(), with_messages=False, fetch_rows=2
    )
    context, judgments = next(stream)
    assert judgments and judgments[0][0] == context[0]
    stream.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors")
        assert cursor.fetchone()[0] == 0
