"""Fuzzing the upload readers: any bytes, JSON or CSV cells end in a LoadError or storable rows.

The readers and field checks run on each example without writing to the database: the prompt
loader's first pass needs nothing stored, and the importer's row checks run against lookups of
one study read once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotations.services.generators import GENERATOR_SIZE_MAX
from annotations.services.loading import LoadError, Problem
from annotations.services.loading import judgments as judgment_loader
from annotations.services.loading import prompts as prompt_loader
from annotations.services.loading.errors import Problems
from annotations.services.loading.reading import source_open
from tests.loading_support import BASELINE, NESTED, jsonl, load, make_study

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

PROMPT_FIELDS = ["key", "prompt", "instruction", "category", "outputs", "generator", "model"]
PROMPT_FIELDS += ["output", "family", "size"]
JUDGMENT_FIELDS = ["key", "left", "right", "winner", "rater", "strength", "created_at"]
JUDGMENT_FIELDS += ["rationale"]
# Values a loader knows, so that examples get past the first checks now and then.
KNOWN = ["haiku", "sum", "GPT 4", "Alpaca", BASELINE, "left", "right", "tie", "both_bad", "2"]

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(KNOWN)
    | st.sampled_from(["\x00", "\ud800", "²", "--1", "0001-01-01T00:30:00+01:00", "10000-01-01"])
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(KNOWN), children, max_size=4)
    ),
    max_leaves=12,
)
cells = st.text(max_size=12) | st.sampled_from([*KNOWN, "", " ", "\x00", "²", "-0001-01-01"])


def _records(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))


def _jsonl_lines(fields: list[str]) -> st.SearchStrategy[bytes]:
    line = (
        _records(fields).map(lambda r: json.dumps(r))
        | json_values.map(lambda v: json.dumps(v))
        | st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth)
        | st.text(max_size=20)
    )
    return st.lists(line, max_size=5).map(lambda lines: "\n".join(lines).encode("utf-8", "replace"))


def _csv_file(header: list[str]) -> st.SearchStrategy[bytes]:
    def render(rows: list[list[str]]) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue().encode("utf-8", "replace")

    width = len(header)
    return st.lists(st.lists(cells, min_size=width - 1, max_size=width + 1), max_size=5).map(render)


def _files(fields: list[str], header: list[str]) -> st.SearchStrategy[tuple[str, bytes]]:
    return st.one_of(
        st.tuples(st.sampled_from(["f.jsonl", "f.csv", "f.txt"]), st.binary(max_size=300)),
        st.tuples(st.just("f.jsonl"), _jsonl_lines(fields)),
        st.tuples(st.just("f.csv"), _csv_file(header)),
    )


def _storable(value: Any) -> None:
    """What PostgreSQL text columns take: UTF-8 encodable, no NUL."""
    if isinstance(value, str):
        value.encode("utf-8")
        assert "\x00" not in value
    elif isinstance(value, list | tuple):
        for item in value:
            _storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _storable(key)
            _storable(item)


def _prompt_pass(name: str, data: bytes) -> Iterator[Any]:
    """The prompt loader's checking pass over a file, yielding each accepted record."""
    problems = Problems()
    state = prompt_loader._State()
    with source_open(file=io.BytesIO(data), filename=name) as source:
        for record in prompt_loader._records(source, problems, None, "checking"):
            prompt_loader._check(record, state, problems)
            yield record
    problems.raise_if_any(name)


def _only_load_errors(run: Any) -> None:
    try:
        run()
    except LoadError as exc:
        assert exc.total >= 1 and all(isinstance(p, Problem) for p in exc.errors)


@FUZZ
@given(_files(PROMPT_FIELDS, ["prompt", "generator", "output", "key", "category"]))
def test_the_prompt_reader_only_ever_raises_load_error(upload):
    name, data = upload

    def run() -> None:
        for record in _prompt_pass(name, data):
            if isinstance(record, prompt_loader._Meta):
                assert record.size is None or 1 <= record.size <= GENERATOR_SIZE_MAX
                _storable([record.generator, record.family or ""])
            else:
                _storable([record.key, record.text, record.category, record.messages or []])
                _storable([list(output) for output in record.outputs])

    _only_load_errors(run)


@pytest.mark.django_db
def test_the_judgment_reader_only_ever_raises_load_error(tmp_path):
    study = make_study(slug="fuzz", scale="likert5")
    load(study, tmp_path, jsonl(*NESTED))
    lookups = judgment_loader._Study(study)

    @FUZZ
    @given(_files(JUDGMENT_FIELDS, ["key", "left", "right", "winner", "rater", "strength"]))
    def check(upload: tuple[str, bytes]) -> None:
        name, data = upload

        def run() -> None:
            problems = Problems()
            with source_open(file=io.BytesIO(data), filename=name) as source:
                rows = source.rows(
                    problems, columns=judgment_loader._COLUMNS, progress=None, phase="checking"
                )
                for line, obj in rows:
                    row = judgment_loader._stage_row(line, obj, lookups, problems)
                    if row is None:
                        continue
                    _, rater, _, lo, hi, _, _, verdict, created_at, rationale = row
                    _storable([rater, rationale])
                    assert lo < hi and -32768 <= verdict <= 32767
                    if created_at is not None:
                        assert 1 <= created_at.astimezone(UTC).year <= 9999
            problems.raise_if_any(name)

        _only_load_errors(run)

    check()
