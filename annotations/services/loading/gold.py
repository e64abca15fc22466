"""Loading gold pairs (control items with a known answer) into a study.

Two shapes, one per row, JSONL or CSV:
- `key, better, worse`: the prompt `key` of the study and two of its loaded outputs, by model
  name: the better one and the worse one;
- `key, prompt, better_output, worse_output`: an attention check with its own prompt and
  outputs, not part of the study's data.
The whole file is checked first; any problem refuses it with line-numbered errors and nothing
written. Loading a file again adds nothing; an attention check whose key is loaded with other
texts is an error (a served item must not change under its answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from annotations.models import GoldItem, Output, Prompt, Study
from annotations.services.generators import generator_name_key
from annotations.services.loading.common import (
    MAX_GENERATOR_CHARS,
    MAX_KEY_CHARS,
    MAX_TEXT_CHARS,
    check_name,
    check_text,
)
from annotations.services.loading.errors import Problems
from annotations.services.loading.reading import CsvColumns, FileArg, Progress, source_open
from annotations.services.pairing import study_pairing_lock

_COLUMNS = CsvColumns(
    required=("key",),
    optional=("better", "worse", "prompt", "better_output", "worse_output"),
)
_PAIR_FIELDS = ("better", "worse")
_OWN_FIELDS = ("prompt", "better_output", "worse_output")
# The gold rate a study gets when gold is first loaded and it has none set (README).
DEFAULT_GOLD_RATE = 0.1


@dataclass(frozen=True)
class GoldSummary:
    filename: str
    study: str
    items: int
    items_existing: int

    @property
    def items_added(self) -> int:
        return self.items - self.items_existing

    def __str__(self) -> str:
        return (
            f"{self.filename}: {self.items:,} gold items for study '{self.study}' "
            f"({self.items_added:,} added, {self.items_existing:,} already loaded)"
        )


@dataclass(frozen=True)
class _Row:
    line: int
    key: str
    prompt: Prompt | None = None
    better: Output | None = None
    worse: Output | None = None
    prompt_text: str = ""
    better_text: str = ""
    worse_text: str = ""

    @property
    def identity(self) -> tuple[Any, ...]:
        if self.prompt is not None:
            assert self.better is not None and self.worse is not None
            return ("pair", self.prompt.pk, self.better.pk, self.worse.pk)
        return ("own", self.key)


def _given(record: dict[str, Any], name: str) -> bool:
    value = record.get(name)
    return value is not None and not (isinstance(value, str) and not value.strip())


class _Outputs:
    """The study's prompts by key and outputs by (prompt, model name key), read on demand."""

    def __init__(self, study: Study) -> None:
        self.study = study
        self.prompts: dict[str, Prompt | None] = {}
        self.outputs: dict[int, dict[str, Output]] = {}

    def prompt(self, key: str) -> Prompt | None:
        if key not in self.prompts:
            self.prompts[key] = Prompt.objects.filter(study=self.study, key=key).first()
        return self.prompts[key]

    def output(self, prompt: Prompt, name: str) -> Output | None:
        # One read per prompt, however many gold pairs name it.
        if prompt.pk not in self.outputs:
            self.outputs[prompt.pk] = {
                generator_name_key(output.generator.name): output
                for output in prompt.outputs.select_related("generator")
            }
        return self.outputs[prompt.pk].get(generator_name_key(name))


