"""Loading a prompt set with model outputs into a study, with the comparisons its pairing needs.

Two streaming passes over the file: the first validates every record and keeps only compact
fingerprints (64-bit digests of each prompt and output text, never the texts); the second,
reached only when the whole file is valid, writes the new rows with COPY. Everything happens in
one transaction under a per-study advisory lock.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from annotations.models import Generator, Study
from annotations.services.generators import (
    generator_name_clash,
    generator_name_key,
    generator_size_clean,
)
from annotations.services.loading.common import (
    MAX_CATEGORY_CHARS,
    MAX_GENERATOR_CHARS,
    MAX_KEY_CHARS,
    MAX_MESSAGES,
    MAX_TEXT_CHARS,
    check_name,
    check_text,
    fingerprint,
    output_slot,
    raw_connection,
    sql_fingerprint,
    stream_rows,
)
from annotations.services.loading.errors import Problems, type_name
from annotations.services.loading.reading import CsvColumns, FileArg, Progress, Source, source_open
from annotations.services.pairing import comparisons_create, study_pairing_lock
from annotations.services.studies import study_baseline_missing_message

log = logging.getLogger(__name__)

_COLUMNS = CsvColumns(
    required=("prompt", "generator", "output"),
    optional=("key", "category"),
    aliases={"instruction": "prompt", "model": "generator"},
)
# Outputs are indexed by output_slot(prompt index, generator index); an output entry packs
# (fingerprint << 34 | line << 2 | seen << 1 | stored).
_STORED, _SEEN = 1, 2


@dataclass(frozen=True)
class LoadSummary:
    """What a prompt-set load found: each count is of the file's items, and how many existed."""

    filename: str
    study: str
    prompts: int
    prompts_existing: int
    generators: int
    generators_existing: int
    outputs: int
    outputs_existing: int
    comparisons: int
    comparisons_existing: int
    # Sentences to heed, such as why no comparisons were made (the study has no baseline yet).
    warnings: list[str] = field(default_factory=list)

    @property
    def prompts_added(self) -> int:
        return self.prompts - self.prompts_existing

    @property
    def outputs_added(self) -> int:
        return self.outputs - self.outputs_existing

    @property
    def comparisons_added(self) -> int:
        return self.comparisons - self.comparisons_existing

    def __str__(self) -> str:
        return (
            f"Loaded {self.filename} into '{self.study}': "
            f"{self.prompts:,} prompts ({self.prompts_existing:,} already there), "
            f"{self.generators:,} models ({self.generators_existing:,} already there), "
            f"{self.outputs:,} outputs ({self.outputs_existing:,} already there), "
            f"{self.comparisons:,} comparisons ({self.comparisons_existing:,} already there)."
            + "".join(f" Warning: {warning}." for warning in self.warnings)
        )


@dataclass
class _Record:
    line: int
    key: str
    text: str
    messages: list[dict[str, str]] | None
    fingerprint: int
    category: str
    # (generator, text, field of the text, field of the generator's name) for errors
    outputs: list[tuple[str, str, str, str]]


@dataclass
class _Meta:
    line: int
    generator: str
    field: str
    family: str | None
    size: int | None


class _PromptEntry:
    __slots__ = ("category", "fingerprint", "id", "index", "line", "seen")

    def __init__(self, index: int, fp: int, line: int, pk: int, category: str) -> None:
        self.index = index
        self.fingerprint = fp
        self.line = line  # first line in the file; 0 when only stored so far
        self.id = pk  # 0 until a new prompt gets its id
        self.category = category
        self.seen = line > 0


