"""OpenAPI description helpers: the error bodies, the rater API's shapes, and a hook for both."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

# Documented on every operation by `error_responses_add` (the codes the API can answer with
# besides each operation's own).
COMMON_ERRORS = {
    "400": "Bad input: `errors` names each field (and line, for files) that is wrong.",
    "401": "Not authenticated: log in (session + CSRF) or send `Authorization: Token <key>`.",
    "403": "Authenticated, but this role may not do this.",
    "404": "No such object (or not yours).",
    "413": "The request body is larger than the API accepts.",
}

ERROR_ITEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "field": {"type": "string", "nullable": True},
        "message": {"type": "string"},
        "line": {"type": "integer", "nullable": True},
    },
    "required": ["field", "message"],
}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorItem"}},
        "total": {"type": "integer", "description": "All problems in a refused file."},
        "max_bytes": {"type": "integer", "description": "The size limit (413 only)."},
    },
    "required": ["detail", "errors"],
}


class ErrorItemSerializer(serializers.Serializer):
    """Named ErrorItem in the schema; error_responses_add writes its final form."""

    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()
    line = serializers.IntegerField(required=False, allow_null=True)


class ErrorSerializer(serializers.Serializer):
    """Named Error in the schema; error_responses_add writes its final form."""

    detail = serializers.CharField()
    errors = ErrorItemSerializer(many=True)


def error_response_doc(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ErrorSerializer, description=description)


# What a prompt load's summary says in `warnings`.
PROMPT_LOAD_WARNINGS = (
    "Sentences to heed, also at the end of `message`; empty when all is well. A study without "
    "a baseline (vs_baseline pairing) gets no comparisons: choose a baseline and they are made."
)

LOAD_ERROR_RESPONSE = OpenApiResponse(
    response=inline_serializer(
        "LoadError",
        {
            "detail": serializers.CharField(),
            "errors": ErrorItemSerializer(many=True),
            "total": serializers.IntegerField(
                required=False,
                help_text="All problems found in a refused file; errors lists the first 50.",
            ),
        },
    ),
    description="The file was refused whole (nothing stored), with line-numbered problems.",
)


def error_responses_add(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """SPECTACULAR_SETTINGS postprocessing hook: the shared error shape on every operation."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["ErrorItem"] = ERROR_ITEM_SCHEMA
    schemas["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, path_item in result.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in COMMON_ERRORS.items():
                responses.setdefault(code, {"description": description, "content": content})
        if path == "/api/studies/{slug}/export" and "get" in path_item:
            _export_formats_describe(path_item["get"])
    return result


def _export_formats_describe(operation: dict[str, Any]) -> None:
    """The export's formats and media types, read from the registry when the schema is made
    (formats register themselves, so a new one is documented without touching this)."""
    from annotations.exports.registry import EXPORT_FORMATS

    for parameter in operation.get("parameters", []):
        if parameter.get("name") == "format" and parameter.get("in") == "query":
            parameter["schema"] = {"type": "string", "enum": sorted(EXPORT_FORMATS)}
            parameter["description"] = "; ".join(
                f"`{f.name}`: {f.description}" for f in EXPORT_FORMATS.values()
            )
    media_types = sorted({f.content_type for f in EXPORT_FORMATS.values()})
    operation["responses"]["200"] = {
        "description": "The export, streamed as a download (Content-Disposition: attachment).",
        "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in media_types},
    }


# The rater API's bodies (annotations/api/judging/answers.py builds them as dicts from selectors).
_Html = {"text": serializers.CharField(), "html": serializers.CharField()}
_Choice = inline_serializer(
    "ScaleChoice",
    {
        "winner": serializers.CharField(),
        "strength": serializers.IntegerField(allow_null=True),
        "label": serializers.CharField(),
        "key": serializers.CharField(),
        "shortcut": serializers.CharField(
            allow_null=True, help_text="The letter key that picks this answer, if any (A, T, B)."
        ),
    },
)
_Named = {"name": serializers.CharField(), "label": serializers.CharField()}
_Progress = inline_serializer(
    "RaterProgress",
    {
        "judged": serializers.IntegerField(),
        "skipped": serializers.IntegerField(),
        "remaining": serializers.IntegerField(),
    },
)
_Answer = inline_serializer(
    "CriterionAnswer",
    {"winner": serializers.CharField(), "strength": serializers.IntegerField(allow_null=True)},
)

ASSIGNMENT_RESPONSE = inline_serializer(
    "Assignment",
    {
        "id": serializers.IntegerField(),
        "prompt": inline_serializer(
            "AssignmentPrompt",
            {
                **_Html,
                "messages": inline_serializer(
                    "PromptMessage",
                    {
                        "role": serializers.CharField(),
                        "content": serializers.CharField(),
                        "html": serializers.CharField(),
                    },
                    many=True,
                    allow_null=True,
                ),
            },
        ),
        "left": inline_serializer("ShownOutputLeft", _Html),
        "right": inline_serializer("ShownOutputRight", _Html),
        "expires_at": serializers.DateTimeField(),
        "status": serializers.CharField(),
        "study": inline_serializer(
            "AssignmentStudy", {"slug": serializers.CharField(), "name": serializers.CharField()}
        ),
        "form": inline_serializer(
            "JudgmentForm",
            {
                "scale": serializers.CharField(),
                "choices": _Choice.__class__(many=True),
                "allow_both_bad": serializers.BooleanField(),
                "criteria": inline_serializer("FormCriterion", _Named, many=True),
                "flags": inline_serializer("FormFlag", _Named, many=True),
                "rationale": serializers.CharField(),
            },
        ),
        "progress": _Progress.__class__(required=False),
    },
)
_JUDGMENT_FIELDS: dict[str, Any] = {
    "assignment": serializers.IntegerField(allow_null=True),
    "winner": serializers.CharField(),
    "strength": serializers.IntegerField(allow_null=True),
    "criteria": serializers.DictField(child=_Answer.__class__()),
    "flags": inline_serializer(
        "ShownFlags",
        {
            "left": serializers.ListField(child=serializers.CharField()),
            "right": serializers.ListField(child=serializers.CharField()),
        },
    ),
    "rationale": serializers.CharField(allow_blank=True),
    "duration_ms": serializers.IntegerField(allow_null=True),
    "created_at": serializers.DateTimeField(),
}
JUDGMENT_RESPONSE = inline_serializer(
    "JudgmentRecorded",
    {
        **_JUDGMENT_FIELDS,
        "created": serializers.BooleanField(),
        "progress": _Progress.__class__(required=False),
    },
)
REVISION_RESPONSE = inline_serializer(
    "JudgmentRevised",
    {
        **_JUDGMENT_FIELDS,
        "revised_at": serializers.DateTimeField(
            help_text="When the verdict was revised; created_at keeps the first answer's time."
        ),
        "progress": _Progress.__class__(required=False),
    },
)
SKIP_RESPONSE = inline_serializer(
    "AssignmentSkipped",
    {
        "assignment": serializers.IntegerField(),
        "status": serializers.CharField(),
        "progress": _Progress.__class__(required=False),
    },
)
