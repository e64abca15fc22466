"""Turning service errors into clear command-line messages."""

from __future__ import annotations

from django.core.exceptions import ValidationError


def validation_message(error: ValidationError) -> str:
    """One readable message from a ValidationError, naming the field where there is one."""
    if hasattr(error, "error_dict"):
        parts = []
        for field, errors in error.message_dict.items():
            prefix = "" if field == "__all__" else f"{field}: "
            parts.extend(prefix + message for message in errors)
        return "; ".join(parts)
    return "; ".join(error.messages)
