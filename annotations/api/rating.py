"""Rater API used by the judging page and by tools: next assignment, judgment, skip."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import CSRFCheck, SessionAuthentication, TokenAuthentication
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
from annotations.models import Study, User
from annotations.selectors.rating import (
    assignment_load,
    assignment_view,
    judgment_view,
    rater_progress,
    study_form,
    study_open_get,
)
from annotations.services.assignment import (
    MAX_SKIP_REASON,
    NotYourAssignment,
    assignment_next,
    assignment_skip,
)
from annotations.services.judging import MAX_RATIONALE, WINNERS, LeaseLost, judgment_submit
from annotations.sql import sql_rows


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


def _service_error(exc: Exception) -> tuple[int, list[dict[str, Any]]] | None:
    """(status, errors) for what the rating services raise; None for anything else."""
    if isinstance(exc, LeaseLost):
        return status.HTTP_409_CONFLICT, _validation_errors(exc)
    if isinstance(exc, NotYourAssignment):
        return status.HTTP_404_NOT_FOUND, [{"field": None, "message": "Not found."}]
    if isinstance(exc, ValidationError):
        code = getattr(exc, "code", None)
        status_code = (
            status.HTTP_409_CONFLICT
            if code in ("skipped", "judged", "busy")
            else status.HTTP_400_BAD_REQUEST
        )
        return status_code, _validation_errors(exc)
    if isinstance(exc, DjangoPermissionDenied):
        return status.HTTP_403_FORBIDDEN, [{"field": None, "message": str(exc)}]
    return None


_TOKEN_USER_SQL = (
    "SELECT "
    + ", ".join(f"u.{f.column}" for f in User._meta.concrete_fields)
    + " FROM authtoken_token t JOIN annotations_user u ON u.id = t.user_id WHERE t.key = %s"
)
_USER_NAMES = [f.attname for f in User._meta.concrete_fields]


def _fast_rater(request: HttpRequest) -> User | None:
    """The rater making the request when the fast path may serve it, else None.

    None means "let DRF decide" (it then answers 401/403 with the exact same rules): no or a
    malformed Authorization header, an unknown token, an inactive user, a role other than
    rater, a session request without a valid CSRF token, or a client asking for HTML.
    """
    if "text/html" in request.META.get("HTTP_ACCEPT", ""):
        return None
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        parts = header.split()
        if len(parts) != 2 or parts[0] != "Token":
            return None
        rows = sql_rows(sql=_TOKEN_USER_SQL, params=[parts[1]])
        if not rows:
            return None
        user = User.from_db(connection.alias, _USER_NAMES, rows[0])
        return user if user.is_active and user.is_rater else None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_rater:
        return None
    # What SessionAuthentication.enforce_csrf does: the page's POSTs carry the CSRF token.
    check = CSRFCheck(lambda _request: None)  # type: ignore[arg-type, return-value]
    check.process_request(request)
    if check.process_view(request, None, (), {}) is not None:
        return None
    return user


def _json(data: Any, status_code: int = 200) -> HttpResponse:
    """The body and headers DRF's JSONRenderer and APIView would produce for `data`."""
    response = HttpResponse(orjson.dumps(data), status=status_code, content_type="application/json")
    response["Allow"] = "POST, OPTIONS"
    patch_vary_headers(response, ("Accept",))
    return response


def _fast_error(exc: Exception) -> HttpResponse:
    mapped = _service_error(exc)
    if mapped is None:
        raise exc
    status_code, errors = mapped
    return _json(_error(status_code, errors).data, status_code)


def _fast_progress(request: HttpRequest, study: Study, rater: User) -> dict[str, Any]:
    if request.GET.get("progress") not in ("1", "true"):
        return {}
    return {"progress": rater_progress(study=study, rater=rater)}


_JUDGMENT_FIELDS = {"winner", "strength", "criteria", "flags", "rationale", "duration_ms"}


def _plain_judgment_input(request: HttpRequest) -> dict[str, Any] | None:
    """The submitted answer when it is exactly what JudgmentInput would accept unchanged.

    Anything else (other content types, coercions such as "2" for 2, every invalid value) goes
    through the serializer, so the answers and error messages stay DRF's own.
    """
    if request.content_type != "application/json":
        return None
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("winner") not in WINNERS:
        return None
    out = {key: value for key, value in data.items() if key in _JUDGMENT_FIELDS}
    for key in ("strength", "duration_ms"):
        value = out.get(key)
        if value is not None and (type(value) is not int or not 0 <= value < 2**31):
            return None
    if not all(isinstance(out.get(key, {}), dict) for key in ("criteria", "flags")):
        return None
    rationale = out.get("rationale", "")
    # DRF's CharField also refuses NUL characters, which PostgreSQL text cannot hold.
    if not isinstance(rationale, str) or len(rationale) > MAX_RATIONALE or "\x00" in rationale:
        return None
    return out


class RatingView(APIView):
    """Base: token first so that anonymous callers get 401 with a WWW-Authenticate header."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated, IsRater]

    def get_exception_handler(self) -> Any:
        # This view shapes DRF's plain error data itself (below), not the API-wide handler's.
        return exception_handler

    def handle_exception(self, exc: Exception) -> Response:
        mapped = _service_error(exc)
        if mapped is not None:
            return _error(*mapped)
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
    The common request (a rater with a token or a session, JSON back) is answered without DRF's
    request machinery; every other one goes through DRF as before, with the same answers.
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rater = _fast_rater(request) if request.method == "POST" else None
        if rater is None:
            return super().dispatch(request, *args, **kwargs)
        study = study_open_get(slug=kwargs["slug"])
        if study is None:
            return _json(_not_found().data, status.HTTP_404_NOT_FOUND)
        try:
            assignment = assignment_next(study=study, rater=rater)
        except (ValidationError, DjangoPermissionDenied) as exc:
            return _fast_error(exc)
        if assignment is None:
            response = HttpResponse(status=status.HTTP_204_NO_CONTENT)
            del response["Content-Type"]
            response["Allow"] = "POST, OPTIONS"
            patch_vary_headers(response, ("Accept",))
            return response
        return _json(
            {
                **assignment_view(assignment=assignment),
                "study": {"slug": study.slug, "name": study.name},
                "form": study_form(study=study),
                **_fast_progress(request, study, rater),
            }
        )

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
        study = study_open_get(slug=slug)
        if study is None:
            return _not_found()
        assignment = assignment_next(study=study, rater=request.user)
        if assignment is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(
            {
                **assignment_view(assignment=assignment),
                "study": {"slug": study.slug, "name": study.name},
                "form": study_form(study=study),
                **_progress(request, study),
            }
        )


class JudgmentView(RatingView):
    """POST /api/assignments/<id>/judgment -> 201 first time, 200 with the same on a repeat.

    Like the next view, the common request skips DRF's machinery (same answers).
    """

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        rater = _fast_rater(request) if request.method == "POST" else None
        answer = _plain_judgment_input(request) if rater is not None else None
        if rater is None or answer is None:
            return super().dispatch(request, *args, **kwargs)
        assignment = assignment_load(assignment_id=kwargs["pk"], rater=rater)
        if assignment is None:
            return _json(_not_found().data, status.HTTP_404_NOT_FOUND)
        try:
            judgment, created = judgment_submit(assignment=assignment, rater=rater, **answer)
        except (ValidationError, DjangoPermissionDenied) as exc:
            return _fast_error(exc)
        return _json(
            {
                **judgment_view(judgment=judgment),
                "created": created,
                **_fast_progress(request, assignment.study, rater),
            },
            status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

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
