"""Pairing: which comparisons a study's pairing rule calls for, and their canonical a/b orientation.

The prompt loader creates the comparisons the rule calls for; the judgment importer creates the
ones its judgments name. Both orient a new comparison with the one rule written here, and both
create comparisons only while holding `study_pairing_lock`.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection, transaction

from annotations.models import Generator, Pairing, Study

# The canonical orientation, as a sort key of each side's generator: of a comparison's two
# outputs, the one whose generator has the smaller key is output_a. The baseline sorts last, so it
# is always output_b and a preference reads "candidate against baseline"; otherwise the name that
# sorts first by code point is output_a (Python's str order, and PostgreSQL's "C" collation on
# UTF-8 text, are both code-point order). The Python key and the SQL row are both made from this
# one list, so the two loaders cannot orient a pair differently.
_ORIENTATION_KEY: tuple[tuple[str, str], ...] = (
    ("is_baseline", "{generator}.id IS NOT DISTINCT FROM {baseline}"),
    ("name", '{generator}.name COLLATE "C"'),
)

# Class id of the advisory lock held while comparisons are created in a study (second key: the
# study's id). Loading a file holds it for its whole transaction, so two loads into one study
# also run one after the other.
_LOCK_CLASS = 0x10AD


def orientation_key(*, name: str, is_baseline: bool) -> tuple[bool | str, ...]:
    """Sort key of a generator's side: of two outputs for one prompt, the smaller key is a."""
    parts: dict[str, bool | str] = {"is_baseline": is_baseline, "name": name}
    return tuple(parts[part] for part, _ in _ORIENTATION_KEY)


def orientation_key_sql(*, generator: str, baseline: str) -> str:
    """SQL row of orientation_key() for the annotations_generator alias `generator`.

    `baseline` is an SQL expression for the study's baseline id (a placeholder, usually).
    """
    parts = (sql.format(generator=generator, baseline=baseline) for _, sql in _ORIENTATION_KEY)
    return f"ROW({', '.join(parts)})"


def same_pair_sql(*, comparison: str, lo: str, hi: str) -> str:
    """SQL condition: comparison alias `comparison` holds the outputs `lo` < `hi`, either way round.

    Matches the comparison_unique_pair index (LEAST, GREATEST), so it is an index probe.
    """
    return (
        f"LEAST({comparison}.output_a_id, {comparison}.output_b_id) = {lo} "
        f"AND GREATEST({comparison}.output_a_id, {comparison}.output_b_id) = {hi}"
    )


def study_pairing_lock(*, study_id: int) -> None:
    """Take the study's pairing lock until the transaction ends (call inside one)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, study_id])


def _wanted_sql(pairing: str) -> str:
    """(prompt_id, a, b) of every comparison `pairing` calls for on the given prompts."""
    if pairing == Pairing.VS_BASELINE:
        # The other side is the baseline, which the orientation key always puts at b.
        return """
            SELECT o.prompt_id, o.id AS a, b.id AS b
            FROM annotations_output o
            JOIN annotations_output b
              ON b.prompt_id = o.prompt_id AND b.generator_id = %(baseline)s
            WHERE o.prompt_id = ANY(%(prompts)s::bigint[]) AND o.generator_id <> %(baseline)s
              AND o.generator_id = ANY(%(generators)s::bigint[])
        """
    x_key = orientation_key_sql(generator="gx", baseline="%(baseline)s")
    y_key = orientation_key_sql(generator="gy", baseline="%(baseline)s")
    return f"""
        SELECT x.prompt_id,
               CASE WHEN x_first THEN x.id ELSE y.id END AS a,
               CASE WHEN x_first THEN y.id ELSE x.id END AS b
        FROM annotations_output x
        JOIN annotations_generator gx ON gx.id = x.generator_id
        JOIN annotations_output y ON y.prompt_id = x.prompt_id AND y.id > x.id
        JOIN annotations_generator gy ON gy.id = y.generator_id
        CROSS JOIN LATERAL (SELECT {x_key} < {y_key} AS x_first) AS side
        WHERE x.prompt_id = ANY(%(prompts)s::bigint[])
          AND x.generator_id = ANY(%(generators)s::bigint[])
    """  # noqa: S608 - built from fixed fragments; values are bound


def comparisons_create(*, study: Study, prompt_ids: list[int], now: datetime) -> tuple[int, int]:
    """Create the comparisons the study's pairing calls for on these prompts, oriented canonically.

    `vs_baseline`: every other model against the baseline; `all_pairs`: every pair of models.
    Returns (comparisons the rule calls for, how many of them already existed). Takes the
    study's pairing lock, then reads the rule afresh into `study`: a change of baseline or
    pairing committed while the caller waited for the lock is the one that counts.
    """
    exists = same_pair_sql(comparison="c", lo="LEAST(w.a, w.b)", hi="GREATEST(w.a, w.b)")
    # An anti-join rather than ON CONFLICT: a speculative insertion costs an extra index probe
    # and WAL record per row. Safe because comparisons are only created under the study's
    # pairing lock, and a pair's outputs keep any comparison of them in the study.
    sql = f"""
        WITH wanted AS ({_wanted_sql(study.pairing)}),
        added AS (
            INSERT INTO annotations_comparison
                (study_id, prompt_id, output_a_id, output_b_id, judgment_count, created_at)
            SELECT %(study)s, w.prompt_id, w.a, w.b, 0, %(now)s FROM wanted w
            WHERE NOT EXISTS (
                SELECT 1 FROM annotations_comparison c
                WHERE c.study_id = %(study)s AND {exists})
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM wanted), (SELECT count(*) FROM added)
    """  # noqa: S608 - built from fixed fragments; values are bound
    with transaction.atomic(), connection.cursor() as cursor:
        study_pairing_lock(study_id=study.pk)
        study.refresh_from_db(fields=["pairing", "baseline"])
        if study.pairing == Pairing.VS_BASELINE and study.baseline_id is None:
            return 0, 0
        # Outputs just copied in have no statistics yet: keep the planner off nested loops.
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(
            sql,
            {
                "baseline": study.baseline_id,
                "prompts": prompt_ids,
                "study": study.pk,
                "now": now,
                # Outputs by generator (indexed), not by a seq scan of every study's outputs.
                "generators": list(
                    Generator.objects.filter(study=study).values_list("id", flat=True)
                ),
            },
        )
        wanted_count, added = cursor.fetchone()
        cursor.execute("SET LOCAL enable_nestloop = on")
    return wanted_count, wanted_count - added
