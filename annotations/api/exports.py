"""GET /api/studies/<slug>/export: a study's exports as streamed downloads (researchers, admins)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import error_response
from annotations.api.permissions import IsResearcherOrAdmin
from annotations.errors import django_errors, error_item
from annotations.exports.registry import export_open
from annotations.models import Study
from annotations.selectors.judgment_filters import flag_parse, judgment_filter_build

SUMMARY_HEADERS = {
    "X-Export-Comparisons": lambda s: s["comparisons"],
    "X-Export-Kept": lambda s: s["kept"],
    "X-Export-Dropped-Tie": lambda s: s["dropped"]["tie"],
    "X-Export-Dropped-Split": lambda s: s["dropped"]["split"],
    "X-Export-Dropped-Both-Bad": lambda s: s["dropped"]["both_bad"],
}


class StudyExportView(APIView):
    """Stream an export of one study.

    Query parameters: `format` (judgments-csv, judgments-jsonl, dpo, hh-rlhf, and any format
    registered later), and the filters `generator`, `category`, `rater`, `exclude_rater` (each
    repeatable), `since`, `until` (ISO 8601). Training-pair formats report kept and dropped
    comparisons in X-Export-* headers. Bad parameters get 400 with
    {"detail", "errors": [{"field", "message"}]}.
    """

    permission_classes = [IsAuthenticated, IsResearcherOrAdmin]

    # The formats and their media types are filled in from the registry by the schema hook.
    @extend_schema(
        parameters=[
            OpenApiParameter("format", str, required=True),
            *(
                OpenApiParameter(name, str, many=True)
                for name in ("generator", "category", "rater", "exclude_rater")
            ),
            OpenApiParameter("since", str, description="ISO 8601 time"),
            OpenApiParameter("until", str, description="ISO 8601 time"),
            OpenApiParameter(
                "include_excluded", str, description="1: also excluded raters' judgments"
            ),
            OpenApiParameter(
                "judge", str, description="an automatic judge's verdicts instead of the humans'"
            ),
        ],
        responses={200: bytes},
    )
    def get(self, request: Request, slug: str) -> StreamingHttpResponse | Response:
        study = get_object_or_404(Study, slug=slug)
        params = request.query_params
        try:
            format_name = params.get("format")
            if not format_name:
                raise ValidationError({"format": "the format query parameter is required"})
            filters = judgment_filter_build(
                study=study,
                generators=params.getlist("generator"),
                categories=params.getlist("category"),
                raters=params.getlist("rater"),
                exclude_raters=params.getlist("exclude_rater"),
                since=params.get("since") or None,
                until=params.get("until") or None,
                include_excluded=flag_parse(params.get("include_excluded")),
                judge=params.get("judge") or "",
            )
            export = export_open(study=study, format_name=format_name, filters=filters)
        except ValidationError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, django_errors(exc))
        if export.format.admin_only and not request.user.is_admin_role:
            message = f"Only admins can download {export.format.name}."
            return error_response(status.HTTP_403_FORBIDDEN, [error_item(message)])
        response = StreamingHttpResponse(export.chunks, content_type=export.format.content_type)
        response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "no-store"
        if export.summary is not None:
            for header, value in SUMMARY_HEADERS.items():
                response[header] = str(value(export.summary))
        return response
