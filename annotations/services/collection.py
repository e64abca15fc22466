"""Collection with a target precision: a candidate's rule is met once its anytime-valid
interval is narrow enough (or, with stop_on_decision, excludes 50%); the study stops once every
candidate has met it.

The two samplings differ in where the judgments go until then:

- uniform, a balanced design: every candidate's pairs are served evenly, in one random order
  of the study's comparisons, until the last candidate meets its rule, so every candidate gets
  about the same number of judgments (the allocation never depends on the answers);
- adaptive: a candidate that meets its rule is served no more, and new pairs go to the
  candidates furthest from their rule, so each one gets about what it needs.

Each candidate's anytime-valid interval (stats/confidence_sequences.py) is computed from its
completed comparisons against the baseline: one observation per comparison that has its k
counted judgments, the mean of their scores (win 1, tie 0.5, loss 0), in the order they
completed. Comparisons are served in a random order of prompts (Comparison.shuffle), which is
what makes the observations independent draws with the candidate's mean. The interval holds at
any stopping time, so going on judging a candidate that has met its rule (uniform) costs
judgments but not validity.

The pick rule never runs this: collection_refresh recomputes the statuses and writes each
comparison's priority (NULL: it is served no more; a pair already started is finished first,
FINISH_PRIORITY, so no served comparison falls short of k), on a schedule bounded by what it
costs (refresh_interval: every 1-10 s per study), from whichever request finds it stale (a
rater's next pair, the overview, the API; one of them, under an advisory lock).

Priorities under adaptive sampling: for a vs-baseline pair, the candidate's half-width over the
half-width that would stop it (the target, or with stop_on_decision the distance of its mean
from 50% when that is larger): the furthest from its rule first. For a pair of two candidates
in an all_pairs study, the expected shrinking of the standard error of the pair's win rate
from one more judgment, sqrt(p (1 - p)) (1 / sqrt(n + 1) - 1 / sqrt(n + 2)), with p from the
Bradley-Terry fit, in the manner of Chatbot Arena's active sampling (Chiang et al. 2024,
sec. 5). Under uniform sampling every pair has priority 0 until the study stops. Either way the
pick completes started pairs before it begins new ones (an observation is a completed
comparison), new ones in the random order of Comparison.shuffle.
"""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from annotations.models import Generator, Pairing, Sampling, Study
from annotations.selectors.collection import (
    CountedJudgments,
    PairDesign,
    counted_judgments,
    study_design,
)

# How old a study's status and priorities may get: as old as ten times what computing them
# last took (so refreshing costs a study at most a tenth of one core), between
# MIN_REFRESH_SECONDS and REFRESH_SECONDS. A small study is refreshed about every second, so
# that a candidate that meets its rule stops being served within a few judgments; a study with
# hundreds of thousands of judgments, whose refresh takes longer, less often.
REFRESH_SECONDS = 10.0
MIN_REFRESH_SECONDS = 1.0
REFRESH_COST_FACTOR = 10.0
ALPHA = 0.05
# Priority of a pair of two candidates never judged (all_pairs adaptive): first.
_UNJUDGED = 1.0


def study_has_target(*, study: Study) -> bool:
    """Whether `study` collects to a target (else every comparison gets its k judgments)."""
    return study.target_half_width is not None


