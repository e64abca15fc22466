"""The raters-csv writer: the study's roster with platform ids and quality signals, for approving
and paying."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder

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
from annotations.selectors.roster import (
    QUALITY_FIELDS,
    ROSTER_ADMIN_FIELDS,
    ROSTER_FIELDS,
    roster_stream,
    study_quality_thresholds,
)

COLUMNS = ("rater", *ROSTER_ADMIN_FIELDS, *ROSTER_FIELDS[1:], *QUALITY_FIELDS)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):  # the reasons of a flag
        return csv_quote(";".join(value))
    return csv_quote(formula_guard(str(value)))


def _lines(*, study: Study) -> Iterator[list[str]]:
    for row in roster_stream(study=study):
        yield [",".join(_cell(row[name]) for name in COLUMNS) + "\r\n"]


def roster_csv(*, study: Study) -> Iterator[str]:
    """The raters-csv file, line by line."""
    yield ",".join(COLUMNS) + "\r\n"
    for line in _lines(study=study):
        yield line[0]


def roster_json(*, study: Study) -> str:
    """Every roster row as a JSON array (admin fields included)."""
    rows = list(roster_stream(study=study))
    return json.dumps(rows, cls=DjangoJSONEncoder, indent=2) + "\n"


def _share(value: float | None, n: int) -> str:
    return "-" if value is None else f"{100 * value:.0f}% ({n})"


def _table_cells(row: dict[str, Any]) -> list[str]:
    p = row["left_p_value"]
    return [
        row["rater"],
        row["username"],
        str(row["judged"]),
        _share(row["agreement"], row["agreement_n"]),
        _share(row["left_share"], row["left_n"])
        + ("" if p is None else " p<0.001" if p < 0.001 else f" p={p:.3f}"),
        "-" if row["median_seconds"] is None else f"{row['median_seconds']:.1f}",
        _share(row["too_fast_share"], row["timed_n"]),
        str(row["longest_streak"]),
        f"{row['outlier_score']:.3g} ({row['outlier_n']})",
        ",".join(row["reasons"]),
    ]


def roster_table(*, study: Study) -> str:
    """The roster's quality signals as text for a terminal, with the thresholds below."""
    headers = ["Rater", "User", "Judged", "Agree (n)", "Left (n)", "Median s", "Too fast (n)"]
    headers += ["Streak", "Outlier e (n)", "Flags"]
    rows = [_table_cells(row) for row in roster_stream(study=study)]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        for cells in [headers, ["-" * w for w in widths], *rows]
    ]
    lines += ["", "Flagged when:"]
    lines += [
        f"  {reason}: {rule}" for reason, rule in study_quality_thresholds(study=study).describe()
    ]
    return "\n".join(lines) + "\n"


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
        description="One row per rater with judged, skipped, time, completion, platform ids "
        "and quality signals (admins only)",
        open=_open_roster,
        admin_only=True,
    )
)
