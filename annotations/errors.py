"""The one error body of the API and the commands: {"detail", "errors": [{"field", "message"}]}."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from django.core.exceptions import ValidationError


class ErrorItem(TypedDict):
    """One problem: the field it is about (a dotted path, None for the input as a whole), what
    is wrong, and for a refused file the line."""

    field: str | None
    message: str
    line: NotRequired[int | None]


# Keys under which DRF and Django put errors about the input as a whole rather than one field.
_WHOLE_INPUT_KEYS = ("non_field_errors", "detail", "__all__")


def error_item(message: str, field: str | None = None) -> ErrorItem:
    return {"field": field, "message": message}


def errors_flatten(data: Any, prefix: str = "") -> list[ErrorItem]:
    """DRF's nested error data ({"field": ["msg"], "nested": {"x": [...]}}) as a flat list."""
    if isinstance(data, dict):
        out: list[ErrorItem] = []
        for key, value in data.items():
            name = "" if key in _WHOLE_INPUT_KEYS else str(key)
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
    return [error_item(str(data), prefix or None)]


def django_errors(exc: ValidationError) -> list[ErrorItem]:
    """A Django ValidationError (raised by a service) as a flat list."""
    if hasattr(exc, "error_dict"):
        return [
            error_item(message, None if field == "__all__" else field)
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [error_item(message) for message in exc.messages]


def error_detail(errors: list[ErrorItem]) -> str:
    """The items as one line, each naming its field where it has one."""
    return "; ".join(
        f"{e['field']}: {e['message']}" if e.get("field") else e["message"] for e in errors
    )


def error_body(errors: list[ErrorItem], detail: str | None = None) -> dict[str, Any]:
    """The body every error answer carries; `detail` defaults to the items in one line."""
    return {"detail": error_detail(errors) if detail is None else detail, "errors": errors}


def drf_error_body(data: Any) -> dict[str, Any]:
    """The body for the error data of a DRF exception's response.

    A plain {"detail": ...} (authentication, permission, parse errors) keeps its sentence as the
    detail; a serializer's field errors become one item each.
    """
    detail = str(data["detail"]) if isinstance(data, dict) and "detail" in data else None
    return error_body(errors_flatten(data), detail)


def validation_message(error: ValidationError) -> str:
    """One readable message from a ValidationError, naming the field where there is one (the
    commands print it; the API sends the same text as `detail`)."""
    return error_detail(django_errors(error))


def too_large_message(size: int, limit: int) -> str:
    """The message of a 413: the body's size, the limit, and where larger files go."""
    return (
        f"The request body is {size:,} bytes; this endpoint accepts at most {limit:,} bytes. "
        "Load larger files with manage.py load_prompts or import_judgments."
    )
