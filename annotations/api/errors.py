"""The API's error answers: DRF responses in the one error body, and the DRF exception handler."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from annotations.errors import ErrorItem, django_errors, drf_error_body, error_body, error_item


def error_response(
    status_code: int, errors: list[ErrorItem], detail: str | None = None, **extra: Any
) -> Response:
    """A DRF response with the one error body (plus `extra` keys such as a file's total)."""
    return Response({**error_body(errors, detail), **extra}, status=status_code)


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
