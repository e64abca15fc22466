"""Exports parsed back and checked against the stored judgments: every format, the majority
rule, hostile text, filters, pseudonyms, streaming and the export command."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection

from annotations.exports import judgments as judgment_writers
from annotations.exports import registry
from annotations.exports.registry import export_open
from annotations.exports.training import comparison_verdict
from annotations.models import Judgment
from annotations.selectors.judgment_filters import judgment_filter_build
from annotations.selectors.judgments import judgment_columns
from annotations.selectors.pseudonyms import rater_pseudonym
from annotations.selectors.votes import Votes
from tests.export_support import (
    BASELINE,
    ImportedVote,
    PromptSpec,
    Vote,
    export_study,
    judge,
    judge_imported,
    rater,
)

pytestmark = pytest.mark.django_db

# Quotes, commas, CR/LF, right-to-left Arabic, accents, an emoji and a tab.
HOSTILE = 'He said "hi, there",\nthen left;\r\n\u0634\u0643\u0631\u0627 — ünïcödé 🎉, tab\there'
# The loader keeps a prompt's line breaks as LF.
HOSTILE_PROMPT = HOSTILE.replace("\r\n", "\n")
FORMULA = '=HYPERLINK("http://x","click")'


def _export(study, fmt: str, **filters) -> tuple[bytes, dict | None]:
    export = export_open(
        study=study, format_name=fmt, filters=judgment_filter_build(study=study, **filters)
    )
    return b"".join(export.chunks), export.summary


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def _jsonl(body: bytes) -> list[dict]:
    return [json.loads(line) for line in body.decode("utf-8").splitlines()]


def _pseudonyms(study, *users) -> list[str]:
    return [rater_pseudonym(study_id=study.pk, user_id=user.pk) for user in users]


@pytest.fixture
def rich():
    """Two candidates against the baseline on a plain and a chat prompt, three raters."""
    data = export_study(
        slug="exp-rich",
        scale="likert5",
        criteria=["helpful"],
        flags=["hallucination"],
        prompts=[
            PromptSpec(
                key="plain",
                text=HOSTILE,
                category="writing",
                outputs={"cand-1": FORMULA, "cand-2": "-1 minus", BASELINE: "+base @answer"},
            ),
            PromptSpec(
                key="chat",
                text="user: hello",
                messages=[
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "hello"},
                ],
                category="chat",
                outputs={"cand-1": "Hi!", BASELINE: "Hello there."},
            ),
        ],
    )
    ann, bob = rater("ann"), rater("bob")
    c1 = data.comparison("plain", "cand-1")
    judge(
        ann,
        Vote(
            c1,
            2,
            criteria={"helpful": 1},
            flags={"a": [], "b": ["hallucination"]},
            rationale=HOSTILE,
            created_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        ),
        Vote(data.comparison("plain", "cand-2"), -2, criteria={"helpful": -1}),
    )
    judge(
        bob,
        Vote(c1, -1, criteria={"helpful": 0}, created_at=datetime(2024, 5, 2, 8, 30, tzinfo=UTC)),
        Vote(data.comparison("chat", "cand-1"), 1, criteria={"helpful": 1}),
    )
    # Made elsewhere: no time on task.
    cyd = judge_imported(ImportedVote(c1, "cyd", 0, both_bad=True, rationale="@SUM(A1)"))["cyd"]
    return data, [ann, bob, cyd]


def _first_left_is_a(data) -> bool:
    """The order ann saw the first comparison in: the assignment service chose it."""
    return Judgment.objects.get(
        comparison=data.comparison("plain", "cand-1"), rater__username="ann"
    ).left_is_a


def test_judgments_csv_has_one_row_per_judgment_in_canonical_orientation(rich) -> None:
    data, users = rich
    body, summary = _export(data.study, "judgments-csv")
    rows = _csv_rows(body)
    assert summary is None
    assert len(rows) == Judgment.objects.filter(comparison__study=data.study).count() == 5
    assert list(rows[0]) == list(judgment_columns(with_messages=False))
    first = rows[0]
    assert first["study"] == "exp-rich"
    assert first["prompt_key"] == "plain"
    assert first["generator_a"] == "cand-1" and first["generator_b"] == BASELINE
    assert first["output_a"] == "'" + FORMULA  # formula guard
    assert first["output_b"] == "'+base @answer"
    assert first["preference"] == "2" and first["strength"] == "2" and first["outcome"] == "a"
    assert first["winner_generator"] == "cand-1"
    # Shown in the order the assignment gave: left is output a (cand-1) iff left_is_a.
    left_is_a = _first_left_is_a(data)
    shown = ("cand-1", BASELINE) if left_is_a else (BASELINE, "cand-1")
    assert first["left_is_a"] == str(left_is_a)
    assert (first["left_generator"], first["right_generator"]) == shown
    assert json.loads(first["criteria"]) == {"helpful": 1}
    assert json.loads(first["flags"]) == {"a": [], "b": ["hallucination"]}
    assert first["created_at"] == "2024-05-01T12:00:00.000000Z"
    assert first["rater"] == rater_pseudonym(study_id=data.study.pk, user_id=users[0].pk)
    assert first["duration_ms"] == "1500" and first["source"] == "web"
    second, third = rows[1], rows[2]
    assert (second["preference"], second["strength"], second["outcome"]) == ("-1", "1", "b")
    assert second["winner_generator"] == BASELINE
    assert (third["outcome"], third["both_bad"], third["winner_generator"]) == ("tie", "True", "")
    assert third["duration_ms"] == ""
    assert third["rationale"] == "'@SUM(A1)"
    assert rows[3]["output_a"] == "'-1 minus"
    assert rows[4]["prompt_key"] == "chat" and rows[4]["category"] == "chat"


def test_judgments_csv_is_rfc4180_and_round_trips_hostile_text(rich) -> None:
    data, _ = rich
    body, _ = _export(data.study, "judgments-csv")
    assert body.split(b"\r\n", 1)[0].startswith(b"study,prompt_key,prompt,")
    assert not body.startswith(b"\xef\xbb\xbf")
    rows = _csv_rows(body)
    # Text that does not start with a formula character comes back exactly.
    assert rows[0]["prompt"] == HOSTILE_PROMPT
    assert rows[0]["rationale"] == HOSTILE


def test_judgments_jsonl_is_exact_and_carries_messages(rich) -> None:
    data, users = rich
    body, _ = _export(data.study, "judgments-jsonl")
    records = _jsonl(body)
    assert len(records) == 5
    first = records[0]
    assert list(first) == list(judgment_columns(with_messages=True))
    assert first["prompt"] == HOSTILE_PROMPT and first["rationale"] == HOSTILE
    assert first["output_a"] == FORMULA and first["output_b"] == "+base @answer"
    assert first["messages"] is None
    assert first["criteria"] == {"helpful": 1}
    assert first["flags"] == {"a": [], "b": ["hallucination"]}
    assert first["both_bad"] is False and first["left_is_a"] is _first_left_is_a(data)
    assert first["preference"] == 2 and first["duration_ms"] == 1500
    assert records[2]["duration_ms"] is None and records[2]["both_bad"] is True
    assert records[4]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    # JSONL and CSV carry the same judgments in the same order.
    csv_rows = _csv_rows(_export(data.study, "judgments-csv")[0])
    assert [r["rater"] for r in records] == [r["rater"] for r in csv_rows]
    assert all(r["rater"] not in {u.username for u in users} for r in records)


def test_pseudonymous_rater_ids_are_stable_within_a_study_and_differ_across_studies() -> None:
    one = export_study(slug="exp-ps1", prompts=[PromptSpec("k", "p", {"c": "x", BASELINE: "y"})])
    two = export_study(slug="exp-ps2", prompts=[PromptSpec("k", "p", {"c": "x", BASELINE: "y"})])
    user = rater("dana")
    judge(user, Vote(one.comparison("k", "c"), 1))
    judge(user, Vote(two.comparison("k", "c"), 1))
    ids_one = {r["rater"] for r in _jsonl(_export(one.study, "judgments-jsonl")[0])}
    ids_one_again = {r["rater"] for r in _jsonl(_export(one.study, "judgments-jsonl")[0])}
    ids_two = {r["rater"] for r in _jsonl(_export(two.study, "judgments-jsonl")[0])}
    assert ids_one == ids_one_again
    assert len(ids_one) == len(ids_two) == 1
    assert ids_one != ids_two
    (pseudonym,) = ids_one
    assert pseudonym.startswith("r-") and len(pseudonym) == 12
    assert "dana" not in pseudonym and str(user.pk) != pseudonym[2:]


@pytest.mark.parametrize(
    ("votes", "verdict"),
    [
        (Votes(2, 1, 0, 0), "a"),
        (Votes(1, 2, 0, 0), "b"),
        (Votes(1, 0, 0, 0), "a"),
        (Votes(1, 1, 0, 0), "split"),
        (Votes(1, 1, 1, 0), "split"),
        (Votes(2, 1, 1, 0), "split"),
        (Votes(1, 0, 2, 0), "tie"),
        (Votes(0, 0, 3, 0), "tie"),
        (Votes(1, 0, 1, 1), "tie"),
        (Votes(0, 1, 0, 2), "both_bad"),
        (Votes(3, 0, 1, 1), "a"),
    ],
)
def test_comparison_verdict_needs_a_strict_majority_of_all_judgments(votes, verdict) -> None:
    assert comparison_verdict(votes=votes) == verdict


@pytest.fixture
def votes_study():
    """Five comparisons with hand-built votes: 2-1 for a, 2-1 for b, 1-1, ties, both bad."""
    outputs = {f"c{i}": f"cand {i}" for i in range(5)} | {BASELINE: "base"}
    data = export_study(
        slug="exp-votes",
        prompts=[PromptSpec("q", "Which is better?", outputs)],
    )
    r1, r2, r3 = rater("v1"), rater("v2"), rater("v3")
    c = [data.comparison("q", f"c{i}") for i in range(5)]
    # c0: 2-1 for the candidate: kept, chosen = a. c1: 2-1 for the baseline: kept, chosen = b.
    # c2: 1-1: split. c3: tie majority. c4: both-bad majority.
    judge(r1, Vote(c[0], 1), Vote(c[1], -1), Vote(c[2], 1), Vote(c[3], 0), Vote(c[4], 0, True))
    judge(r2, Vote(c[0], 1), Vote(c[1], -1), Vote(c[2], -1), Vote(c[3], 0), Vote(c[4], 0, True))
    judge(r3, Vote(c[0], -1), Vote(c[1], 1), Vote(c[3], 1), Vote(c[4], -1))
    return data, (r1, r2, r3)


def test_dpo_keeps_majority_pairs_and_reports_what_it_dropped(votes_study) -> None:
    data, _ = votes_study
    body, summary = _export(data.study, "dpo")
    records = _jsonl(body)
    assert summary["comparisons"] == 5 and summary["kept"] == 2
    assert summary["dropped"] == {"tie": 1, "split": 1, "both_bad": 1}
    assert [r["meta_chosen_generator"] for r in records] == ["c0", BASELINE]
    assert records[0] == {
        "prompt": "Which is better?",
        "chosen": "cand 0",
        "rejected": "base",
        "meta_prompt_key": "q",
        "meta_chosen_generator": "c0",
        "meta_rejected_generator": BASELINE,
        "meta_votes": {"chosen": 2, "rejected": 1, "tie": 0, "both_bad": 0},
    }
    assert (records[1]["chosen"], records[1]["rejected"]) == ("base", "cand 1")


def test_hh_rlhf_renders_transcripts(votes_study) -> None:
    data, _ = votes_study
    body, summary = _export(data.study, "hh-rlhf")
    records = _jsonl(body)
    assert summary["kept"] == len(records) == 2
    assert records[0]["chosen"] == "\n\nHuman: Which is better?\n\nAssistant: cand 0"
    assert records[0]["rejected"] == "\n\nHuman: Which is better?\n\nAssistant: base"


def test_training_pairs_honour_filters_when_counting_votes(votes_study) -> None:
    data, (r1, _, r3) = votes_study
    (v1, v3) = _pseudonyms(data.study, r1, r3)
    # Without v3, the 2-1 comparisons become 2-0 and the tie/both-bad ones pure ties/both-bad.
    _, summary = _export(data.study, "dpo", exclude_raters=[v3])
    assert summary["kept"] == 2 and summary["dropped"] == {"tie": 1, "split": 1, "both_bad": 1}
    body, summary = _export(data.study, "dpo", raters=[v3])
    # v3 alone: c0 b, c1 a, c3 a, c4 b kept; v3 did not judge c2.
    assert summary == summary | {"comparisons": 4, "kept": 4}
    assert [r["meta_prompt_key"] for r in _jsonl(body)] == ["q"] * 4
    _, by_pseudonym = _export(data.study, "dpo", raters=[v1])
    assert by_pseudonym["kept"] == 3  # c0 a, c1 b, c2 a


def _chat_study():
    data = export_study(
        slug="exp-chat",
        prompts=[
            PromptSpec(
                "chat",
                "rendered",
                {"c": "Sure: 42.", BASELINE: "No idea."},
                messages=[
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "What is 6x7?"},
                    {"role": "assistant", "content": "Want the answer?"},
                    {"role": "user", "content": "Yes."},
                ],
            ),
            PromptSpec("plain", "Say hi", {"c": "hi", BASELINE: "hello"}),
        ],
    )
    user = rater("chatter")
    judge(user, Vote(data.comparison("chat", "c"), 1), Vote(data.comparison("plain", "c"), -1))
    return data


def test_dpo_uses_trl_conversational_format_for_chat_studies() -> None:
    data = _chat_study()
    records = _jsonl(_export(data.study, "dpo")[0])
    assert records[0]["prompt"][1] == {"role": "user", "content": "What is 6x7?"}
    assert len(records[0]["prompt"]) == 4
    assert records[0]["chosen"] == [{"role": "assistant", "content": "Sure: 42."}]
    assert records[0]["rejected"] == [{"role": "assistant", "content": "No idea."}]
    # A plain prompt in a chat study becomes one user message, so the column keeps one type.
    assert records[1]["prompt"] == [{"role": "user", "content": "Say hi"}]
    assert records[1]["chosen"] == [{"role": "assistant", "content": "hello"}]


def test_hh_rlhf_renders_chat_turns_with_system_preamble() -> None:
    data = _chat_study()
    records = _jsonl(_export(data.study, "hh-rlhf")[0])
    assert records[0]["chosen"] == (
        "You are terse.\n\nHuman: What is 6x7?\n\nAssistant: Want the answer?"
        "\n\nHuman: Yes.\n\nAssistant: Sure: 42."
    )
    assert records[0]["rejected"].endswith("\n\nHuman: Yes.\n\nAssistant: No idea.")


def test_dpo_file_loads_with_the_datasets_json_loader(votes_study, tmp_path: Path) -> None:
    import datasets  # a test requirement (requirements-dev.txt): absent must fail, not skip

    for data, name in ((votes_study[0], "plain"), (_chat_study(), "chat")):
        path = tmp_path / f"{name}.jsonl"
        body, summary = _export(data.study, "dpo")
        path.write_bytes(body)
        loaded = datasets.load_dataset(
            "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
        )
        assert loaded.num_rows == summary["kept"] == 2
        assert {"prompt", "chosen", "rejected"} <= set(loaded.column_names)
        assert loaded[0]["meta_prompt_key"] in {"q", "chat"}


def test_judgment_filters_select_the_right_rows(rich) -> None:
    data, users = rich
    ann, bob, _ = _pseudonyms(data.study, *users)

    def keys(**filters) -> list[tuple[str, str, str]]:
        rows = _jsonl(_export(data.study, "judgments-jsonl", **filters)[0])
        return [(r["prompt_key"], r["generator_a"], r["outcome"]) for r in rows]

    assert keys(generators=["cand-2"]) == [("plain", "cand-2", "b")]
    assert len(keys(generators=[BASELINE])) == 5  # the baseline is on every comparison
    assert keys(categories=["chat"]) == [("chat", "cand-1", "a")]
    assert keys(raters=[bob]) == [("plain", "cand-1", "b"), ("chat", "cand-1", "a")]
    assert len(keys(exclude_raters=[ann, bob])) == 1
    assert keys(since="2024-05-01", until="2024-05-01") == [("plain", "cand-1", "a")]
    assert keys(since="2024-05-01T12:00:01Z", until="2024-05-31") == [("plain", "cand-1", "b")]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"generators": ["nope"]}, "generator"),
        ({"categories": ["nope"]}, "category"),
        ({"raters": ["r-0000000000"]}, "rater"),
        ({"exclude_raters": ["ghost"]}, "exclude_rater"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-45"}, "until"),
        ({"since": "2024-05-02", "until": "2024-05-01T00:00:00"}, "until"),
    ],
)
def test_bad_filters_are_refused_naming_the_filter(rich, filters, field) -> None:
    data, _ = rich
    with pytest.raises(ValidationError) as caught:
        judgment_filter_build(study=data.study, **filters)
    assert field in caught.value.message_dict


def test_unknown_format_is_refused_listing_the_formats(rich) -> None:
    with pytest.raises(ValidationError, match="judgments-csv"):
        export_open(
            study=rich[0].study,
            format_name="xlsx",
            filters=judgment_filter_build(study=rich[0].study),
        )


def test_exports_stream_lazily_in_chunks(rich, monkeypatch, django_assert_num_queries) -> None:
    data, _ = rich
    monkeypatch.setattr(registry, "CHUNK_BYTES", 200)
    filters = judgment_filter_build(study=data.study)
    for name in ("judgments-jsonl", "judgments-csv"):
        with django_assert_num_queries(0):
            export = export_open(study=data.study, format_name=name, filters=filters)
        first = next(export.chunks)
        # The first chunk (the first comparison's three judgments) leaves while the other
        # comparisons are still unread.
        parse = _jsonl if name == "judgments-jsonl" else _csv_rows
        assert len(parse(first)) == 3, name
        rest = list(export.chunks)
        assert len(rest) == 2, name
        assert len(parse(first + b"".join(rest))) == 5


def test_an_export_stopped_early_releases_its_cursors(rich) -> None:
    data, _ = rich
    filters = judgment_filter_build(study=data.study)
    export = export_open(study=data.study, format_name="judgments-csv", filters=filters)
    next(export.chunks)
    export.chunks.close()  # what the server does when a client disconnects
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE 'export_%%'")
        assert cursor.fetchone()[0] == 0


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def test_command_writes_the_export_to_a_file(rich, tmp_path: Path) -> None:
    out = tmp_path / "judgments.csv"
    err = io.StringIO()
    call_command(
        "export",
        study="exp-rich",
        format="judgments-csv",
        output=str(out),
        category=["writing"],
        stderr=err,
    )
    rows = _csv_rows(out.read_bytes())
    assert len(rows) == 4 and {r["category"] for r in rows} == {"writing"}
    assert "Wrote" in err.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["judgments.csv"]


def test_command_writes_to_stdout_by_default(rich) -> None:
    out = io.StringIO()
    call_command("export", study="exp-rich", format="judgments-jsonl", stdout=out)
    assert len(_jsonl(out.getvalue().encode())) == 5


def test_command_reports_training_pair_summary_on_stderr_and_sidecar(
    votes_study, tmp_path: Path
) -> None:
    out = tmp_path / "pairs.jsonl"
    err = io.StringIO()
    call_command("export", study="exp-votes", format="dpo", output=str(out), stderr=err)
    assert len(_jsonl(out.read_bytes())) == 2
    assert "kept 2 of 5 comparisons; dropped 1 tie, 1 split, 1 both bad" in err.getvalue()
    sidecar = json.loads((tmp_path / "pairs.jsonl.summary.json").read_text())
    assert sidecar["kept"] == 2 and sidecar["dropped"]["split"] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"study": "no-such-study", "format": "dpo"}, "no study"),
        ({"study": "exp-rich", "format": "results-xlsx"}, "unknown export format"),
        ({"study": "exp-rich", "format": "dpo", "since": "soon"}, "since"),
        ({"study": "exp-rich", "format": "dpo", "generator": ["ghost"]}, "generator"),
    ],
)
def test_command_refuses_bad_arguments(rich, options, message) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("export", **options)


def test_failed_export_leaves_no_half_file(rich, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "judgments.jsonl"
    out.write_text("previous export\n")
    real = judgment_writers._judgments_jsonl_chunks

    def failing(**kwargs):
        yield from list(real(**kwargs))[:1]
        raise RuntimeError("database went away")

    monkeypatch.setattr(judgment_writers, "_judgments_jsonl_chunks", failing)
    with pytest.raises(RuntimeError):
        call_command("export", study="exp-rich", format="judgments-jsonl", output=str(out))
    assert out.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["judgments.jsonl"]


def test_command_exits_non_zero_with_a_message(db) -> None:
    settings = connection.settings_dict
    url = (
        f"postgresql://{settings['USER']}:{settings['PASSWORD'] or ''}@"
        f"{settings['HOST'].replace('/', '%2F')}:{settings['PORT'] or 5432}/{settings['NAME']}"
    )
    env = os.environ | {"DJANGO_SETTINGS_MODULE": "app.settings_test", "DATABASE_URL": url}
    result = subprocess.run(
        [sys.executable, "manage.py", "export", "--study", "no-such-study", "--format", "dpo"],
        capture_output=True,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert result.returncode == 1
    assert "no study with slug 'no-such-study'" in result.stderr
    assert result.stdout == ""
