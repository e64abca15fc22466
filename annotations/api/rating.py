"""Rater API used by the judging page and by tools: next assignment, judgment, skip."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from annotations.api.schema import (
    ASSIGNMENT_RESPONSE,
    JUDGMENT_RESPONSE,
    SKIP_RESPONSE,
    error_response_doc,
)
from annotations.models import Study
from annotations.rating_selectors import (
    assignment_load,
    assignment_view,
    judgment_view,
    rater_progress,
    study_form,
)
from annotations.services.assignment import (
    MAX_SKIP_REASON,
    NotYourAssignment,
    assignment_next,
    assignment_skip,
)
from annotations.services.judging import MAX_RATIONALE, WINNERS, LeaseLost, judgment_submit


class IsRater(BasePermission):
    message = "Only raters can take and judge assignments."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_rater)


class JudgmentInput(serializers.Serializer):
    winner = serializers.ChoiceField(choices=WINNERS)
    strength = serializers.IntegerField(required=False, allow_null=True)
    criteria = serializers.DictField(required=False, allow_empty=True)
    flags = serializers.DictField(required=False, allow_empty=True)
    rationale = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, max_length=MAX_RATIONALE
    )
    duration_ms = serializers.IntegerField(required=False, allow_null=True, min_value=0)


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_SKIP_REASON, default=""
    )


def _flatten(data: Any, prefix: str = "") -> list[dict[str, Any]]:
    """DRF's nested error data as [{"field", "message"}]."""
    if isinstance(data, dict):
        out: list[dict[str, Any]] = []
        for key, value in data.items():
            name = "" if key in ("non_field_errors", "detail") else str(key)
            field = ".".join(p for p in (prefix, name) if p)
            out.extend(_flatten(value, field))
        return out
    if isinstance(data, list):
        out = []
        for item in data:
            out.extend(_flatten(item, prefix))
        return out
    return [{"field": prefix or None, "message": str(data)}]


def _error(status_code: int, errors: list[dict[str, Any]], detail: str | None = None) -> Response:
    if detail is None:
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
        )
    return Response({"detail": detail, "errors": errors}, status=status_code)


def _validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": None if field == "__all__" else field, "message": message}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": None, "message": message} for message in exc.messages]


class RatingView(APIView):
    """Base: token first so that anonymous callers get 401 with a WWW-Authenticate header."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsRater]

    def get_exception_handler(self) -> Any:
        # This view shapes DRF's plain error data itself (below), not the API-wide handler's.
        return exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, LeaseLost):
            return _error(status.HTTP_409_CONFLICT, _validation_errors(exc))
        if isinstance(exc, NotYourAssignment):
            return _error(status.HTTP_404_NOT_FOUND, [{"field": None, "message": "Not found."}])
        if isinstance(exc, ValidationError):
            code = getattr(exc, "code", None)
            status_code = (
                status.HTTP_409_CONFLICT
                if code in ("skipped", "judged", "busy")
                else status.HTTP_400_BAD_REQUEST
            )
            return _error(status_code, _validation_errors(exc))
        if isinstance(exc, DjangoPermissionDenied):
            return _error(status.HTTP_403_FORBIDDEN, [{"field": None, "message": str(exc)}])
        response = super().handle_exception(exc)
        if isinstance(exc, APIException):
            data = response.data
            detail = str(data["detail"]) if isinstance(data, dict) and "detail" in data else None
            errors = _flatten(data)
            if detail is None:
                detail = "; ".join(
                    f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors
                )
            response.data = {"detail": detail, "errors": errors}
        return response


def _progress(request: Request, study: Study) -> dict[str, Any]:
    # Progress counts the study's open comparisons, which costs a scan of its index on a large
    # study: only the page, which shows it, asks for it (?progress=1); tools go without.
    if request.query_params.get("progress") not in ("1", "true"):
        return {}
    return {"progress": rater_progress(study=study, rater=request.user)}


_PROGRESS = OpenApiParameter(
    "progress", str, enum=["1", "true"], description="Add the rater's progress to the answer."
)


def _not_found() -> Response:
    return _error(status.HTTP_404_NOT_FOUND, [{"field": None, "message": "Not found."}])


class NextAssignmentView(RatingView):
    """POST /api/studies/<slug>/assignments/next -> 200 assignment, or 204 when none is left.

    With ?progress=1 (here and on judgment and skip) the response carries the rater's progress.
    """

    @extend_schema(
        request=None,
        parameters=[_PROGRESS],
        responses={
            200: ASSIGNMENT_RESPONSE,
            204: OpenApiResponse(description="Nothing left for this rater in this study."),
            409: error_response_doc("The rater's previous request for work is still running."),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        study = Study.objects.filter(slug=slug, is_open=True).first()
        if study is None:
            return _not_found()
        leased = assignment_next(study=study, rater=request.user)
        if leased is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        assignment = assignment_load(assignment_id=leased.pk, rater=request.user)
        return Response(
            {
                **assignment_view(assignment=assignment),
                "study": {"slug": study.slug, "name": study.name},
                "form": study_form(study=study),
                **_progress(request, study),
            }
        )


class JudgmentView(RatingView):
    """POST /api/assignments/<id>/judgment -> 201 first time, 200 with the same on a repeat."""

    @extend_schema(
        request=JudgmentInput,
        parameters=[_PROGRESS],
        responses={
            201: JUDGMENT_RESPONSE,
            200: OpenApiResponse(JUDGMENT_RESPONSE, description="Already recorded: the same."),
            409: error_response_doc("The lease was lost, or the assignment was skipped."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        assignment = assignment_load(assignment_id=pk, rater=request.user)
        if assignment is None:
            return _not_found()
        data = JudgmentInput(data=request.data)
        data.is_valid(raise_exception=True)
        judgment, created = judgment_submit(
            assignment=assignment, rater=request.user, **data.validated_data
        )
        return Response(
            {
                **judgment_view(judgment=judgment),
                "created": created,
                **_progress(request, assignment.study),
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class SkipView(RatingView):
    """POST /api/assignments/<id>/skip with an optional {"reason"}."""

    @extend_schema(
        request=SkipInput,
        parameters=[_PROGRESS],
        responses={
            200: SKIP_RESPONSE,
            409: error_response_doc("The assignment was already judged."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        assignment = assignment_load(assignment_id=pk, rater=request.user)
        if assignment is None:
            return _not_found()
        data = SkipInput(data=request.data)
        data.is_valid(raise_exception=True)
        skipped = assignment_skip(
            assignment=assignment, rater=request.user, reason=data.validated_data["reason"]
        )
        return Response(
            {
                "assignment": skipped.pk,
                "status": skipped.status,
                **_progress(request, assignment.study),
            }
        )
