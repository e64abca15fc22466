"""The qc export: every control item served (gold pairs, swapped repeats) with the answer,
for researchers. Control items are never judgments, so no other export holds them."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
from django.core.exceptions import ValidationError

from annotations.exports.registry import (
    Export,
    ExportFormat,
    export_filename,
    export_format_register,
    text_chunks_join,
)
from annotations.models import Study
from annotations.selectors.judgment_filters import JudgmentFilter
from annotations.selectors.quality import control_checks_stream


def _lines(*, study: Study) -> Iterator[list[str]]:
    for record in control_checks_stream(study=study):
        yield [orjson.dumps(record).decode() + "\n"]


def _open_qc(*, study: Study, filters: JudgmentFilter, export_format: ExportFormat) -> Export:
    if filters != JudgmentFilter(described=filters.described):
        raise ValidationError({"format": "qc takes no judgment filters"})
    return Export(
        format=export_format,
        filename=export_filename(study=study, stem="qc", export_format=export_format),
        chunks=text_chunks_join(_lines(study=study)),
    )


QC = export_format_register(
    ExportFormat(
        name="qc",
        extension="jsonl",
        content_type="application/x-ndjson; charset=utf-8",
        description="Control items (gold pairs, swapped repeats) served to raters, with their "
        "answers and whether they were right or consistent; never part of the other exports",
        open=_open_qc,
    )
)