def _candidate_rows(
    study: Study, counted: CountedJudgments
) -> tuple[list[dict[str, Any]], dict[int, float | None]]:
    """Each candidate's anytime-valid interval and status; and its vs-baseline priority."""
    from annotations.stats.confidence_sequences import (
        comparison_means,
        confidence_sequence,
        stopping_status,
    )

    names = dict(Generator.objects.filter(study=study).values_list("pk", "name"))
    baseline = study.baseline_id
    target = study.target_half_width
    rows: list[dict[str, Any]] = []
    priorities: dict[int, float | None] = {}
    vs_base = counted.generator_b == baseline
    for generator_id, name in sorted(names.items(), key=lambda item: item[1]):
        if generator_id == baseline:
            continue
        mine = vs_base & (counted.generator_a == generator_id)
        scores = (counted.sign[mine] + 1) / 2.0
        values = comparison_means(
            comparisons=counted.comparison[mine], scores=scores, k=study.overlap
        )
        cs = confidence_sequence(values=values, alpha=ALPHA, target_half_width=target)
        status = stopping_status(
            low=cs.low,
            high=cs.high,
            target_half_width=target,
            stop_on_decision=study.stop_on_decision,
        )
        if study.sampling != Sampling.ADAPTIVE:
            # Uniform: every candidate is served evenly until all have stopped (below).
            priority = 0.0
        elif status != "collecting":
            priority = None
        else:
            needed = max(target or 0.0, abs(cs.mean - 0.5) if study.stop_on_decision else 0.0)
            priority = cs.half_width / needed if needed > 0 else cs.half_width
            if math.isnan(priority):
                priority = 1.0
        priorities[generator_id] = priority
        rows.append(
            {
                "name": name,
                "generator_id": generator_id,
                "status": status,
                "half_width": cs.half_width,
                "av_ci_low": cs.low,
                "av_ci_high": cs.high,
                "observations": cs.n,
                "judgments": int(mine.sum()),
                "values": values,
            }
        )
    return rows, priorities


def _pair_priorities(
    study: Study, counted: CountedJudgments, design: list[PairDesign]
) -> dict[tuple[int, int], float]:
    """All-pairs adaptive: the priority of each pair of two candidates (module docstring)."""
    from annotations.stats.bradley_terry import bradley_terry_fit

    probability: dict[tuple[int, int], float] = {}
    if len(counted.sign):
        fit = bradley_terry_fit(
            first=counted.generator_a,
            second=counted.generator_b,
            scores=(counted.sign + 1) / 2.0,
            baseline=study.baseline_id if study.baseline_id is not None else counted.generator_a[0],
            ci="sandwich",
        )
        ratings = {row.generator: row.rating for row in fit.ratings}
        for pair in design:
            ra, rb = ratings.get(pair.generator_a), ratings.get(pair.generator_b)
            if ra is not None and rb is not None and not (math.isnan(ra) or math.isnan(rb)):
                probability[(pair.generator_a, pair.generator_b)] = 1.0 / (
                    1.0 + 10.0 ** ((rb - ra) / 400.0)
                )
    out: dict[tuple[int, int], float] = {}
    for pair in design:
        key = (pair.generator_a, pair.generator_b)
        p = probability.get(key)
        if p is None:
            out[key] = _UNJUDGED
            continue
        n = pair.judgments
        out[key] = math.sqrt(p * (1.0 - p)) * (1.0 / math.sqrt(n + 1) - 1.0 / math.sqrt(n + 2))
    return out


# A pair served no more (priority NULL: its candidate has stopped under adaptive sampling, or
# the whole study has) is still finished when already started, first, so that no served
# comparison falls short of k. Started: judged, or leased now (the lease's judgment is still
# to come, and the pair must not wait a whole refresh for its other raters once it has come).
FINISH_PRIORITY = 1e9
# Under adaptive sampling a pair's priority is a weighted random key, ln(shuffle) / weight, the
# log of shuffle^(1 / weight) (Efraimidis & Spirakis 2006; the log keeps tiny weights from
# underflowing): taking the highest keys first draws pairs with probability in
# proportion to their candidate's weight, so between two refreshes the new pairs are spread
# over the candidates by need instead of all going to the one furthest from its rule (which
# would overshoot its stopping point by a whole refresh window).
_STARTED_SQL = """(c.judgment_count > 0
     OR EXISTS (SELECT 1 FROM annotations_assignment l WHERE l.comparison_id = c.id
                   AND l.status = 'open' AND l.expires_at > %(now)s))"""
_PRIORITY_SQL = f"""CASE WHEN m.priority IS NULL AND c.judgment_count < %(overlap)s
                         AND {_STARTED_SQL} THEN %(finish)s
                    WHEN m.priority IS NULL THEN NULL
                    WHEN %(weighted)s AND m.priority > 0
                         THEN ln(greatest(c.shuffle, 1e-300)) / m.priority
                    ELSE m.priority END"""
