"""Results as downloads: the win-rate table (CSV, JSON, LaTeX), Bradley-Terry ratings and the
win matrix (CSV), and the win-rate figure (SVG, PNG, PDF).

The formats join the export registry (exports.registry) when the app is ready, so
`manage.py export --format results-csv` and `GET /api/studies/<slug>/export?format=results-csv`
work like any other export. There, results describe the whole study with the default options
(prompt-clustered bootstrap, 2,000 resamples, seed 0); the judgment filters of the other exports
do not apply and are refused. The results page offers the same files for the options it shows
(results_table_export).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from django.core.exceptions import ValidationError

from annotations.analysis.figures import FIGURE_FORMATS, results_figure_render
from annotations.exports.latex import results_latex
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
BT_COLUMNS = (
    "rank",
    "generator",
    "rating",
    "ci_low",
    "ci_high",
    "n",
    "connected",
    "baseline",
    "ci_method",
    "confidence",
    "n_judgments",
    "n_prompts",
    "n_resamples",
    # Empty until the results carry a style-controlled fit (bradley_terry_style_controlled).
    "style_controlled_rating",
    "style_controlled_ci_low",
    "style_controlled_ci_high",
)
WIN_MATRIX_COLUMNS = ("model", "opponent", "games", "wins", "ties", "losses", "win_rate")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        # Names (models, families, the baseline) are anyone's text: never a formula.
        return formula_guard(value)
    return str(value)


def _csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def results_csv(*, results: dict[str, Any]) -> str:
    """The win-rate table of a results dict as RFC 4180 CSV, one row per model."""
    rows = [
        {
            **row,
            "generator": row["name"],
            "baseline": results["baseline"],
            "confidence": results["confidence"],
        }
        for row in results["generators"]
    ]
    return _csv(WIN_RATE_COLUMNS, rows)


def bt_csv(*, results: dict[str, Any]) -> str:
    """The Bradley-Terry ratings of a results dict as CSV, one row per model, best first, with
    the style-controlled rating beside each where the results have one."""
    method = results.get("bradley_terry_method") or {}
    styled = {r["name"]: r for r in results.get("bradley_terry_style_controlled") or []}
    rows = []
    for row in results.get("bradley_terry") or []:
        style = styled.get(row["name"], {})
        rows.append(
            {
                **row,
                "generator": row["name"],
                "baseline": results["baseline"],
                "ci_method": method.get("ci", ""),
                "confidence": method.get("confidence", results.get("confidence")),
                "n_judgments": method.get("n_judgments"),
                "n_prompts": method.get("n_prompts"),
                "n_resamples": method.get("n_resamples"),
                "style_controlled_rating": style.get("rating"),
                "style_controlled_ci_low": style.get("ci_low"),
                "style_controlled_ci_high": style.get("ci_high"),
            }
        )
    return _csv(BT_COLUMNS, rows)


def win_matrix_csv(*, matrix: dict[str, Any]) -> str:
    """The win matrix as CSV: one row per ordered pair of models that met (each pair twice,
    once from each side), so a pivot on model x opponent gives the square matrix."""
    from annotations.analysis.win_matrix import win_matrix_cells

    return _csv(WIN_MATRIX_COLUMNS, win_matrix_cells(matrix))


def results_json(*, results: dict[str, Any]) -> bytes:
    """The results contract as one JSON object (UTF-8, indented)."""
    return orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n"


def _win_matrix(study: Study, results: dict[str, Any]) -> dict[str, Any]:
    from annotations.analysis.win_matrix import study_win_matrix

    return study_win_matrix(study=study, results=results)


@dataclass(frozen=True)
class _Spec:
    name: str
    extension: str
    content_type: str
    stem: str
    description: str
    render: Callable[[Study, dict[str, Any]], bytes]


# Every results format: (name, extension, media type, file-name stem, description, renderer).
_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "results-csv",
        "csv",
        "text/csv; charset=utf-8",
        "results",
        "Win rate of every model against the baseline, with 95% CIs (CSV)",
        lambda study, results: results_csv(results=results).encode(),
    ),
    _Spec(
        "results-json",
        "json",
        "application/json",
        "results",
        "All results: win rates, Bradley-Terry, breakdowns, agreement, bias (JSON)",
        lambda study, results: results_json(results=results),
    ),
    _Spec(
        "bt-csv",
        "csv",
        "text/csv; charset=utf-8",
        "bradley-terry",
        "Bradley-Terry ratings of every model with 95% CIs (CSV)",
        lambda study, results: bt_csv(results=results).encode(),
    ),
    _Spec(
        "win-matrix-csv",
        "csv",
        "text/csv; charset=utf-8",
        "win-matrix",
        "Games, wins, ties and win rate of every pair of models (CSV)",
        lambda study, results: win_matrix_csv(matrix=_win_matrix(study, results)).encode(),
    ),
    _Spec(
        "results-latex",
        "tex",
        "text/x-tex; charset=utf-8",
        "results",
        "Win rates and Bradley-Terry ratings as LaTeX booktabs tables",
        lambda study, results: results_latex(results=results).encode(),
    ),
    *(
        _Spec(
            f"figure-{fmt}",
            fmt,
            content_type,
            "win-rates",
            f"Win-rate figure with 95% CIs ({fmt.upper()})",
            lambda study, results, fmt=fmt: results_figure_render(results=results, fmt=fmt),
        )
        for fmt, content_type in FIGURE_FORMATS.items()
    ),
)
_BY_NAME = {spec.name: spec for spec in _SPECS}
# The results tables the page offers for its own options (the figures have their own URLs).
RESULTS_TABLE_FORMATS: tuple[str, ...] = tuple(
    s.name for s in _SPECS if not s.name.startswith("figure-")
)


def _one_chunk(data: bytes) -> Iterator[bytes]:
    yield data


def _export(study: Study, results: dict[str, Any], export_format: ExportFormat) -> Export:
    spec = _BY_NAME[export_format.name]
    return Export(
        format=export_format,
        filename=export_filename(study=study, stem=spec.stem, export_format=export_format),
        chunks=_one_chunk(spec.render(study, results)),
    )


def results_table_export(*, study: Study, results: dict[str, Any], format_name: str) -> Export:
    """A results table of `study` (one of RESULTS_TABLE_FORMATS) for the given results, as the
    page downloads them with its options; raises ValidationError for another name."""
    if format_name not in RESULTS_TABLE_FORMATS:
        raise ValidationError(
            {
                "download": f"unknown download {format_name!r}; choose from "
                f"{', '.join(RESULTS_TABLE_FORMATS)}"
            }
        )
    return _export(study, results, RESULTS_FORMATS_BY_NAME[format_name])


def _open(*, study: Study, filters: JudgmentFilter, export_format: ExportFormat) -> Export:
    if filters != JudgmentFilter():
        raise ValidationError(
            {"format": "results downloads cover the whole study and take no judgment filters"}
        )
    # Imported here: the statistics stack (scipy) loads only when results are asked for,
    # not at the start of every management command that registers the formats.
    from annotations.analysis.cache import study_results

    return _export(study, study_results(study=study), export_format)


RESULTS_FORMATS = tuple(
    ExportFormat(
        name=spec.name,
        extension=spec.extension,
        content_type=spec.content_type,
        description=spec.description,
        open=_open,
    )
    for spec in _SPECS
)
RESULTS_FORMATS_BY_NAME = {f.name: f for f in RESULTS_FORMATS}


def results_formats_register() -> None:
    """Add the results formats to the export registry (called when the app is ready)."""
    for export_format in RESULTS_FORMATS:
        export_format_register(export_format)
