"""The export registry: Export, ExportFormat, registering and opening a format, file names."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from annotations.models import Study
from annotations.selectors.judgment_filters import JudgmentFilter

# Target size of one streamed chunk: big enough for throughput, small enough that the first
# bytes leave at once and memory stays flat.
CHUNK_BYTES = 64 * 1024


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
    # Names people (usernames, platform ids): only admins may download it.
    admin_only: bool = False


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


def export_filename(*, study: Study, stem: str, export_format: ExportFormat) -> str:
    """The download's file name: `<study slug>-<stem>.<extension>`."""
    return f"{study.slug}-{stem}.{export_format.extension}"


def text_chunks_join(groups: Iterable[list[str]], *, head: str = "") -> Iterator[bytes]:
    """UTF-8 chunks of about CHUNK_BYTES from `head` and groups of text lines, a group never
    split (one comparison's lines leave together)."""
    pending = [head] if head else []
    size = len(head)
    for lines in groups:
        pending += lines
        size += sum(map(len, lines))
        if size >= CHUNK_BYTES:
            yield "".join(pending).encode()
            pending, size = [], 0
    if pending:
        yield "".join(pending).encode()


# The judgment and training-pair formats register on import, in the order the download page
# lists them; importing them here makes every importer of the registry see them. (They import
# this module: by now every name above exists.)
from annotations.exports import judgments, quality, roster, training  # noqa: E402, F401