_SET_PRIORITY_SQL = f"""
UPDATE annotations_comparison c SET priority = {_PRIORITY_SQL}
  FROM annotations_output oa, annotations_output ob,
       unnest(%(a)s::bigint[], %(b)s::bigint[], %(p)s::float8[]) AS m(a, b, priority)
 WHERE c.study_id = %(study)s AND oa.id = c.output_a_id AND ob.id = c.output_b_id
   AND oa.generator_id = m.a AND ob.generator_id = m.b
   AND c.priority IS DISTINCT FROM ({_PRIORITY_SQL})"""  # noqa: S608 - built from fixed fragments; values are bound
# Comparisons started and not finished: a study is complete only once there are none.
_PARTIAL_SQL = f"""
SELECT count(*) FROM annotations_comparison c
 WHERE c.study_id = %(study)s AND c.judgment_count < %(overlap)s AND {_STARTED_SQL}"""  # noqa: S608 - built from fixed fragments; values are bound


def _priorities_write(study: Study, priorities: dict[tuple[int, int], float | None]) -> None:
    if not priorities:
        return
    keys = list(priorities)
    with connection.cursor() as cursor:
        cursor.execute(
            _SET_PRIORITY_SQL,
            {
                "study": study.pk,
                "overlap": study.overlap,
                "now": timezone.now(),
                "finish": FINISH_PRIORITY,
                "weighted": study.sampling == Sampling.ADAPTIVE,
                "a": [a for a, _ in keys],
                "b": [b for _, b in keys],
                "p": [priorities[key] for key in keys],
            },
        )


def collection_compute(*, study: Study) -> tuple[dict[str, Any], dict[tuple[int, int], Any]]:
    """The collection status of `study` (the `collection` JSON) and the priority of each
    pair of generators (canonical sides), from its counted judgments now."""
    design = study_design(study=study)
    judgments_used = sum(pair.judgments for pair in design)
    judgments_if_uniform = sum(pair.comparisons for pair in design) * study.overlap
    all_pairs = study.sampling == Sampling.ADAPTIVE and study.pairing == Pairing.ALL_PAIRS
    target = study_has_target(study=study)
    counted = counted_judgments(study=study) if target or all_pairs else None
    rows, candidate_priority = (
        _candidate_rows(study, counted) if counted is not None and target else ([], {})
    )
    priorities: dict[tuple[int, int], Any] = {}
    for pair in design:
        if pair.generator_b == study.baseline_id and pair.generator_a in candidate_priority:
            priorities[(pair.generator_a, pair.generator_b)] = candidate_priority[pair.generator_a]
    if all_pairs and counted is not None:
        for key, value in _pair_priorities(study, counted, design).items():
            priorities.setdefault(key, value)
    for pair in design:
        priorities.setdefault((pair.generator_a, pair.generator_b), 0.0)
    open_pairs = {(pair.generator_a, pair.generator_b): pair.open for pair in design}
    needs: list[int] = []
    more_known = True
    pairs_left: dict[str, int] = {}  # per candidate: its comparisons still below k
    for row in rows:
        values = row.pop("values")
        left = pairs_left[row["name"]] = open_pairs.get(
            (row.pop("generator_id"), study.baseline_id), 0
        )
        # Collecting, with every one of its comparisons judged k times: nothing more can come.
        row["exhausted"] = row["status"] == "collecting" and left == 0
        if row["status"] == "collecting" and not row["exhausted"]:
            needed = _more_observations(
                n=len(values), half_width=row["half_width"], target=study.target_half_width
            )
            if needed is None:
                more_known = False
            else:
                needs.append(needed)
    # Adaptive gives each candidate what it needs; uniform gives every candidate with pairs
    # left as many as the furthest one needs.
    if study.sampling == Sampling.ADAPTIVE:
        more = sum(needs) * study.overlap
    else:
        with_pairs_left = sum(left > 0 for left in pairs_left.values())
        more = max(needs, default=0) * with_pairs_left * study.overlap
    if rows:
        # With a target: once every candidate has stopped nothing new is served, the other
        # pairs of an all_pairs study included, and the pairs already started are finished
        # (priority NULL, FINISH_PRIORITY for those); complete once none is left started.
        all_stopped = all(row["status"] != "collecting" or row["exhausted"] for row in rows)
        if all_stopped:
            priorities = dict.fromkeys(priorities)
        for row in rows:
            row["served"] = (
                not all_stopped
                and pairs_left[row["name"]] > 0
                and (study.sampling != Sampling.ADAPTIVE or row["status"] == "collecting")
            )
        with connection.cursor() as cursor:
            cursor.execute(
                _PARTIAL_SQL,
                {"study": study.pk, "overlap": study.overlap, "now": timezone.now()},
            )
            partial = cursor.fetchone()[0]
        complete = all_stopped and partial == 0
    else:
        # Without a target: complete once every comparison has its k counted judgments.
        complete = bool(design) and all(pair.open == 0 for pair in design)
    state = {
        "status": "complete" if complete else "collecting",
        "sampling": study.sampling,
        "target_half_width": study.target_half_width,
        "stop_on_decision": study.stop_on_decision,
        "judgments_used": judgments_used,
        "judgments_if_uniform": judgments_if_uniform,
        "judgments_saved": max(0, judgments_if_uniform - judgments_used) if complete else None,
        "more_judgments": None if complete else (more if more_known and rows else None),
        "generators": rows,
        "computed_at": timezone.now().isoformat(),
    }
    return state, priorities