@dataclass
class _State:
    """What the study holds and what the file adds, as compact fingerprints."""

    prompts: dict[str, _PromptEntry] = field(default_factory=dict)
    outputs: dict[int, int] = field(default_factory=dict)
    generator_index: dict[str, int] = field(default_factory=dict)
    generator_ids: list[int | None] = field(default_factory=list)
    generator_names: list[str] = field(default_factory=list)
    generators_in_file: set[int] = field(default_factory=set)
    meta: dict[int, _Meta] = field(default_factory=dict)

    # generator_name_key() of each name -> index of the first generator with that key, and the
    # line that generator first appears on in the file (0 when it is stored).
    name_keys: dict[str, int] = field(default_factory=dict)
    first_lines: dict[int, int] = field(default_factory=dict)

    def generator(self, name: str) -> int:
        index = self.generator_index.get(name)
        if index is None:
            index = self.generator_index[name] = len(self.generator_ids)
            self.generator_ids.append(None)
            self.generator_names.append(name)
        return index

    def generator_stored(self, name: str, pk: int) -> None:
        index = self.generator(name)
        self.generator_ids[index] = pk
        self.name_keys.setdefault(generator_name_key(name), index)
        self.first_lines[index] = 0

    def generator_in_file(self, name: str, line: int, where: str, problems: Problems) -> int | None:
        """The index of a model the file names, or None with a problem for a near-duplicate."""
        index = self.generator_index.get(name)
        if index is None:
            key = generator_name_key(name)
            if not key:
                problems.add(line, where, "has no visible characters")
                return None
            holder = self.name_keys.get(key)
            if holder is not None:
                first = self.first_lines[holder]
                existing = self.generator_names[holder]
                problems.add(
                    line,
                    where,
                    generator_name_clash(
                        name=name,
                        existing=existing,
                        where=f"on line {first}" if first else "already in the study",
                    ),
                )
                return None
            index = self.generator(name)
            self.name_keys[key] = index
            self.first_lines[index] = line
        self.generators_in_file.add(index)
        return index