def _row(line: int, record: dict[str, Any], outputs: _Outputs, problems: Problems) -> _Row | None:
    key = check_name(record.get("key"), line, "key", problems, max_chars=MAX_KEY_CHARS)
    pair = [name for name in _PAIR_FIELDS if _given(record, name)]
    own = [name for name in _OWN_FIELDS if _given(record, name)]
    if pair and own:
        problems.add(
            line,
            ", ".join(pair + own),
            "give either better and worse (two loaded outputs) or prompt, better_output and "
            "worse_output (an attention check), not both",
        )
        return None
    if not pair and not own:
        problems.add(
            line,
            "",
            "needs better and worse (model names) or prompt, better_output and worse_output",
        )
        return None
    if pair:
        names = {
            name: check_name(record.get(name), line, name, problems, max_chars=MAX_GENERATOR_CHARS)
            for name in _PAIR_FIELDS
        }
        if key is None or None in names.values():
            return None
        if generator_name_key(names["better"]) == generator_name_key(names["worse"]):
            problems.add(line, "worse", "must name a different model than better")
            return None
        prompt = outputs.prompt(key)
        if prompt is None:
            problems.add(line, "key", f"no prompt with key {key!r} in study '{outputs.study.slug}'")
            return None
        found = {}
        for name in _PAIR_FIELDS:
            found[name] = outputs.output(prompt, names[name])
            if found[name] is None:
                problems.add(line, name, f"prompt {key!r} has no output of model {names[name]!r}")
        if None in found.values():
            return None
        return _Row(
            line=line,
            key=key,
            prompt=prompt,
            better=found["better"],
            worse=found["worse"],
            prompt_text=prompt.text,
            better_text=found["better"].text,
            worse_text=found["worse"].text,
        )
    texts = {
        name: check_text(record.get(name), line, name, problems, max_chars=MAX_TEXT_CHARS)
        for name in _OWN_FIELDS
    }
    if key is None or None in texts.values():
        return None
    if texts["better_output"] == texts["worse_output"]:
        problems.add(line, "worse_output", "is the same text as better_output")
        return None
    return _Row(
        line=line,
        key=key,
        prompt_text=texts["prompt"],
        better_text=texts["better_output"],
        worse_text=texts["worse_output"],
    )


def _existing(study: Study) -> dict[tuple[Any, ...], GoldItem]:
    items = {}
    for item in GoldItem.objects.filter(study=study):
        if item.prompt_id is not None:
            items[("pair", item.prompt_id, item.better_output_id, item.worse_output_id)] = item
        else:
            items[("own", item.key)] = item
    return items


def gold_load(
    *, study: Study, file: FileArg, filename: str = "", progress: Progress | None = None
) -> GoldSummary:
    """Load the gold pairs of a JSONL or CSV file into `study` (see the module docstring).

    Raises LoadError with every problem found (by line) and writes nothing then. A study with
    no gold rate set gets DEFAULT_GOLD_RATE once it has gold.
    """
    with source_open(file=file, filename=filename) as source, transaction.atomic():
        # The loaders' lock: outputs cannot change under the check.
        study_pairing_lock(study_id=study.pk)
        problems = Problems()
        outputs = _Outputs(study)
        rows: list[_Row] = []
        seen: dict[tuple[Any, ...], int] = {}
        for line, record in source.rows(
            problems, columns=_COLUMNS, progress=progress, phase="reading"
        ):
            row = _row(line, record, outputs, problems)
            if row is None:
                continue
            if row.identity in seen:
                problems.add(line, "key", f"repeats the gold item of line {seen[row.identity]}")
                continue
            seen[row.identity] = line
            rows.append(row)
        if not rows and not problems:
            problems.add(None, "", "the file is empty: no gold items found")
        existing = _existing(study)
        for row in rows:
            stored = existing.get(row.identity)
            if (
                stored is not None
                and row.prompt is None
                and (
                    (stored.prompt_text, stored.better_text, stored.worse_text)
                    != (row.prompt_text, row.better_text, row.worse_text)
                )
            ):
                problems.add(
                    row.line,
                    "key",
                    f"gold item {row.key!r} is already loaded with other texts; give the new "
                    "one a new key",
                )
        problems.raise_if_any(source.filename)
        new = [row for row in rows if row.identity not in existing]
        GoldItem.objects.bulk_create(
            GoldItem(
                study=study,
                key=row.key,
                prompt=row.prompt,
                better_output=row.better,
                worse_output=row.worse,
                prompt_text=row.prompt_text,
                messages=row.prompt.messages if row.prompt is not None else None,
                better_text=row.better_text,
                worse_text=row.worse_text,
            )
            for row in new
        )
        if new and study.gold_rate is None:
            Study.objects.filter(pk=study.pk, gold_rate__isnull=True).update(
                gold_rate=DEFAULT_GOLD_RATE
            )
            study.gold_rate = DEFAULT_GOLD_RATE
    return GoldSummary(
        filename=source.filename,
        study=study.slug,
        items=len(rows),
        items_existing=len(rows) - len(new),
    )
