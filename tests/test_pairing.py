"""Pairing: the canonical orientation in Python and SQL agree; output slots never collide."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection

from annotations.models import Comparison
from annotations.services.loading.common import GENERATOR_BITS, output_slot
from annotations.services.pairing import orientation_key, orientation_key_sql
from tests.loading_support import BASELINE, import_, jsonl, load, make_study

NAMES = ["GPT 4", "gpt 4", "Alpaca", "alpaca-7b", "Ärger", "Zebra", "zebra", "😀 bot", "a", "B"]


@pytest.mark.django_db
def test_sql_orientation_key_orders_every_pair_as_the_python_key_does():
    rows = [(i, name) for i, name in enumerate(NAMES, start=1)]
    baseline = 3
    values = ", ".join(["(%s::bigint, %s::text)"] * len(rows))
    x_key = orientation_key_sql(generator="x", baseline="%s")
    y_key = orientation_key_sql(generator="y", baseline="%s")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH g(id, name) AS (VALUES {values}) "
            f"SELECT x.id, y.id, {x_key} < {y_key} FROM g x CROSS JOIN g y WHERE x.id <> y.id",
            [value for row in rows for value in row] + [baseline, baseline],
        )
        in_sql = {(x, y): first for x, y, first in cursor.fetchall()}
    names = dict(rows)
    in_python = {
        (x, y): orientation_key(name=names[x], is_baseline=x == baseline)
        < orientation_key(name=names[y], is_baseline=y == baseline)
        for x, y in itertools.permutations(names, 2)
    }
    assert in_sql == in_python
    # The baseline is never output_a.
    assert not any(first for (x, _), first in in_python.items() if x == baseline)


def test_output_slots_of_distinct_pairs_differ_past_any_count_of_models():
    assert GENERATOR_BITS >= 63
    for generator in (0, 1, 2**16, 2**20, 2**40, 2**63 - 1):
        assert output_slot(7, generator) != output_slot(8, 0)
        assert output_slot(7, generator) >> GENERATOR_BITS == 7


@pytest.mark.django_db
def test_importer_finds_the_right_outputs_in_a_study_of_more_than_65536_models(tmp_path):
    study = make_study(slug="many")
    # The study's generators sorted by name: the baseline, 65,535 fillers, then "zz". So "zz" has
    # index 65,536, whose output on one prompt shared a slot with the baseline's on the next
    # prompt when the importer packed generator indexes in 16 bits.
    fillers = [{"generator": f"m{i:05d}"} for i in range(2**16 - 1)]
    records = [
        {"key": key, "prompt": f"Prompt {key}", "outputs": {"zz": f"zz {key}", BASELINE: key}}
        for key in ("p1", "p2")
    ]
    load(study, tmp_path, jsonl(*fillers, *records))
    rows = "".join(f"{key},zz,{BASELINE},left,r1\n" for key in ("p1", "p2"))
    summary = import_(study, tmp_path, "key,left,right,winner,rater\n" + rows)
    assert summary.judgments_added == 2
    judged = {
        (c.prompt.key, c.output_a.text, c.output_b.text)
        for c in Comparison.objects.filter(study=study, judgment_count=1).select_related(
            "prompt", "output_a", "output_b"
        )
    }
    assert judged == {("p1", "zz p1", "p1"), ("p2", "zz p2", "p2")}
