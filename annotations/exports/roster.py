"""The raters-csv writer: the study's roster with platform ids, for approving and paying."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.core.exceptions import ValidationError

from annotations.exports.judgments import csv_quote
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
from annotations.selectors.roster import ROSTER_ADMIN_FIELDS, ROSTER_FIELDS, roster_stream

COLUMNS = ("rater", *ROSTER_ADMIN_FIELDS, *ROSTER_FIELDS[1:])


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    return csv_quote(formula_guard(str(value)))


def _lines(*, study: Study) -> Iterator[list[str]]:
    for row in roster_stream(study=study):
        yield [",".join(_cell(row[name]) for name in COLUMNS) + "\r\n"]


def _open_roster(*, study: Study, filters: JudgmentFilter, export_format: ExportFormat) -> Export:
    if filters != JudgmentFilter(described=filters.described):
        # The roster is every rater's row; a judgment filter would silently mean nothing here.
        raise ValidationError({"format": "raters-csv takes no judgment filters"})
    return Export(
        format=export_format,
        filename=export_filename(study=study, stem="raters", export_format=export_format),
        chunks=text_chunks_join(_lines(study=study), head=",".join(COLUMNS) + "\r\n"),
    )


RATERS_CSV = export_format_register(
    ExportFormat(
        name="raters-csv",
        extension="csv",
        content_type="text/csv; charset=utf-8",
        description="One row per rater with judged, skipped, time, completion and platform ids "
        "(admins only)",
        open=_open_roster,
        admin_only=True,
    )
)
