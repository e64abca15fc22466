"""Actions on a study's raters (admins): exclude, include, pause, resume, by pseudonymous id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.errors import error_response
from annotations.api.permissions import IsAdminRole
from annotations.api.schema import error_response_doc
from annotations.errors import django_errors
from annotations.models import Study, User
from annotations.selectors.roster import rater_standing_view, roster_rater_find
from annotations.services.quality import rater_exclude, rater_include, rater_pause, rater_resume


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, trim_whitespace=True, default=""
    )


StandingOutput = inline_serializer(
    "RaterStanding",
    {
        "rater": serializers.CharField(),
        "changed": serializers.BooleanField(help_text="False when the rater already stood so."),
        "paused": serializers.BooleanField(),
        "excluded": serializers.BooleanField(),
        "excluded_reason": serializers.CharField(allow_null=True),
        "excluded_by": serializers.CharField(allow_null=True),
        "excluded_at": serializers.DateTimeField(allow_null=True),
    },
)


class RaterActionView(APIView):
    """Base: find the study and the rater, validate the reason, run the action."""

    permission_classes = [IsAdminRole]
    run: Callable[..., bool]

    @extend_schema(
        request=ReasonInput,
        responses={
            200: StandingOutput,
            400: error_response_doc("No reason for an exclusion, or one too long."),
        },
    )
    def post(self, request: Request, slug: str, rater: str) -> Response:
        study = get_object_or_404(Study, slug=slug)
        user_id = roster_rater_find(study=study, rater=rater)
        if user_id is None:
            raise Http404(f"No rater {rater!r} in study {slug!r}.")
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = User.objects.get(pk=user_id)
        try:
            changed = type(self).run(
                study=study, rater=user, reason=data.validated_data["reason"], by=request.user
            )
        except ValidationError as exc:
            return error_response(status.HTTP_400_BAD_REQUEST, django_errors(exc))
        body: dict[str, Any] = {
            "rater": rater,
            "changed": changed,
            **rater_standing_view(study=study, user_id=user_id),
        }
        return Response(body)


class RaterExcludeView(RaterActionView):
    """POST /api/studies/<slug>/raters/<rater>/exclude {"reason"}: keep the rater's judgments
    out of results, exports and the overlap k (their pairs are served to others again), and
    serve them nothing more. The reason is required and recorded with who and when."""

    run = staticmethod(rater_exclude)


class RaterIncludeView(RaterActionView):
    """POST /api/studies/<slug>/raters/<rater>/include: undo an exclusion (recorded)."""

    run = staticmethod(rater_include)


class RaterPauseView(RaterActionView):
    """POST /api/studies/<slug>/raters/<rater>/pause: serve the rater nothing more for now."""

    run = staticmethod(rater_pause)


class RaterResumeView(RaterActionView):
    """POST /api/studies/<slug>/raters/<rater>/resume: lift a pause (recorded)."""

    run = staticmethod(rater_resume)
