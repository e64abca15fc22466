"""GET /api/studies/<slug>/results: a study's results as JSON (researchers and admins)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.analysis.cache import study_results
from annotations.analysis.options import (
    BT_CI_METHODS,
    MAX_RESAMPLES,
    METHODS,
    MIN_RESAMPLES,
    results_query_parse,
)
from annotations.api.errors import error_response
from annotations.api.permissions import IsResearcherOrAdmin
from annotations.errors import django_errors
from annotations.models import JudgmentSource, Study


class StudyResultsView(APIView):
    """Win rates against the baseline with CIs, Bradley-Terry ratings, breakdowns, agreement,
    position bias and raters, in the contract of `manage.py results --format json`.

    Query parameters: `baseline` (a model name; default the study's), `method` (bootstrap,
    wilson, cluster), `resamples` (100-10000), `seed`, `bt_ci` (the Bradley-Terry interval:
    bootstrap or sandwich), and the filters `category`, `since`, `until` (a date or an ISO 8601
    time; both inclusive), `source` (web, import) and `criterion` (results on that criterion's
    verdict). Bad values get 400 with {"detail", "errors": [{"field", "message"}]}.
    """

    permission_classes = [IsAuthenticated, IsResearcherOrAdmin]

    @extend_schema(
        parameters=[
            OpenApiParameter("baseline", str, description="A model name; default the study's."),
            OpenApiParameter("method", str, enum=list(METHODS)),
            OpenApiParameter("resamples", int, description=f"{MIN_RESAMPLES}-{MAX_RESAMPLES}"),
            OpenApiParameter("seed", int),
            OpenApiParameter("bt_ci", str, enum=list(BT_CI_METHODS)),
            OpenApiParameter(
                "category", str, description='A prompt category; "(none)": prompts without one.'
            ),
            OpenApiParameter(
                "since", str, description="Judged at or after: YYYY-MM-DD or an ISO 8601 time."
            ),
            OpenApiParameter(
                "until", str, description="Judged at or before: YYYY-MM-DD (through that day)."
            ),
            OpenApiParameter("source", str, enum=list(JudgmentSource.values)),
            OpenApiParameter(
                "criterion",
                str,
                description="Results on this criterion's verdict; judgments without it left out.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> Response:
        study = get_object_or_404(Study, slug=slug)
        try:
            results = study_results(study=study, **results_query_parse(query=request.query_params))
        except ValidationError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, django_errors(exc))
        response = Response(results)
        response["Cache-Control"] = "private, no-cache"
        return response