# Fewer completed comparisons than this say too little about the rate to extrapolate.
_MIN_FOR_ESTIMATE = 10


def _more_observations(*, n: int, half_width: float, target: float | None) -> int | None:
    """About how many more completed comparisons until the half-width reaches `target`, at the
    current rate: an interval's half-width shrinks about as 1 / sqrt(n), so n (hw / H)^2 are
    needed in all. A rough figure for the page ("about N more judgments"), cheap enough for
    every refresh (stats/confidence_sequences.observations_to_target simulates it, in seconds).
    None when too few comparisons are complete to say."""
    if target is None or n < _MIN_FOR_ESTIMATE:
        return None
    return max(0, math.ceil(n * (half_width / target) ** 2) - n)


def _lock_key(study: Study) -> int:
    return 0x5052_4546_0000 + study.pk  # "PREF" + the study id: one advisory lock per study


def refresh_interval(*, compute_seconds: float | None) -> float:
    """Seconds a status may age before the next request recomputes it (see REFRESH_SECONDS)."""
    cost = REFRESH_COST_FACTOR * (compute_seconds or 0.0)
    return min(REFRESH_SECONDS, max(MIN_REFRESH_SECONDS, cost))


def collection_refresh(*, study: Study, force: bool = False) -> dict[str, Any]:
    """Recompute and store the collection status and priorities of `study` when they are
    older than refresh_interval allows (or `force`); the status, fresh or as stored.

    Only one request refreshes a study at a time (an advisory lock taken without waiting);
    the others carry on with the priorities already written.
    """
    now = timezone.now()
    state = study.collection_state or {}
    interval = refresh_interval(compute_seconds=state.get("compute_seconds"))
    fresh = study.collection_at is not None and now - study.collection_at < timedelta(
        seconds=interval
    )
    if fresh and not force:
        return study.collection_state
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_lock_key(study)])
            if not cursor.fetchone()[0]:
                return study.collection_state
        started = time.perf_counter()
        state, priorities = collection_compute(study=study)
        _priorities_write(study, priorities)
        state["compute_seconds"] = round(time.perf_counter() - started, 4)
        Study.objects.filter(pk=study.pk).update(collection_state=state, collection_at=now)
    study.collection_state = state
    study.collection_at = now
    return state


def collection_priorities_reset(*, study: Study) -> None:
    """Every comparison of `study` may be served again (the target was removed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE annotations_comparison SET priority = 0"
            " WHERE study_id = %s AND priority IS DISTINCT FROM 0",
            [study.pk],
        )
