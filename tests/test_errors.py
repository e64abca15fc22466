"""The one error body (annotations/errors.py): items, flattening, the detail line, command text."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.exceptions import ErrorDetail

from annotations.errors import (
    django_errors,
    drf_error_body,
    error_body,
    error_item,
    errors_flatten,
    validation_message,
)
from tests.api_support import assert_error_shape, token_client


def test_error_body_joins_the_items_into_the_detail_unless_given() -> None:
    errors = [error_item("is required", "winner"), error_item("try again")]
    assert error_body(errors) == {"detail": "winner: is required; try again", "errors": errors}
    assert error_body(errors, "Refused.")["detail"] == "Refused."
    # Positional, as the middleware that answers 503s calls it.
    assert error_body([error_item("down")], "Unavailable.") == {
        "detail": "Unavailable.",
        "errors": [{"field": None, "message": "down"}],
    }


def test_drf_errors_flatten_to_dotted_field_paths() -> None:
    data = {
        "non_field_errors": [ErrorDetail("bad pair")],
        "criteria": {"helpful": [ErrorDetail("not a choice")]},
        "messages": [{}, {"role": [ErrorDetail("required")]}],
    }
    assert errors_flatten(data) == [
        {"field": None, "message": "bad pair"},
        {"field": "criteria.helpful", "message": "not a choice"},
        {"field": "messages.1.role", "message": "required"},
    ]


def test_a_plain_drf_detail_keeps_its_sentence() -> None:
    body = drf_error_body({"detail": ErrorDetail("Authentication credentials were not provided.")})
    assert body == {
        "detail": "Authentication credentials were not provided.",
        "errors": [{"field": None, "message": "Authentication credentials were not provided."}],
    }
    assert drf_error_body(["top-level"]) == {
        "detail": "top-level",
        "errors": [{"field": None, "message": "top-level"}],
    }


@pytest.mark.parametrize(
    ("error", "items", "message"),
    [
        (ValidationError("plain"), [{"field": None, "message": "plain"}], "plain"),
        (
            ValidationError({"__all__": ["whole"], "overlap": ["too small", "odd"]}),
            [
                {"field": None, "message": "whole"},
                {"field": "overlap", "message": "too small"},
                {"field": "overlap", "message": "odd"},
            ],
            "whole; overlap: too small; overlap: odd",
        ),
    ],
)
def test_django_errors_and_the_command_message_say_the_same(
    error: ValidationError, items: list, message: str
) -> None:
    assert django_errors(error) == items
    assert validation_message(error) == message
    assert error_body(django_errors(error))["detail"] == message


@pytest.mark.django_db
def test_export_parameter_errors_name_the_field_in_the_detail_too() -> None:
    from tests.judging_support import judging_study

    judging_study(slug="exp", prompts=1)
    response = token_client("res", "researcher").get("/api/studies/exp/export?format=pdf")
    assert response.status_code == 400
    body = response.json()
    assert_error_shape(body)
    assert body["errors"][0]["field"] == "format"
    assert body["detail"].startswith("format: unknown export format 'pdf'")
