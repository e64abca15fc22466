"""Streaming export writers: one registry of formats, each a generator of byte chunks.

Formats
-------
judgments-csv, judgments-jsonl
    One row per judgment, in canonical a/b orientation plus the order shown. The CSV is
    RFC 4180 (comma separated, CRLF line ends, fields with quotes, commas or line breaks quoted,
    quotes doubled), UTF-8 without a byte-order mark. Because spreadsheets run cells that begin
    with = + - @ (or a tab or carriage return) as formulas, the CSV prefixes a single quote to
    every free-text value that starts with one of those characters ("-1" becomes "'-1"); numbers
    are left alone. The JSONL holds the exact text and adds the prompt's chat `messages`; use it
    when the text must round-trip.

dpo, hh-rlhf
    One record per comparison that has a majority verdict (see comparison_verdict): `dpo` in
    TRL's preference format ({"prompt", "chosen", "rejected"}; when the study has chat prompts,
    the conversational form: "prompt" is the message list and chosen/rejected are
    [{"role": "assistant", "content": ...}], plain prompts becoming one user message so the
    column keeps one type); `hh-rlhf` in Anthropic's transcript format
    ({"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...", "rejected": ...}). Both add metadata
    under `meta_`-prefixed keys (meta_prompt_key, meta_chosen_generator,
    meta_rejected_generator, meta_votes), which no trainer reads as data.
    How many comparisons were kept and dropped, and why, is in Export.summary, computed before
    the first byte streams; the command prints it to stderr (and a `<file>.summary.json`
    sidecar) and the API sends it as X-Export-* headers. The data file holds records only, so
    `datasets.load_dataset("json", ...)` reads it as it is.

Adding a format: build an ExportFormat whose `open(study=..., filters=...)` returns an Export,
and pass it to export_format_register; the command, the API and the download buttons pick it up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from django.core.exceptions import ValidationError

from annotations.models import Study
from annotations.selectors.judgments import (
    FORMULA_PREFIXES,
    JudgmentFilter,
    RaterPseudonyms,
    Votes,
    comparison_vote_patterns,
    comparison_vote_rows_stream,
    judgment_columns,
    judgment_csv_groups_stream,
    judgment_groups_stream,
    study_has_chat_prompts,
)

# Target size of one streamed chunk: big enough for throughput, small enough that the first
# bytes leave at once and memory stays flat.
CHUNK_BYTES = 64 * 1024

VERDICT_KEPT = ("a", "b")
DROP_REASONS = ("tie", "split", "both_bad")


@dataclass
class Export:
    """An export ready to stream: iterate `chunks` once; `summary` is known before streaming."""

    format: ExportFormat
    filename: str
    chunks: Iterator[bytes]
    summary: dict[str, Any] | None = None


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str
    content_type: str
    description: str
    open: Callable[..., Export] = field(repr=False)


EXPORT_FORMATS: dict[str, ExportFormat] = {}


def export_format_register(export_format: ExportFormat) -> ExportFormat:
    """Add (or replace) a format in the registry used by the command, the API and the page."""
    EXPORT_FORMATS[export_format.name] = export_format
    return export_format


def export_open(*, study: Study, format_name: str, filters: JudgmentFilter) -> Export:
    """Prepare an export of `study` in `format_name`; raises ValidationError for an unknown
    format. Nothing is read until the chunks are iterated, except a training-pair summary."""
    export_format = EXPORT_FORMATS.get(format_name)
    if export_format is None:
        raise ValidationError(
            {
                "format": f"unknown export format {format_name!r}; choose from "
                f"{', '.join(EXPORT_FORMATS)}"
            }
        )
    return export_format.open(study=study, filters=filters, export_format=export_format)


def _filename(study: Study, stem: str, export_format: ExportFormat) -> str:
    return f"{study.slug}-{stem}.{export_format.extension}"


# ---------------------------------------------------------------------------------------------
# Judgments
# ---------------------------------------------------------------------------------------------


def _csv_quote(value: str) -> str:
    """One RFC 4180 field: quoted when it holds a quote, comma or line break; quotes doubled.
    (str methods instead of the csv module: it scans long text a character at a time.)"""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_text(value: str) -> str:
    """A free-text field, spreadsheet-safe (see the module docstring) and quoted."""
    if value.startswith(FORMULA_PREFIXES):
        value = "'" + value
    return _csv_quote(value)


def _judgments_csv_chunks(*, study: Study, filters: JudgmentFilter) -> Iterator[bytes]:
    pending = [",".join(judgment_columns(with_messages=False)) + "\r\n"]
    size = len(pending[0])
    slug = _csv_text(study.slug)
    text = _csv_text
    raters = RaterPseudonyms(study_id=study.pk)
    # The database renders each judgment's own fields (judgment_csv_groups_stream); what
    # depends on the comparison is rendered here once per comparison.
    for context, judgments in judgment_csv_groups_stream(study=study, filters=filters):
        _, key, prompt, category, generator_a, generator_b, output_a, output_b = context
        name_a, name_b = text(generator_a), text(generator_b)
        head = ",".join(
            (
                slug,
                text(key),
                text(prompt),
                text(category),
                name_a,
                name_b,
                text(output_a),
                text(output_b),
            )
        )
        # "winner,left_is_a,left,right," by 2 * (sign(preference) + 1) + left_is_a.
        shown = (
            f"{name_b},False,{name_b},{name_a},",
            f"{name_b},True,{name_a},{name_b},",
            f",False,{name_b},{name_a},",
            f",True,{name_a},{name_b},",
            f"{name_a},False,{name_b},{name_a},",
            f"{name_a},True,{name_a},{name_b},",
        )
        for _, order, rater_id, pre, post, tail in judgments:
            line = f"{head},{pre}{shown[order]}{post}{raters[rater_id]}{tail}"
            pending.append(line)
            size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(pending).encode()
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode()


def _json_fragment(text: str | None) -> orjson.Fragment | None:
    return None if text is None else orjson.Fragment(text)


def _json_text(value: str) -> str:
    return orjson.dumps(value).decode()


def _judgments_jsonl_chunks(*, study: Study, filters: JudgmentFilter) -> Iterator[bytes]:
    # Lines are assembled from JSON pieces instead of a dict per judgment through orjson:
    # the comparison's part once per comparison, and of each judgment only the rationale
    # needs escaping (criteria and flags are the database's JSON text, the rest are numbers
    # or ASCII without quotes). Same bytes as orjson.dumps of the whole record.
    pending: list[str] = []
    size = 0
    raters = RaterPseudonyms(study_id=study.pk)
    sources: dict[str, str] = {}
    empty = '""'
    for context, judgments in judgment_groups_stream(
        study=study, filters=filters, with_messages=True
    ):
        _, key, prompt, messages, category, generator_a, generator_b, output_a, output_b = context
        # The comparison's part of every line: '{"study":...,"output_b":"...",'
        head = (
            orjson.dumps(
                {
                    "study": study.slug,
                    "prompt_key": key,
                    "prompt": prompt,
                    "messages": _json_fragment(messages),
                    "category": category,
                    "generator_a": generator_a,
                    "generator_b": generator_b,
                    "output_a": output_a,
                    "output_b": output_b,
                }
            )[:-1].decode()
            + ',"preference":'
        )
        name_a, name_b = _json_text(generator_a), _json_text(generator_b)
        winners = {"a": name_a, "b": name_b, "tie": '""'}
        # '"winner_generator":...,"criteria":' by outcome, then by left_is_a (False, True).
        shown = {
            outcome: (
                f',"winner_generator":{winner},"left_is_a":false,'
                f'"left_generator":{name_b},"right_generator":{name_a},"criteria":',
                f',"winner_generator":{winner},"left_is_a":true,'
                f'"left_generator":{name_a},"right_generator":{name_b},"criteria":',
            )
            for outcome, winner in winners.items()
        }
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
            source_json = sources.get(source)
            if source_json is None:
                source_json = sources[source] = _json_text(source)
            line = (
                f'{head}{preference},"strength":{strength},"outcome":"{outcome}",'
                f'"both_bad":{"true" if both_bad else "false"}{shown[outcome][left_is_a]}'
                f'{criteria},"flags":{flags},'
                f'"rationale":{_json_text(rationale) if rationale else empty},'
                f'"rater":"{raters[rater_id]}",'
                f'"duration_ms":{"null" if duration_ms is None else duration_ms},'
                f'"created_at":"{created_at}","source":{source_json}}}\n'
            )
            pending.append(line)
            size += len(line)
        if size >= CHUNK_BYTES:
            yield "".join(pending).encode()
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode()


def _open_judgments_csv(
    *, study: Study, filters: JudgmentFilter, export_format: ExportFormat
) -> Export:
    return Export(
        format=export_format,
        filename=_filename(study, "judgments", export_format),
        chunks=_judgments_csv_chunks(study=study, filters=filters),
    )


def _open_judgments_jsonl(
    *, study: Study, filters: JudgmentFilter, export_format: ExportFormat
) -> Export:
    return Export(
        format=export_format,
        filename=_filename(study, "judgments", export_format),
        chunks=_judgments_jsonl_chunks(study=study, filters=filters),
    )


# ---------------------------------------------------------------------------------------------
# Training pairs
# ---------------------------------------------------------------------------------------------


def comparison_verdict(*, votes: Votes) -> str:
    """The majority verdict of one comparison: "a" or "b" (kept), or why it is dropped.

    Over the n judgments of the comparison (after the export's filters), with A and B the
    judgments preferring output a / output b, T the ties and X the "both are bad" answers
    (n = A + B + T + X):

    - "a" when A > n/2, "b" when B > n/2: a strict majority of all judgments, ties included,
      prefers that side (2-1 is kept; 2-1-1 over four judgments is not);
    - "both_bad" when X > n/2;
    - "tie" when T + X > n/2 (ties, counting both-bad as ties, form the majority, including
      all-tie comparisons);
    - "split" otherwise: no strict majority for either side nor for ties (1-1, 1-1-1).
    """
    n = votes.total
    if 2 * votes.a > n:
        return "a"
    if 2 * votes.b > n:
        return "b"
    if 2 * votes.both_bad > n:
        return "both_bad"
    if 2 * (votes.tie + votes.both_bad) > n:
        return "tie"
    return "split"


def training_pair_summary(
    *, patterns: Iterable[tuple[Votes, int]], study: Study, export_format: str
) -> dict[str, Any]:
    """Kept and dropped comparison counts from vote patterns (Votes -> number of comparisons)."""
    dropped = dict.fromkeys(DROP_REASONS, 0)
    kept = total = 0
    for votes, count in patterns:
        total += count
        verdict = comparison_verdict(votes=votes)
        if verdict in VERDICT_KEPT:
            kept += count
        else:
            dropped[verdict] += count
    return {
        "study": study.slug,
        "format": export_format,
        "comparisons": total,
        "kept": kept,
        "dropped": dropped,
        "rule": "kept when a strict majority of a comparison's judgments prefers one output; "
        "dropped as both_bad when most answered both-bad, as tie when ties (both-bad "
        "included) are the majority, as split when nothing has a strict majority",
    }


def _hh_transcript(prompt: str, messages_json: str | None) -> str:
    """A prompt as Anthropic HH-RLHF turns.

    A chat prompt is rendered turn by turn: assistant messages as "Assistant:", every other
    role as "Human:". System messages before the first turn become a preamble ahead of the
    first "\\n\\nHuman:", where Anthropic's text-completion prompts put a system prompt; a
    system message later on is shown as a Human turn.
    """
    if messages_json is None:
        return "\n\nHuman: " + prompt
    messages = orjson.loads(messages_json)
    preamble: list[str] = []
    turns: list[str] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        content = content if isinstance(content, str) else orjson.dumps(content).decode()
        if role == "system" and not turns:
            preamble.append(content)
            continue
        label = "Assistant" if role == "assistant" else "Human"
        turns.append(f"\n\n{label}: {content}")
    return "\n\n".join(preamble) + "".join(turns)


def _training_pair_chunks(
    *, study: Study, filters: JudgmentFilter, hh: bool, conversational: bool
) -> Iterator[bytes]:
    dumps = orjson.dumps
    pending: list[bytes] = []
    size = 0
    for batch in comparison_vote_rows_stream(study=study, filters=filters):
        for (
            _comparison_id,
            key,
            prompt,
            messages,
            generator_a,
            generator_b,
            output_a,
            output_b,
            a,
            b,
            tie,
            both_bad,
        ) in batch:
            votes = Votes(a, b, tie, both_bad)
            verdict = comparison_verdict(votes=votes)
            if verdict not in VERDICT_KEPT:
                continue
            if verdict == "a":
                chosen, rejected, chosen_votes, rejected_votes = output_a, output_b, a, b
                chosen_by, rejected_by = generator_a, generator_b
            else:
                chosen, rejected, chosen_votes, rejected_votes = output_b, output_a, b, a
                chosen_by, rejected_by = generator_b, generator_a
            if hh:
                transcript = _hh_transcript(prompt, messages)
                record: dict[str, Any] = {
                    "chosen": f"{transcript}\n\nAssistant: {chosen}",
                    "rejected": f"{transcript}\n\nAssistant: {rejected}",
                }
            elif conversational:
                record = {
                    "prompt": orjson.Fragment(messages)
                    if messages is not None
                    else [{"role": "user", "content": prompt}],
                    "chosen": [{"role": "assistant", "content": chosen}],
                    "rejected": [{"role": "assistant", "content": rejected}],
                }
            else:
                record = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
            record["meta_prompt_key"] = key
            record["meta_chosen_generator"] = chosen_by
            record["meta_rejected_generator"] = rejected_by
            record["meta_votes"] = {
                "chosen": chosen_votes,
                "rejected": rejected_votes,
                "tie": tie,
                "both_bad": both_bad,
            }
            line = dumps(record, option=orjson.OPT_APPEND_NEWLINE)
            pending.append(line)
            size += len(line)
            if size >= CHUNK_BYTES:
                yield b"".join(pending)
                pending, size = [], 0
    if pending:
        yield b"".join(pending)


def _open_training_pairs(
    *, study: Study, filters: JudgmentFilter, export_format: ExportFormat, hh: bool
) -> Export:
    patterns, max_id = comparison_vote_patterns(study=study, filters=filters)
    summary = training_pair_summary(
        patterns=patterns, study=study, export_format=export_format.name
    )
    if filters.described:
        summary["filters"] = filters.described
    if max_id is None:
        chunks: Iterator[bytes] = iter(())
    else:
        chunks = _training_pair_chunks(
            study=study,
            filters=replace(filters, max_judgment_id=max_id),
            hh=hh,
            conversational=not hh and study_has_chat_prompts(study=study),
        )
    stem = "hh-rlhf" if hh else "dpo"
    return Export(
        format=export_format,
        filename=_filename(study, stem, export_format),
        chunks=chunks,
        summary=summary,
    )


def _open_dpo(*, study: Study, filters: JudgmentFilter, export_format: ExportFormat) -> Export:
    return _open_training_pairs(study=study, filters=filters, export_format=export_format, hh=False)


def _open_hh(*, study: Study, filters: JudgmentFilter, export_format: ExportFormat) -> Export:
    return _open_training_pairs(study=study, filters=filters, export_format=export_format, hh=True)


_JSONL = "application/x-ndjson; charset=utf-8"

for _format in (
    ExportFormat(
        name="judgments-csv",
        extension="csv",
        content_type="text/csv; charset=utf-8",
        description="Every judgment with its context (CSV, spreadsheet-safe)",
        open=_open_judgments_csv,
    ),
    ExportFormat(
        name="judgments-jsonl",
        extension="jsonl",
        content_type=_JSONL,
        description="Every judgment with its context (JSON Lines, exact text)",
        open=_open_judgments_jsonl,
    ),
    ExportFormat(
        name="dpo",
        extension="jsonl",
        content_type=_JSONL,
        description="Majority-vote preference pairs in TRL's prompt/chosen/rejected format",
        open=_open_dpo,
    ),
    ExportFormat(
        name="hh-rlhf",
        extension="jsonl",
        content_type=_JSONL,
        description="Majority-vote preference pairs as Anthropic HH-RLHF transcripts",
        open=_open_hh,
    ),
):
    export_format_register(_format)
