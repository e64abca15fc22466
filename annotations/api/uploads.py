"""Multipart uploads of prompt sets and judgments into a study (admins), answered as JSON."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import error_response, too_large_message
from annotations.api.permissions import IsAdminRole
from annotations.api.schema import LOAD_ERROR_RESPONSE
from annotations.selectors.catalog import study_get
from annotations.services.loading import LoadError, judgments_import, prompt_set_load

EXTENSIONS = {".jsonl", ".ndjson", ".json", ".csv"}


class UploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="JSONL (.jsonl) or CSV (.csv), UTF-8.")


PromptLoadOutput = inline_serializer(
    "PromptLoadSummary",
    {
        "message": serializers.CharField(),
        "filename": serializers.CharField(),
        "study": serializers.CharField(),
        **{
            name: serializers.IntegerField()
            for name in (
                "prompts",
                "prompts_existing",
                "prompts_added",
                "generators",
                "generators_existing",
                "outputs",
                "outputs_existing",
                "outputs_added",
                "comparisons",
                "comparisons_existing",
                "comparisons_added",
            )
        },
    },
)
JudgmentImportOutput = inline_serializer(
    "JudgmentImportSummary",
    {
        "message": serializers.CharField(),
        "filename": serializers.CharField(),
        "study": serializers.CharField(),
        **{
            name: serializers.IntegerField()
            for name in (
                "judgments",
                "judgments_existing",
                "judgments_added",
                "raters",
                "raters_existing",
                "comparisons_added",
            )
        },
    },
)


def _summary_json(summary: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message": str(summary), **dataclasses.asdict(summary)}
    for name in ("prompts_added", "outputs_added", "comparisons_added", "judgments_added"):
        if hasattr(summary, name):
            body[name] = getattr(summary, name)
    return body


class UploadView(APIView):
    """Base: validate the upload, run the loading service, answer with its summary or problems."""

    permission_classes = [IsAdminRole]
    parser_classes = [MultiPartParser]
    load: Any = None

    def post(self, request: Request, slug: str) -> Response:
        study = study_get(slug=slug)
        if study is None:
            raise Http404("No study with this slug.")
        data = UploadInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        if upload.size > settings.MAX_UPLOAD_BYTES:
            message = too_large_message(upload.size, settings.MAX_UPLOAD_BYTES)
            return error_response(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                [{"field": "file", "message": message}],
                max_bytes=settings.MAX_UPLOAD_BYTES,
            )
        if Path(upload.name).suffix.lower() not in EXTENSIONS:
            return error_response(
                status.HTTP_400_BAD_REQUEST,
                [{"field": "file", "message": "choose a .jsonl or .csv file"}],
            )
        try:
            summary = type(self).load(study=study, file=upload, filename=upload.name)
        except LoadError as exc:
            head = exc.render().split("\n", 1)[0]
            errors = [
                {"line": p.line, "field": p.field or None, "message": p.message} for p in exc.errors
            ]
            return error_response(status.HTTP_400_BAD_REQUEST, errors, detail=head, total=exc.total)
        return Response(_summary_json(summary))


class PromptUploadView(UploadView):
    """POST /api/studies/<slug>/prompts: load a prompt set with model outputs (admins).

    Idempotent by prompt key and model name. A bad file is refused whole with every problem's
    line number and field (the first 50; `total` counts them all) and nothing is stored.
    """

    load = staticmethod(prompt_set_load)

    @extend_schema(
        request={"multipart/form-data": UploadInput},
        responses={200: PromptLoadOutput, 400: LOAD_ERROR_RESPONSE},
    )
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)


class JudgmentUploadView(UploadView):
    """POST /api/studies/<slug>/judgments: import judgments made elsewhere (admins)."""

    load = staticmethod(judgments_import)

    @extend_schema(
        request={"multipart/form-data": UploadInput},
        responses={200: JudgmentImportOutput, 400: LOAD_ERROR_RESPONSE},
    )
    def post(self, request: Request, slug: str) -> Response:
        return super().post(request, slug)
