"""Multipart uploads of prompt sets and judgments into a study (admins), answered as JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import error_response
from annotations.api.permissions import IsAdminRole
from annotations.api.schema import LOAD_ERROR_RESPONSE, PROMPT_LOAD_WARNINGS
from annotations.errors import too_large_message
from annotations.selectors.catalog import study_get
from annotations.services.loading import LoadError, judgments_import, prompt_set_load
from annotations.services.loading.gold import gold_load
from annotations.services.loading.uploads import FILE_TYPE_MESSAGE, upload_limit, upload_refusal


class UploadInput(serializers.Serializer):
    file = serializers.FileField(help_text="JSONL (.jsonl) or CSV (.csv), UTF-8.")


class JudgmentUploadInput(UploadInput):
    judge = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="The verdicts are this automatic judge's (an LLM); omit for human raters.",
    )


def _summary_output(name: str, counts: tuple[str, ...], **extra: Any) -> Any:
    """The schema of a loading summary: its message, file, study, whole-number counts, `extra`."""
    text = {field: serializers.CharField() for field in ("message", "filename", "study")}
    fields = {**text, **{n: serializers.IntegerField() for n in counts}, **extra}
    return inline_serializer(name, fields)


PromptLoadOutput = _summary_output(
    "PromptLoadSummary",
    (
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
    ),
    warnings=serializers.ListField(child=serializers.CharField(), help_text=PROMPT_LOAD_WARNINGS),
)
JudgmentImportOutput = _summary_output(
    "JudgmentImportSummary",
    (
        "judgments",
        "judgments_existing",
        "judgments_added",
        "raters",
        "raters_existing",
        "comparisons_added",
    ),
    judge=serializers.CharField(help_text="The automatic judge, or empty for human raters."),
)

GoldLoadOutput = _summary_output("GoldLoadSummary", ("items", "items_existing", "items_added"))


# The summaries' computed counts, which dataclasses.asdict leaves out.
_ADDED = ("prompts_added", "outputs_added", "comparisons_added", "judgments_added", "items_added")


def _summary_json(summary: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"message": str(summary), **dataclasses.asdict(summary)}
    added = (
        "prompts_added",
        "outputs_added",
        "comparisons_added",
        "judgments_added",
        "items_added",
    )
    for name in added:
        if hasattr(summary, name):
            body[name] = getattr(summary, name)
    return body


class UploadView(APIView):
    """Base: validate the upload, run the loading service, answer with its summary or problems."""

    permission_classes = [IsAdminRole]
    parser_classes = [MultiPartParser]
    load: Any = None
    input: type[UploadInput] = UploadInput

    def post(self, request: Request, slug: str) -> Response:
        study = study_get(slug=slug)
        if study is None:
            raise Http404("No study with this slug.")
        data = type(self).input(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        extra = {k: v for k, v in data.validated_data.items() if k != "file" and v}
        refusal = upload_refusal(name=upload.name, size=upload.size)
        if refusal == "too_large":
            message = too_large_message(upload.size, upload_limit())
            return error_response(
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                [{"field": "file", "message": message}],
                max_bytes=upload_limit(),
            )
        if refusal == "file_type":
            return error_response(
                status.HTTP_400_BAD_REQUEST, [{"field": "file", "message": FILE_TYPE_MESSAGE}]
            )
        try:
            summary = type(self).load(study=study, file=upload, filename=upload.name, **extra)
        except ValueError as exc:  # a bad option of the service (a judge's name)
            return error_response(
                status.HTTP_400_BAD_REQUEST, [{"field": "judge", "message": str(exc)}]
            )
        except LoadError as exc:
            head = exc.render().split("\n", 1)[0]
            errors = [
                {"line": p.line, "field": p.field or None, "message": p.message} for p in exc.errors
            ]
            return error_response(status.HTTP_400_BAD_REQUEST, errors, detail=head, total=exc.total)
        return Response(_summary_json(summary))


def _upload_schema(output: Any, data: type[UploadInput] = UploadInput) -> Any:
    """The OpenAPI description of an upload view's POST answering `output` on success."""
    return extend_schema_view(
        post=extend_schema(
            request={"multipart/form-data": data},
            responses={200: output, 400: LOAD_ERROR_RESPONSE},
        )
    )


@_upload_schema(PromptLoadOutput)
class PromptUploadView(UploadView):
    """POST /api/studies/<slug>/prompts: load a prompt set with model outputs (admins).

    Idempotent by prompt key and model name. A bad file is refused whole with every problem's
    line number and field (the first 50; `total` counts them all) and nothing is stored.
    """

    load = staticmethod(prompt_set_load)


@_upload_schema(JudgmentImportOutput, JudgmentUploadInput)
class JudgmentUploadView(UploadView):
    """POST /api/studies/<slug>/judgments: import judgments made elsewhere (admins); with
    `judge`, an automatic judge's verdicts, kept apart from the human raters'."""

    load = staticmethod(judgments_import)
    input = JudgmentUploadInput


@_upload_schema(GoldLoadOutput)
class GoldUploadView(UploadView):
    """POST /api/studies/<slug>/gold: load gold pairs, control items with a known answer
    (admins): key, better, worse (two loaded outputs) or key, prompt, better_output,
    worse_output (an attention check of its own)."""

    load = staticmethod(gold_load)
