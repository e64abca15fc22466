"""The judgments-csv and judgments-jsonl writers: one row per judgment with its context.

Both hold one row per judgment, in canonical a/b orientation plus the order shown. The CSV is
RFC 4180 (comma separated, CRLF line ends, fields with quotes, commas or line breaks quoted,
quotes doubled), UTF-8 without a byte-order mark. Because spreadsheets run cells that begin
with = + - @ (or a tab or carriage return) as formulas, the CSV prefixes a single quote to every
free-text value that starts with one of those characters ("-1" becomes "'-1"; see
exports.spreadsheet); numbers are left alone. The JSONL holds the exact text and adds the
prompt's chat `messages`; use it when the text must round-trip.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from annotations.exports.registry import (
    Export,
    ExportFormat,
    export_filename,
    export_format_register,
    text_chunks_join,
)
from annotations.exports.spreadsheet import formula_guard
from annotations.models import Study
from annotations.selectors.judgment_filters import JudgmentFilter
from annotations.selectors.judgments import (
    judgment_columns,
    judgment_csv_groups_stream,
    judgment_groups_stream,
)
from annotations.selectors.pseudonyms import RaterPseudonyms

JSONL_CONTENT_TYPE = "application/x-ndjson; charset=utf-8"


def csv_quote(value: str) -> str:
    """One RFC 4180 field: quoted when it holds a quote, comma or line break; quotes doubled.
    (str methods instead of the csv module: it scans long text a character at a time.)"""
    if '"' in value or "," in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _csv_text(value: str) -> str:
    """A free-text field, spreadsheet-safe and quoted."""
    return csv_quote(formula_guard(value))


def _judgments_csv_lines(*, study: Study, filters: JudgmentFilter) -> Iterator[list[str]]:
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
        yield [
            f"{head},{pre}{shown[order]}{post}{raters[rater_id]}{tail}"
            for _, order, rater_id, pre, post, tail in judgments
        ]


def _judgments_csv_chunks(*, study: Study, filters: JudgmentFilter) -> Iterator[bytes]:
    header = ",".join(judgment_columns(with_messages=False)) + "\r\n"
    return text_chunks_join(_judgments_csv_lines(study=study, filters=filters), head=header)


def _json_fragment(text: str | None) -> orjson.Fragment | None:
    return None if text is None else orjson.Fragment(text)


def _json_text(value: str) -> str:
    return orjson.dumps(value).decode()


def _judgments_jsonl_lines(*, study: Study, filters: JudgmentFilter) -> Iterator[list[str]]:
    # Lines are assembled from JSON pieces instead of a dict per judgment through orjson:
    # the comparison's part once per comparison, and of each judgment only the rationale
    # needs escaping (criteria and flags are the database's JSON text, the rest are numbers
    # or ASCII without quotes). Same bytes as orjson.dumps of the whole record.
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
        lines = []
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
            lines.append(
                f'{head}{preference},"strength":{strength},"outcome":"{outcome}",'
                f'"both_bad":{"true" if both_bad else "false"}{shown[outcome][left_is_a]}'
                f'{criteria},"flags":{flags},'
                f'"rationale":{_json_text(rationale) if rationale else empty},'
                f'"rater":"{raters[rater_id]}",'
                f'"duration_ms":{"null" if duration_ms is None else duration_ms},'
                f'"created_at":"{created_at}","source":{source_json}}}\n'
            )
        yield lines


def _judgments_jsonl_chunks(*, study: Study, filters: JudgmentFilter) -> Iterator[bytes]:
    return text_chunks_join(_judgments_jsonl_lines(study=study, filters=filters))


def _open_judgments(
    *, study: Study, filters: JudgmentFilter, export_format: ExportFormat
) -> Export:
    write = _judgments_csv_chunks if export_format.extension == "csv" else _judgments_jsonl_chunks
    return Export(
        format=export_format,
        filename=export_filename(study=study, stem="judgments", export_format=export_format),
        chunks=write(study=study, filters=filters),
    )


JUDGMENT_FORMATS = (
    ExportFormat(
        name="judgments-csv",
        extension="csv",
        content_type="text/csv; charset=utf-8",
        description="Every judgment with its context (CSV, spreadsheet-safe)",
        open=_open_judgments,
    ),
    ExportFormat(
        name="judgments-jsonl",
        extension="jsonl",
        content_type=JSONL_CONTENT_TYPE,
        description="Every judgment with its context (JSON Lines, exact text)",
        open=_open_judgments,
    ),
)

for _format in JUDGMENT_FORMATS:
    export_format_register(_format)
