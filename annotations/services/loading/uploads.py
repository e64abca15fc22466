"""Which uploaded files the loaders take (name extension, size limit), for the admin and the API."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from django.conf import settings

from annotations.services.loading.reading import CSV_SUFFIXES, JSONL_SUFFIXES

UPLOAD_SUFFIXES = JSONL_SUFFIXES | CSV_SUFFIXES
FILE_TYPE_MESSAGE = "choose a .jsonl or .csv file"

Refusal = Literal["too_large", "file_type"]


def upload_limit() -> int:
    """The largest upload in bytes (settings.MAX_UPLOAD_BYTES); larger files go by command."""
    return settings.MAX_UPLOAD_BYTES


def upload_refusal(*, name: str, size: int) -> Refusal | None:
    """Why an uploaded file is refused before it is read (size first, then type), or None."""
    if size > upload_limit():
        return "too_large"
    if Path(name).suffix.lower() not in UPLOAD_SUFFIXES:
        return "file_type"
    return None
