"""Rater API views used by the judging page and by tools: next assignment, judgment, skip, revision.

The common request (a rater with a token or a session, JSON back) is served by fastlane.py
before DRF sees it; these views serve every other one, with the same answers (answers.py).
When authentication or permissions change here (authentication_classes, permission_classes,
CSRF), change fastlane._rater to match, or make it return None for the requests concerned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from annotations.api.judging import fastlane
from annotations.api.judging.answers import (
    Answer,
    judgment_answer,
    next_answer,
    progress_wanted,
    revision_answer,
    service_error,
    skip_answer,
)
from annotations.api.permissions import IsRater
from annotations.api.schema import (
    ASSIGNMENT_RESPONSE,
    JUDGMENT_RESPONSE,
    REVISION_RESPONSE,
    SKIP_RESPONSE,
    error_response_doc,
)
from annotations.errors import drf_error_body
from annotations.services.assignment import MAX_SKIP_REASON
from annotations.services.judging import MAX_RATIONALE, WINNERS


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


def _response(answer: Answer) -> Response:
    status_code, data = answer
    return Response(data, status=status_code)


def _answered(request: Request, endpoint: Callable[..., Answer], /, **kwargs: Any) -> Response:
    """What an answers.py `endpoint` answers the authenticated rater making `request`."""
    return _response(endpoint(rater=request.user, progress=progress_wanted(request), **kwargs))


def _validated(
    serializer_class: type[serializers.Serializer], request: Request
) -> Callable[[], Mapping[str, Any]]:
    """A callable giving the request's validated input (DRF's 400 when it is not valid)."""

    def validate() -> Mapping[str, Any]:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    return validate


class JudgingView(APIView):
    """Base: token first so that anonymous callers get 401 with a WWW-Authenticate header."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsRater]

    def get_exception_handler(self) -> Any:
        # DRF's plain handler, shaped below into the one error body; the services' errors are
        # answered before it, with the rater API's own statuses (409 for a lost lease).
        return exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, (ValidationError, PermissionDenied)):
            return _response(service_error(exc))
        response = super().handle_exception(exc)
        if isinstance(exc, APIException):
            response.data = drf_error_body(response.data)
        return response


_PROGRESS = OpenApiParameter(
    "progress", str, enum=["1", "true"], description="Add the rater's progress to the answer."
)


def _documented(request: Any, responses: dict[int, Any]) -> Callable[[Any], Any]:
    """The OpenAPI description of a rater endpoint: its input, ?progress and its answers."""
    return extend_schema(request=request, parameters=[_PROGRESS], responses=responses)


class NextAssignmentView(JudgingView):
    """POST /api/studies/<slug>/assignments/next -> 200 assignment, or 204 when none is left.

    With ?progress=1 (here and on judgment and skip) the response carries the rater's progress.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        fast = fastlane.next_serve(request, slug=kwargs["slug"])
        return fast if fast is not None else super().dispatch(request, *args, **kwargs)

    @_documented(
        None,
        {
            200: ASSIGNMENT_RESPONSE,
            204: OpenApiResponse(description="Nothing left for this rater in this study."),
            409: error_response_doc("The rater's previous request for work is still running."),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        return _answered(request, next_answer, slug=slug)


class JudgmentView(JudgingView):
    """POST /api/assignments/<id>/judgment -> 201 first time, 200 with the same on a repeat."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        fast = fastlane.judgment_serve(request, pk=kwargs["pk"])
        return fast if fast is not None else super().dispatch(request, *args, **kwargs)

    @_documented(
        JudgmentInput,
        {
            201: JUDGMENT_RESPONSE,
            200: OpenApiResponse(JUDGMENT_RESPONSE, description="Already recorded: the same."),
            409: error_response_doc("The lease was lost, or the assignment was skipped."),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        return _answered(
            request, judgment_answer, assignment_id=pk, answer=_validated(JudgmentInput, request)
        )


class SkipView(JudgingView):
    """POST /api/assignments/<id>/skip with an optional {"reason"}."""

    @_documented(
        SkipInput,
        {200: SKIP_RESPONSE, 409: error_response_doc("The assignment was already judged.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        return _answered(
            request, skip_answer, assignment_id=pk, answer=_validated(SkipInput, request)
        )


class RevisionView(JudgingView):
    """POST /api/assignments/<id>/revision: replace the verdict of the rater's last judgment.

    Rare (an undo), so DRF serves it; the body is a judgment's, as on /judgment.
    """

    @_documented(
        JudgmentInput,
        {
            200: REVISION_RESPONSE,
            409: error_response_doc(
                "Not revisable: another rater was given the pair since, a later judgment "
                "exists, or the comparison was not judged."
            ),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        return _answered(
            request, revision_answer, assignment_id=pk, answer=_validated(JudgmentInput, request)
        )
