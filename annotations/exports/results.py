"""Results as downloads: the win-rate table (CSV, JSON) and the figure (SVG, PNG, PDF).

The formats join the export registry (exports.registry) when the app is ready, so
`manage.py export --format results-csv` and `GET /api/studies/<slug>/export?format=results-csv`
work like any other export. Results describe the whole study with the default options
(prompt-clustered bootstrap, 2,000 resamples, seed 0); the judgment filters of the other exports
do not apply and are refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
from django.core.exceptions import ValidationError

from annotations.analysis.figures import FIGURE_FORMATS, results_figure_render
from annotations.exports.registry import (
    Export,
    ExportFormat,
    export_filename,
    export_format_register,
)
from annotations.exports.spreadsheet import formula_guard
from annotations.models import Study
from annotations.selectors.judgment_filters import JudgmentFilter

WIN_RATE_COLUMNS = (
    "generator",
    "family",
    "size",
    "baseline",
    "n",
    "wins",
    "ties",
    "losses",
    "both_bad",
    "win_rate",
    "win_rate_no_ties",
    "ci_low",
    "ci_high",
    "confidence",
    "method",
    "p_value",
    "n_prompts",
    "n_resamples",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def results_csv(*, results: dict[str, Any]) -> str:
    """The win-rate table of a results dict as RFC 4180 CSV, one row per model."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(WIN_RATE_COLUMNS)
    for row in results["generators"]:
        values = {
            **row,
            "generator": formula_guard(row["name"]),
            "baseline": results["baseline"],
            "confidence": results["confidence"],
        }
        writer.writerow([_cell(values.get(column)) for column in WIN_RATE_COLUMNS])
    return out.getvalue()


def results_json(*, results: dict[str, Any]) -> bytes:
    """The results contract as one JSON object (UTF-8, indented)."""
    return orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n"


def _refuse_filters(filters: JudgmentFilter) -> None:
    if filters != JudgmentFilter():
        raise ValidationError(
            {"format": "results downloads cover the whole study and take no judgment filters"}
        )


def _one_chunk(data: bytes) -> Iterator[bytes]:
    yield data


def _open(kind: str) -> Any:
    def open_export(
        *, study: Study, filters: JudgmentFilter, export_format: ExportFormat
    ) -> Export:
        _refuse_filters(filters)
        # Imported here: the statistics stack (scipy) loads only when results are asked for,
        # not at the start of every management command that registers the formats.
        from annotations.analysis.cache import study_results

        results = study_results(study=study)
        if kind == "csv":
            data = results_csv(results=results).encode()
        elif kind == "json":
            data = results_json(results=results)
        else:
            data = results_figure_render(results=results, fmt=kind)
        stem = "results" if kind in ("csv", "json") else "win-rates"
        return Export(
            format=export_format,
            filename=export_filename(study=study, stem=stem, export_format=export_format),
            chunks=_one_chunk(data),
        )

    return open_export


# (name, kind, media type, description) of each results format; the file extension is the kind.
_RESULTS_FORMAT_SPECS = (
    (
        "results-csv",
        "csv",
        "text/csv; charset=utf-8",
        "Win rate of every model against the baseline, with 95% CIs (CSV)",
    ),
    (
        "results-json",
        "json",
        "application/json",
        "All results: win rates, Bradley-Terry, breakdowns, agreement, bias (JSON)",
    ),
    *(
        (f"figure-{fmt}", fmt, content_type, f"Win-rate figure with 95% CIs ({fmt.upper()})")
        for fmt, content_type in FIGURE_FORMATS.items()
    ),
)

RESULTS_FORMATS = tuple(
    ExportFormat(
        name=name,
        extension=kind,
        content_type=content_type,
        description=description,
        open=_open(kind),
    )
    for name, kind, content_type, description in _RESULTS_FORMAT_SPECS
)


def results_formats_register() -> None:
    """Add the results formats to the export registry (called when the app is ready)."""
    for export_format in RESULTS_FORMATS:
        export_format_register(export_format)
