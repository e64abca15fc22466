"""A rater's progress in a study (the rater) and the study's roster (researchers and admins)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotations.api.permissions import IsRater, IsResearcherOrAdmin
from annotations.models import Study
from annotations.selectors.judging import rater_progress, study_judging_get
from annotations.selectors.roster import QUALITY_FIELDS, ROSTER_FIELDS, Roster
from annotations.services.access import completion_record


class ProgressSerializer(serializers.Serializer):
    judged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    remaining = serializers.IntegerField()
    quota = serializers.IntegerField(allow_null=True)
    complete = serializers.BooleanField()
    completion_code = serializers.CharField(allow_null=True, help_text="null until complete")
    completion_url = serializers.CharField(
        allow_null=True, help_text="null until complete; {code} filled in"
    )
    stopped = serializers.ChoiceField(
        choices=["paused", "screened_out"],
        allow_null=True,
        help_text="null, or why no more items come: paused (or excluded), screened_out",
    )
    screenout_code = serializers.CharField(
        allow_null=True, help_text="the study's screen-out code once screened out"
    )
    screenout_url = serializers.CharField(
        allow_null=True, help_text="the screen-out URL once screened out; {code} filled in"
    )
    study_complete = serializers.BooleanField(
        help_text="a study with a target precision has collected what it needs"
    )


class ProgressView(APIView):
    """GET /api/studies/<slug>/progress: the rater's own progress; the completion code and URL
    once they have completed the study (which is then recorded). 404 for a study the rater
    may not judge."""

    permission_classes = [IsAuthenticated, IsRater]

    @extend_schema(responses=ProgressSerializer)
    def get(self, request: Request, slug: str) -> Response:
        study = study_judging_get(slug=slug, user=request.user)
        if study is None:
            raise Http404("No open study with this name.")
        progress = rater_progress(study=study, rater=request.user)
        if progress["complete"]:
            completion_record(study=study, rater=request.user)
        response = Response(progress)
        response["Cache-Control"] = "no-store"
        return response


class RosterRowSerializer(serializers.Serializer):
    rater = serializers.CharField(help_text="The pseudonymous id exports use (r-...).")
    judged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    seconds = serializers.FloatField(help_text="Total time on task of the rater's judgments.")
    started_at = serializers.DateTimeField(allow_null=True)
    last_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    member = serializers.BooleanField()
    # Quality signals (README "Rater quality"): each value beside the n it rests on.
    gold_n = serializers.IntegerField(help_text="Gold answers (0 until control items exist).")
    gold_accuracy = serializers.FloatField(allow_null=True)
    gold_ci_low = serializers.FloatField(allow_null=True)
    gold_ci_high = serializers.FloatField(allow_null=True)
    repeat_n = serializers.IntegerField(help_text="Swapped repeats (0 until they exist).")
    self_consistency = serializers.FloatField(allow_null=True)
    agreement_n = serializers.IntegerField(
        help_text="Judgments whose comparison's other raters have a strict majority answer."
    )
    agreement = serializers.FloatField(
        allow_null=True, help_text="Share of those that gave the others' majority answer."
    )
    left_n = serializers.IntegerField(help_text="Non-tie judgments.")
    left_share = serializers.FloatField(allow_null=True, help_text="Share that chose the left.")
    left_p_value = serializers.FloatField(
        allow_null=True, help_text="Two-sided exact binomial test against 0.5."
    )
    timed_n = serializers.IntegerField(help_text="Judgments with a duration (not imported).")
    median_seconds = serializers.FloatField(allow_null=True)
    too_fast_share = serializers.FloatField(
        allow_null=True, help_text="Share under the study's min_seconds; null when that is 0."
    )
    longest_streak = serializers.IntegerField(help_text="Longest run of the same answer.")
    outlier_n = serializers.IntegerField(help_text="Comparisons with two or more other raters.")
    outlier_score = serializers.FloatField(
        help_text="E-value against 'answers like the other raters'; 20 or more is level 0.05."
    )
    flagged = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField())
    paused = serializers.BooleanField()
    excluded = serializers.BooleanField()
    excluded_reason = serializers.CharField(allow_null=True)
    username = serializers.CharField(required=False, help_text="Admins only.")
    platform = serializers.CharField(required=False, help_text="Admins only.")
    platform_id = serializers.CharField(required=False, help_text="Admins only.")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not self.context["admin"]:
            data = {name: data[name] for name in (*ROSTER_FIELDS, *QUALITY_FIELDS)}
        return data


class RosterView(generics.ListAPIView):
    """GET /api/studies/<slug>/raters: one row per rater who has started the study or is a
    member, first starters first (paginated), with each rater's quality signals. Admins also
    see who each rater is."""

    permission_classes = [IsAuthenticated, IsResearcherOrAdmin]
    serializer_class = RosterRowSerializer

    def get_queryset(self) -> Any:
        return Roster(study=get_object_or_404(Study, slug=self.kwargs["slug"]))

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "admin": self.request.user.is_admin_role}
