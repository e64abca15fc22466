"""One row per comparison with its votes, for the training-pair exports (dpo, hh-rlhf)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from django.db import connection

from annotations.models import Prompt, Study
from annotations.selectors.judgment_filters import JudgmentFilter
from annotations.selectors.judgments import (
    FETCH_ROWS,
    judgment_joins_build,
    judgment_where_build,
    query_batches_stream,
)


@dataclass(frozen=True)
class Votes:
    """The judgments of one comparison by outcome; `tie` excludes both-bad answers."""

    a: int
    b: int
    tie: int
    both_bad: int

    @property
    def total(self) -> int:
        return self.a + self.b + self.tie + self.both_bad


def _votes_sql(where: str, filters: JudgmentFilter) -> str:
    return (
        "SELECT j.comparison_id AS comparison_id,"
        " count(*) FILTER (WHERE j.preference > 0) AS a,"
        " count(*) FILTER (WHERE j.preference < 0) AS b,"
        " count(*) FILTER (WHERE j.preference = 0 AND NOT j.both_bad) AS tie,"
        " count(*) FILTER (WHERE j.both_bad) AS both_bad"
        + judgment_joins_build(filters=filters)
        + where
        + " GROUP BY j.comparison_id"
    )


def comparison_vote_patterns(
    *, study: Study, filters: JudgmentFilter
) -> tuple[list[tuple[Votes, int]], int | None]:
    """How many comparisons have each vote pattern, and the newest judgment id counted.

    Cheap (a handful of rows whatever the size): exports use it to report kept and dropped
    pairs before streaming. Pass the returned id as filters.max_judgment_id to the stream so
    that both describe the same judgments.
    """
    where, params = judgment_where_build(study=study, filters=filters)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(j.id)" + judgment_joins_build(filters=filters) + where, params)
        max_id = cursor.fetchone()[0]
        if max_id is None:
            return [], None
        where, params = judgment_where_build(
            study=study, filters=replace(filters, max_judgment_id=max_id)
        )
        cursor.execute(
            "SELECT a, b, tie, both_bad, count(*) FROM ("  # noqa: S608 - built from fixed fragments; values are bound
            + _votes_sql(where, filters)
            + ") v GROUP BY a, b, tie, both_bad ORDER BY a, b, tie, both_bad",
            params,
        )
        patterns = [(Votes(a, b, t, x), n) for a, b, t, x, n in cursor.fetchall()]
    return patterns, max_id


# Columns of comparison_vote_rows_stream, in order.
COMPARISON_VOTE_COLUMNS: tuple[str, ...] = (
    "comparison_id",
    "prompt_key",
    "prompt",
    "messages",
    "generator_a",
    "generator_b",
    "output_a",
    "output_b",
    "a",
    "b",
    "tie",
    "both_bad",
)


def comparison_vote_rows_stream(
    *, study: Study, filters: JudgmentFilter, fetch_rows: int = FETCH_ROWS
) -> Iterator[list[tuple]]:
    """Yield batches of per-comparison rows (COMPARISON_VOTE_COLUMNS order) for every comparison
    with at least one judgment passing the filters, ordered by comparison; messages is JSON text
    or None."""
    where, params = judgment_where_build(study=study, filters=filters)
    sql = (
        "SELECT c.id, p.key, p.text, p.messages::text, ga.name, gb.name, oa.text, ob.text,"  # noqa: S608 - built from fixed fragments; values are bound
        " v.a, v.b, v.tie, v.both_bad FROM (" + _votes_sql(where, filters) + ") v"
        " JOIN annotations_comparison c ON c.id = v.comparison_id"
        " JOIN annotations_prompt p ON p.id = c.prompt_id"
        " JOIN annotations_output oa ON oa.id = c.output_a_id"
        " JOIN annotations_output ob ON ob.id = c.output_b_id"
        " JOIN annotations_generator ga ON ga.id = oa.generator_id"
        " JOIN annotations_generator gb ON gb.id = ob.generator_id"
        " ORDER BY c.id"
    )
    yield from query_batches_stream(sql=sql, params=params, fetch_rows=fetch_rows)


def study_has_chat_prompts(*, study: Study) -> bool:
    """Whether any prompt of the study is a chat transcript (a message list): training pairs
    then use TRL's conversational form."""
    return Prompt.objects.filter(study=study, messages__isnull=False).exists()