def _canonical_messages(messages: list[dict[str, str]]) -> str:
    return json.dumps(messages, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _prompt_fingerprint(text: str, messages: list[dict[str, str]] | None) -> int:
    if messages is None:
        return fingerprint(b"t:" + text.encode())
    return fingerprint(b"m:" + _canonical_messages(messages).encode())


def derive_key(text: str, messages: list[dict[str, str]] | None = None) -> str:
    """The stable key of a prompt given without one: "p-" and 12 hex digits of its SHA-256."""
    basis = text if messages is None else _canonical_messages(messages)
    return "p-" + hashlib.sha256(basis.encode()).hexdigest()[:12]


def render_messages(messages: list[dict[str, str]]) -> str:
    """Readable text of a chat prompt: a lone user message is shown as is."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def _parse_prompt(value: Any, line: int, name: str, problems: Problems) -> tuple[str, Any] | None:
    if isinstance(value, list):
        if not value:
            problems.add(line, name, "is an empty message list")
            return None
        if len(value) > MAX_MESSAGES:
            problems.add(line, name, f"has more than {MAX_MESSAGES:,} messages")
            return None
        messages = []
        for i, message in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(message, dict):
                problems.add(line, where, f"must be a message object, not {type_name(message)}")
                return None
            role = check_name(message.get("role"), line, f"{where}.role", problems, max_chars=50)
            content = check_text(
                message.get("content"),
                line,
                f"{where}.content",
                problems,
                max_chars=MAX_TEXT_CHARS,
            )
            if role is None or content is None:
                return None
            messages.append({"role": role, "content": _normalise(content)})
        return render_messages(messages), messages
    if isinstance(value, str) or value is None:
        text = check_text(value, line, name, problems, max_chars=MAX_TEXT_CHARS)
        return None if text is None else (_normalise(text), None)
    problems.add(line, name, f"must be a string or a list of messages, not {type_name(value)}")
    return None


def _one_of(
    obj: dict[str, Any], names: tuple[str, str], line: int, problems: Problems
) -> str | None:
    present = [n for n in names if n in obj]
    if len(present) == 2:
        problems.add(line, names[1], f"give either '{names[0]}' or '{names[1]}', not both")
    return present[0] if present else None


def _parse_meta(
    obj: dict[str, Any], name_field: str, line: int, problems: Problems
) -> _Meta | None:
    name = check_name(obj[name_field], line, name_field, problems, max_chars=MAX_GENERATOR_CHARS)
    family = obj.get("family")
    if family is not None:
        family = check_text(family, line, "family", problems, max_chars=200, allow_empty=True)
    size = obj.get("size")
    if size is not None:
        try:
            size = generator_size_clean(size)
        except ValidationError as exc:
            problems.add(line, "size", exc.messages[0])
            size = None
    if name is None:
        return None
    return _Meta(line=line, generator=name, field=name_field, family=family, size=size)


def _parse(
    line: int, obj: dict[str, Any], problems: Problems, *, csv: bool
) -> _Record | _Meta | None:
    """One record of either shape (or a model-metadata line), checked field by field."""
    before = problems.total
    if csv:
        # An empty cell means "not given", except the output next to a model name: that model
        # answered with nothing, which is an answer too.
        obj = {k: v for k, v in obj.items() if v != "" or k == "prompt"}
        if obj.get("generator") is not None and "output" not in obj:
            obj["output"] = ""
    prompt_field = _one_of(obj, ("prompt", "instruction"), line, problems)
    generator_field = _one_of(obj, ("generator", "model"), line, problems)
    if prompt_field is None:
        if generator_field and not {"output", "outputs", "key", "category"} & obj.keys():
            return _parse_meta(obj, generator_field, line, problems)
        problems.add(line, "prompt", "is missing")
        return None
    parsed = _parse_prompt(obj[prompt_field], line, prompt_field, problems)
    raw_key = obj.get("key")
    key = None
    if raw_key is not None:
        key = check_name(raw_key, line, "key", problems, max_chars=MAX_KEY_CHARS)
    category = obj.get("category")
    if category is not None:
        category = check_text(
            category, line, "category", problems, max_chars=MAX_CATEGORY_CHARS, allow_empty=True
        )
    outputs: list[tuple[str, str, str, str]] = []
    if "outputs" in obj:
        if generator_field or "output" in obj:
            problems.add(line, "outputs", "give either 'outputs' or 'generator' and 'output'")
        value = obj["outputs"]
        if not isinstance(value, dict):
            problems.add(
                line, "outputs", f"must be an object of model: text, not {type_name(value)}"
            )
        else:
            for raw_name, text in value.items():
                where = f"outputs.{raw_name}"
                name = check_name(raw_name, line, where, problems, max_chars=MAX_GENERATOR_CHARS)
                text = check_text(
                    text, line, where, problems, max_chars=MAX_TEXT_CHARS, allow_empty=True
                )
                if name is not None and text is not None:
                    outputs.append((name, text, where, where))
    elif generator_field:
        name = check_name(
            obj[generator_field], line, generator_field, problems, max_chars=MAX_GENERATOR_CHARS
        )
        # An output may be empty or only whitespace: a model that answered nothing did answer,
        # and raters judge that answer too (LLMFAO's crowd judged 68 such outputs).
        if "output" not in obj or (csv and obj["output"] is None):
            problems.add(line, "output", "is missing")
            text = None
        else:
            text = check_text(
                obj["output"], line, "output", problems, max_chars=MAX_TEXT_CHARS, allow_empty=True
            )
        if name is not None and text is not None:
            outputs.append((name, text, "output", generator_field))
    elif "output" in obj:
        problems.add(line, "generator", "is missing (an output needs the model that wrote it)")
    if parsed is None or problems.total > before:
        return None
    text, messages = parsed
    return _Record(
        line=line,
        key=key or derive_key(text, messages),
        text=text,
        messages=messages,
        fingerprint=_prompt_fingerprint(text, messages),
        category=(category or "").strip(),
        outputs=outputs,
    )


def _records(
    source: Source, problems: Problems, progress: Progress | None, phase: str
) -> Iterator[_Record | _Meta]:
    for line, obj in source.rows(problems, columns=_COLUMNS, progress=progress, phase=phase):
        record = _parse(line, obj, problems, csv=source.is_csv)
        if record is not None:
            yield record


def _where(line: int) -> str:
    return f"line {line}" if line else "what is stored"


def _read_stored(study: Study, state: _State) -> None:
    for name, pk in Generator.objects.filter(study=study).values_list("name", "id"):
        state.generator_stored(name, pk)
    by_id: dict[int, _PromptEntry] = {}
    text_fingerprint = sql_fingerprint("'t:' || text")
    sql = (
        f"SELECT id, key, category, messages, {text_fingerprint} "  # noqa: S608 - built from fixed fragments; values are bound
        "FROM annotations_prompt WHERE study_id = %s"
    )
    for pk, key, category, messages, fp in stream_rows(sql, [study.pk]):
        if messages is not None:
            # Django's connection hands jsonb over as text.
            fp = _prompt_fingerprint(
                "", json.loads(messages) if isinstance(messages, str) else messages
            )
        entry = _PromptEntry(len(state.prompts), fp, 0, pk, category)
        state.prompts[key] = by_id[pk] = entry
    gen_index = {pk: i for i, pk in enumerate(state.generator_ids)}
    # By generator, not study: output_generator indexes it (output_generator_in_study keeps
    # every output's generator in the output's study).
    sql = (
        f"SELECT prompt_id, generator_id, {sql_fingerprint('text')} "  # noqa: S608 - built from fixed fragments; values are bound
        "FROM annotations_output WHERE generator_id = ANY(%s)"
    )
    for prompt_id, generator_id, fp in stream_rows(sql, [list(gen_index)]):
        packed = output_slot(by_id[prompt_id].index, gen_index[generator_id])
        state.outputs[packed] = fp << 34 | _STORED


def _check(record: _Record | _Meta, state: _State, problems: Problems) -> None:
    """Consistency of one record with the stored study and the earlier lines of the file."""
    line = record.line
    if isinstance(record, _Meta):
        index = state.generator_in_file(record.generator, line, record.field, problems)
        if index is None:
            return
        earlier = state.meta.get(index)
        if earlier and (earlier.family, earlier.size) != (record.family, record.size):
            problems.add(
                line,
                "generator",
                f"model '{record.generator}' has different metadata on line {earlier.line}",
            )
        state.meta.setdefault(index, record)
        return
    entry = state.prompts.get(record.key)
    if entry is None:
        entry = _PromptEntry(len(state.prompts), record.fingerprint, line, 0, record.category)
        state.prompts[record.key] = entry
    else:
        if entry.fingerprint != record.fingerprint:
            problems.add(
                line,
                "prompt",
                f"prompt key '{record.key}' has a different text in {_where(entry.line)}",
            )
        if record.category and record.category != entry.category:
            if entry.line and not entry.category:
                entry.category = record.category
            else:
                shown = f"'{entry.category}'" if entry.category else "no category"
                problems.add(
                    line,
                    "category",
                    f"prompt key '{record.key}' has {shown} in {_where(entry.line)}",
                )
        if not entry.seen:
            entry.seen = True
    outputs = state.outputs
    for name, text, where, name_field in record.outputs:
        index = state.generator_in_file(name, line, name_field, problems)
        if index is None:
            continue
        packed = output_slot(entry.index, index)
        fp = fingerprint(text.encode())
        value = outputs.get(packed)
        if value is None:
            outputs[packed] = fp << 34 | line << 2
        elif value >> 34 != fp:
            earlier = (value >> 2) & 0xFFFFFFFF
            problems.add(
                line,
                where,
                f"model '{name}' has a different output for prompt '{record.key}' "
                f"in {_where(earlier)}",
            )
        elif value & _STORED and not value & _SEEN:
            outputs[packed] = value | _SEEN


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )


def _write(
    source: Source, study: Study, state: _State, progress: Progress | None
) -> tuple[int, int]:
    """Write the new generators, prompts and outputs; return (comparisons wanted, existing)."""
    new_names = [n for n, i in state.generator_index.items() if state.generator_ids[i] is None]
    for generator in Generator.objects.bulk_create(
        [Generator(study=study, name=name) for name in new_names]
    ):
        state.generator_ids[state.generator_index[generator.name]] = generator.pk
    for index, meta in state.meta.items():
        changes = {k: v for k, v in (("family", meta.family), ("size", meta.size)) if v is not None}
        if changes:
            Generator.objects.filter(pk=state.generator_ids[index]).update(**changes)

    new_prompts = [e for e in state.prompts.values() if e.id == 0]
    if new_prompts:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('annotations_prompt', 'id')) "
                "FROM generate_series(1, %s)",
                [len(new_prompts)],
            )
            for entry, (pk,) in zip(new_prompts, cursor.fetchall(), strict=True):
                entry.id = pk
    now: datetime = timezone.now()
    stamp = now.isoformat()
    generator_ids = state.generator_ids
    outputs = state.outputs
    problems = Problems()
    # Prompts wait in a spool file while the outputs stream in: one COPY at a time per
    # connection, and the foreign keys are only checked at commit.
    with (
        tempfile.SpooledTemporaryFile(max_size=16 * 2**20, mode="w+", encoding="utf-8") as spool,
        raw_connection().cursor() as cursor,
    ):
        with cursor.copy(
            "COPY annotations_output (study_id, prompt_id, generator_id, text, created_at) "
            "FROM STDIN"
        ) as copy:
            for record in _records(source, problems, progress, "writing"):
                if isinstance(record, _Meta):
                    continue
                entry = state.prompts[record.key]
                line = record.line
                if entry.line == line:
                    messages = None
                    if record.messages is not None:
                        messages = json.dumps(record.messages, ensure_ascii=False)
                    spool.write(
                        "\t".join(
                            _copy_field(v)
                            for v in (
                                entry.id,
                                study.pk,
                                record.key,
                                record.text,
                                messages,
                                entry.category,
                                stamp,
                            )
                        )
                        + "\n"
                    )
                for name, text, _, _ in record.outputs:
                    index = state.generator_index[name]
                    value = outputs[output_slot(entry.index, index)]
                    if not value & _STORED and (value >> 2) & 0xFFFFFFFF == line:
                        copy.write_row((study.pk, entry.id, generator_ids[index], text, now))
        assert not problems, "the file changed between the two passes"
        spool.seek(0)
        with cursor.copy(
            "COPY annotations_prompt (id, study_id, key, text, messages, category, created_at) "
            "FROM STDIN"
        ) as copy:
            while chunk := spool.read(1 << 20):
                copy.write(chunk)
    log.info("load: wrote the prompts and outputs")
    prompt_ids = [e.id for e in state.prompts.values() if e.seen]
    return comparisons_create(study=study, prompt_ids=prompt_ids, now=now)


def prompt_set_load(
    *,
    study: Study,
    file: FileArg,
    filename: str = "",
    progress: Progress | None = None,
) -> LoadSummary:
    """Load a prompt set (JSONL in either shape, or CSV) with its outputs into `study`.

    Raises LoadError listing the problems (nothing is written) when any record is bad.
    """
    with source_open(file=file, filename=filename) as source, transaction.atomic():
        study_pairing_lock(study_id=study.pk)
        started = time.perf_counter()
        state = _State()
        _read_stored(study, state)
        log.info("load: read what is stored in %.1f s", time.perf_counter() - started)
        problems = Problems()
        count = 0
        for record in _records(source, problems, progress, "checking"):
            count += 1
            _check(record, state, problems)
        if count == 0 and not problems:
            problems.add(None, "", "the file is empty: no prompts found")
        log.info("load: checked the file in %.1f s", time.perf_counter() - started)
        problems.raise_if_any(source.filename)
        generators_existing = sum(
            1 for i in state.generators_in_file if state.generator_ids[i] is not None
        )
        wanted, existing = _write(source, study, state, progress)
        log.info("load: wrote everything in %.1f s", time.perf_counter() - started)
        prompts = [e for e in state.prompts.values() if e.seen]
        outputs_total = outputs_existing = 0
        for value in state.outputs.values():
            if value & _STORED:
                if value & _SEEN:
                    outputs_total += 1
                    outputs_existing += 1
            else:
                outputs_total += 1
        return LoadSummary(
            filename=source.filename,
            study=study.slug,
            prompts=len(prompts),
            prompts_existing=sum(1 for e in prompts if e.line == 0),
            generators=len(state.generators_in_file),
            generators_existing=generators_existing,
            outputs=outputs_total,
            outputs_existing=outputs_existing,
            comparisons=wanted,
            comparisons_existing=existing,
            # The rule as comparisons_create read it, under the lock.
            warnings=[w for w in (study_baseline_missing_message(study=study),) if w],
        )
