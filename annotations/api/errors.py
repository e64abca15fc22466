"""The API's error answers: the DRF exception handler, the 404 handler and the body size limit."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotations.errors import ErrorItem, django_errors, drf_error_body, error_body, error_item


def error_response(
    status_code: int, errors: list[ErrorItem], detail: str | None = None, **extra: Any
) -> Response:
    """A DRF response with the one error body (plus `extra` keys such as a file's total)."""
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
        return error_response(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, [error_item(message)])
    if isinstance(exc, TooManyFieldsSent):
        return error_response(status.HTTP_400_BAD_REQUEST, [error_item("Too many form fields.")])
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    response.data = drf_error_body(response.data)
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
        return JsonResponse(error_body([error_item("No API endpoint at this URL.")]), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
