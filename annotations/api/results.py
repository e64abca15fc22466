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
from annotations.analysis.options import MAX_RESAMPLES, METHODS, MIN_RESAMPLES
from annotations.api.errors import django_errors, error_response
from annotations.api.exports import IgnoreFormatParameter
from annotations.api.permissions import IsResearcherOrAdmin
from annotations.models import Study
from annotations.stats import DEFAULT_RESAMPLES


class StudyResultsView(APIView):
    """Win rates against the baseline with CIs, Bradley-Terry ratings, breakdowns, agreement,
    position bias and raters, in the contract of `manage.py results --format json`.

    Query parameters: `baseline` (a model name; default the study's), `method` (bootstrap,
    wilson, cluster), `resamples` (100-10000), `seed`. Bad values get 400 with
    {"detail", "errors": [{"field", "message"}]}.
    """

    permission_classes = [IsAuthenticated, IsResearcherOrAdmin]
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        parameters=[
            OpenApiParameter("baseline", str, description="A model name; default the study's."),
            OpenApiParameter("method", str, enum=["bootstrap", "wilson", "cluster"]),
            OpenApiParameter("resamples", int, description="100-10000"),
            OpenApiParameter("seed", int),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @extend_schema(
        parameters=[
            OpenApiParameter("baseline", str, description="model name; default the study's"),
            OpenApiParameter("method", str, enum=list(METHODS), description="CI method"),
            OpenApiParameter(
                "resamples",
                int,
                description=f"bootstrap resamples, {MIN_RESAMPLES}-{MAX_RESAMPLES}",
            ),
            OpenApiParameter("seed", int, description="bootstrap seed"),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> Response:
        study = get_object_or_404(Study, slug=slug)
        params = request.query_params
        try:
            results = study_results(
                study=study,
                baseline=params.get("baseline") or None,
                method=params.get("method") or "bootstrap",
                resamples=params.get("resamples") or DEFAULT_RESAMPLES,
                seed=params.get("seed") or 0,
            )
        except ValidationError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, django_errors(exc))
        response = Response(results)
        response["Cache-Control"] = "private, no-cache"
        return response
