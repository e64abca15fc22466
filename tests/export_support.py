"""Test data for exports, made through the project's services as people would make it.

An admin loads the prompt set (one file per comparison, so comparisons are numbered in the order
the test lists them); raters judge on the judging page's services (assignment_next, then
judgment_submit, skipping what the test does not ask them to judge); judgments made elsewhere
come in through the importer, which is also the only way a judgment gets a chosen screen order,
no time on task or a rationale starting with whitespace. Also the reference rendering the
export contract tests compare the writers' bytes with.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from unittest import mock

from annotations.exports.spreadsheet import formula_guard
from annotations.models import Comparison, Judgment, Study, User
from annotations.selectors.judgment_filters import JudgmentFilter
from annotations.selectors.judgments import FETCH_ROWS, judgment_groups_stream
from annotations.selectors.pseudonyms import RaterPseudonyms
from annotations.services.assignment import assignment_next, assignment_skip
from annotations.services.judging import judgment_submit
from annotations.services.loading import EXT_PREFIX, judgments_import, prompt_set_load
from annotations.services.studies import study_create_or_update
from annotations.services.users import user_create_or_update

BASELINE = "base-model"


@dataclass
class PromptSpec:
    key: str
    text: str
    outputs: dict[str, str]
    messages: list[dict[str, str]] | None = None
    category: str = ""


@dataclass
class StudyData:
    study: Study
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)

    def comparison(self, key: str, candidate: str) -> Comparison:
        return self.comparisons[(key, candidate)]


def export_study(*, slug: str, prompts: list[PromptSpec], **settings: Any) -> StudyData:
    """A vs_baseline study: every non-baseline output of a prompt against the baseline's.

    Each comparison arrives in a load of its own (the prompt with the baseline's and one
    candidate's output), so their ids, and the order exports list them in, follow `prompts`.
    """
    study = study_create_or_update(slug=slug, baseline=BASELINE, **settings).study
    data = StudyData(study=study)
    for spec in prompts:
        candidates = [name for name in spec.outputs if name != BASELINE]
        for candidate in candidates or [BASELINE]:
            record: dict[str, Any] = {
                "key": spec.key,
                "prompt": spec.messages if spec.messages is not None else spec.text,
                "outputs": {
                    name: spec.outputs[name] for name in dict.fromkeys([BASELINE, candidate])
                },
            }
            if spec.category:
                record["category"] = spec.category
            body = io.BytesIO((json.dumps(record) + "\n").encode())
            prompt_set_load(study=study, file=body, filename="prompts.jsonl")
            if candidate != BASELINE:
                data.comparisons[(spec.key, candidate)] = Comparison.objects.select_related(
                    "prompt", "output_a__generator", "output_b__generator"
                ).get(study=study, prompt__key=spec.key, output_a__generator__name=candidate)
    study.refresh_from_db()
    return data


def rater(username: str, role: str = "rater") -> User:
    return user_create_or_update(username=username, role=role, password="pw-for-tests-1").user


@dataclass(frozen=True)
class Vote:
    """One judgment a rater makes on the judging page, in canonical terms: `preference` > 0
    prefers output a, criteria likewise, flags by side a/b. The service picks the screen order;
    the helper answers left/right accordingly."""

    comparison: Comparison
    preference: int
    both_bad: bool = False
    criteria: dict[str, int] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    rationale: str = ""
    duration_ms: int = 1500
    # When the judgment is made (the server's clock during the submit); now when None.
    created_at: datetime | None = None


def _left_right(preference: int, left_is_a: bool) -> dict[str, Any]:
    left = preference if left_is_a else -preference
    if left == 0:
        return {"winner": "tie"}
    return {"winner": "left" if left > 0 else "right", "strength": abs(left)}


def _answer(vote: Vote, left_is_a: bool) -> dict[str, Any]:
    """What the judging page sends for `vote` when output a is shown on the left iff left_is_a."""
    verdict = {"winner": "both_bad"} if vote.both_bad else _left_right(vote.preference, left_is_a)
    a, b = vote.flags.get("a", []), vote.flags.get("b", [])
    return {
        **verdict,
        "criteria": {name: _left_right(value, left_is_a) for name, value in vote.criteria.items()},
        "flags": {"left": a, "right": b} if left_is_a else {"left": b, "right": a},
        "rationale": vote.rationale,
        "duration_ms": vote.duration_ms,
    }


def judge(user: User, *votes: Vote) -> list[Judgment]:
    """`user` works through their queue in the votes' study: judges each comparison of `votes`
    when it is offered and skips the others. Returns the judgments in the order of `votes`."""
    study = Study.objects.get(pk=votes[0].comparison.study_id)
    wanted = {vote.comparison.pk: vote for vote in votes}
    made: dict[int, Judgment] = {}
    while len(made) < len(wanted):
        lease = assignment_next(study=study, rater=user)
        assert lease is not None, f"{user.username} was not offered every comparison asked for"
        vote = wanted.get(lease.comparison_id)
        if vote is None:
            assignment_skip(assignment=lease, rater=user, reason="not judged in this test")
            continue
        clock = (
            mock.patch("django.utils.timezone.now", return_value=vote.created_at)
            if vote.created_at
            else nullcontext()
        )
        with clock:
            judgment, created = judgment_submit(
                assignment=lease, rater=user, **_answer(vote, lease.left_is_a)
            )
        assert created
        made[lease.comparison_id] = judgment
    return [made[vote.comparison.pk] for vote in votes]


@dataclass(frozen=True)
class ImportedVote:
    """One row of a judgments file made elsewhere: canonical preference, the order shown."""

    comparison: Comparison
    rater: str
    preference: int
    both_bad: bool = False
    left_is_a: bool = True
    rationale: str = ""
    created_at: datetime | None = None


def judge_imported(*votes: ImportedVote) -> dict[str, User]:
    """Import `votes` as an admin imports a judgments file; returns the raters' accounts by
    their id in the file."""
    study = Study.objects.get(pk=votes[0].comparison.study_id)
    lines = []
    for vote in votes:
        a = vote.comparison.output_a.generator.name
        b = vote.comparison.output_b.generator.name
        row: dict[str, Any] = {
            "key": vote.comparison.prompt.key,
            "left": a if vote.left_is_a else b,
            "right": b if vote.left_is_a else a,
            "rater": vote.rater,
            "rationale": vote.rationale,
            **(
                {"winner": "both_bad"}
                if vote.both_bad
                else _left_right(vote.preference, vote.left_is_a)
            ),
        }
        if vote.created_at is not None:
            row["created_at"] = vote.created_at.isoformat()
        lines.append(json.dumps(row))
    body = io.BytesIO(("\n".join(lines) + "\n").encode())
    judgments_import(study=study, file=body, filename="judgments.jsonl")
    names = {vote.rater: EXT_PREFIX + vote.rater for vote in votes}
    users = {u.username: u for u in User.objects.filter(username__in=names.values())}
    return {rater_id: users[name] for rater_id, name in names.items()}


def judgment_rows_stream(
    *,
    study: Study,
    filters: JudgmentFilter,
    with_messages: bool = True,
    spreadsheet_safe: bool = False,
    fetch_rows: int = FETCH_ROWS,
) -> Iterator[list[tuple]]:
    """The reference the contract tests check the writers against: batches of flat judgment
    rows (tuples in judgment_columns() order) built field by field from the judgment groups,
    plus winner_generator (a name or ""), left_generator and right_generator, the rater as
    the pseudonymous id.

    spreadsheet_safe applies the formula guard to every free-text value.
    """
    clean = formula_guard if spreadsheet_safe else str
    pseudonyms = RaterPseudonyms(study_id=study.pk)
    slug = clean(study.slug)
    rows: list[tuple] = []
    for context, judgments in judgment_groups_stream(
        study=study, filters=filters, with_messages=with_messages, fetch_rows=fetch_rows
    ):
        texts = tuple(clean(v) if isinstance(v, str) else v for v in context[1:])
        head = (slug, *texts)
        generator_a, generator_b = texts[-4], texts[-3]
        winners = {"a": generator_a, "b": generator_b, "tie": ""}
        for (
            _,
            preference,
            strength,
            outcome,
            both_bad,
            left_is_a,
            criteria,
            flags,
            rationale,
            rater_id,
            duration_ms,
            created_at,
            source,
        ) in judgments:
            rows.append(
                (
                    *head,
                    preference,
                    strength,
                    outcome,
                    both_bad,
                    winners[outcome],
                    left_is_a,
                    *((generator_a, generator_b) if left_is_a else (generator_b, generator_a)),
                    criteria,
                    flags,
                    clean(rationale),
                    pseudonyms[rater_id],
                    duration_ms,
                    created_at,
                    source,
                )
            )
        if len(rows) >= fetch_rows:
            yield rows
            rows = []
    if rows:
        yield rows
