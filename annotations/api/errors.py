"""One error body for the whole API: {"detail", "errors": [{"field", "message", "line"?}]}."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

ErrorItem = dict[str, Any]


def errors_flatten(data: Any, prefix: str = "") -> list[ErrorItem]:
    """DRF's nested error data ({"field": ["msg"], "nested": {"x": [...]}}) as a flat list."""
    if isinstance(data, dict):
        out: list[ErrorItem] = []
        for key, value in data.items():
            name = "" if key in ("non_field_errors", "detail", "__all__") else str(key)
            field = ".".join(p for p in (prefix, name) if p)
            out.extend(errors_flatten(value, field))
        return out
    if isinstance(data, list):
        out = []
        for index, item in enumerate(data):
            # A list of dicts is a list of nested objects: keep the position in the field name.
            item_prefix = f"{prefix}.{index}" if isinstance(item, dict) and prefix else prefix
            out.extend(errors_flatten(item, item_prefix))
        return out
    return [{"field": prefix or None, "message": str(data)}]


def django_errors(exc: DjangoValidationError) -> list[ErrorItem]:
    """A Django ValidationError (raised by a service) as [{"field", "message"}]."""
    if hasattr(exc, "error_dict"):
        return [
            {"field": None if field == "__all__" else field, "message": message}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": None, "message": message} for message in exc.messages]


def error_body(errors: list[ErrorItem], detail: str | None = None) -> dict[str, Any]:
    if detail is None:
        detail = "; ".join(
            f"{e['field']}: {e['message']}" if e.get("field") else e["message"] for e in errors
        )
    return {"detail": detail, "errors": errors}


def error_response(
    status_code: int, errors: list[ErrorItem], detail: str | None = None, **extra: Any
) -> Response:
    return Response({**error_body(errors, detail), **extra}, status=status_code)


def too_large_message(size: int, limit: int) -> str:
    return (
        f"The request body is {size:,} bytes; this endpoint accepts at most {limit:,} bytes. "
        "Load larger files with manage.py load_prompts or import_judgments."
    )


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]: DRF's handling, then the API's one error shape.

    Also maps what services raise (Django's ValidationError, PermissionDenied) and request
    bodies over Django's limits (413), so no view has to.
    """
    if isinstance(exc, DjangoValidationError):
        return error_response(status.HTTP_400_BAD_REQUEST, django_errors(exc))
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        message = f"The request body is larger than {limit:,} bytes."
        return error_response(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, [{"field": None, "message": message}]
        )
    if isinstance(exc, TooManyFieldsSent):
        return error_response(
            status.HTTP_400_BAD_REQUEST, [{"field": None, "message": "Too many form fields."}]
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and set(data) == {"detail"}:
        errors = [{"field": None, "message": str(data["detail"])}]
        response.data = error_body(errors, str(data["detail"]))
    else:
        response.data = error_body(errors_flatten(data))
    return response


class BodySizeLimitMiddleware:
    """Refuse an API request whose declared body is too large with 413, before anything reads it.

    Multipart uploads may carry up to settings.MAX_UPLOAD_BYTES (plus room for the form's own
    framing); any other body up to DATA_UPLOAD_MAX_MEMORY_SIZE, since it is read into memory.
    """

    # Multipart framing and the small form fields around the file.
    MULTIPART_OVERHEAD = 64 * 1024

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            refused = self._refusal(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _refusal(self, request: HttpRequest) -> HttpResponse | None:
        try:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse(
                error_body([{"field": None, "message": "Content-Length is not a number."}]),
                status=400,
            )
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("multipart/form-data"):
            limit = settings.MAX_UPLOAD_BYTES + self.MULTIPART_OVERHEAD
        else:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None or size <= limit:
            return None
        body = error_body([{"field": None, "message": too_large_message(size, limit)}])
        body["max_bytes"] = limit
        return JsonResponse(body, status=413)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: an unknown /api/ URL answers in the API's error shape; pages as usual."""
    if request.path.startswith("/api/"):
        message = "No API endpoint at this URL."
        return JsonResponse(error_body([{"field": None, "message": message}]), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
