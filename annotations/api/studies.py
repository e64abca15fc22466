"""Studies and their generators: read for researchers and admins, create and update for admins."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from annotations.api.permissions import ReadResearcherWriteAdmin
from annotations.models import (
    Access,
    Criterion,
    Flag,
    Generator,
    Pairing,
    RationaleMode,
    Sampling,
    Scale,
    Study,
)
from annotations.selectors.catalog import generator_get, generator_list, study_get, study_list
from annotations.services.collection import collection_refresh
from annotations.services.generators import generator_update
from annotations.services.studies import STUDY_SETTINGS, study_create_or_update

_SMALLINT_MAX = 32767


class StudySerializer(serializers.ModelSerializer):
    baseline = serializers.CharField(
        source="baseline.name", read_only=True, allow_null=True, help_text="Baseline model name."
    )
    criteria = serializers.ListField(child=serializers.ChoiceField(Criterion.choices))
    flags = serializers.ListField(child=serializers.ChoiceField(Flag.choices))

    class Meta:
        model = Study
        # The study's settings come from their one list; the API adds the slug, the baseline's
        # name and the times.
        fields = ["slug", "baseline", *STUDY_SETTINGS, "created_at", "updated_at"]
        read_only_fields = fields


def study_collection(study: Study) -> dict[str, Any]:
    """The `collection` object of a study's detail (services/collection.py)."""
    state = collection_refresh(study=study)
    return dict(state) if state else {}


class StudyDetailSerializer(StudySerializer):
    collection = serializers.DictField(
        help_text='{"status": "collecting"|"complete", "sampling", "target_half_width", '
        '"judgments_used", "judgments_if_uniform", "generators": [{"name", "status": '
        '"collecting"|"precise"|"decided", "served", "half_width", "judgments"}], ...}; '
        "served: whether the candidate's pairs are still served (under uniform sampling "
        "every candidate's are, until all have stopped)"
    )

    class Meta(StudySerializer.Meta):
        fields = [*StudySerializer.Meta.fields, "collection"]
        read_only_fields = fields


class StudySettingsInput(serializers.Serializer):
    """The settings a study takes; on update every field is optional."""

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    instructions = serializers.CharField(required=False, allow_blank=True)
    baseline = serializers.CharField(
        max_length=200,
        required=False,
        help_text="Name of the baseline model; on PATCH, one of the study's models.",
    )
    pairing = serializers.ChoiceField(Pairing.choices, required=False)
    scale = serializers.ChoiceField(Scale.choices, required=False)
    allow_both_bad = serializers.BooleanField(required=False)
    criteria = serializers.ListField(
        child=serializers.ChoiceField(Criterion.choices), required=False, max_length=10
    )
    flags = serializers.ListField(
        child=serializers.ChoiceField(Flag.choices), required=False, max_length=50
    )
    rationale = serializers.ChoiceField(RationaleMode.choices, required=False)
    overlap = serializers.IntegerField(min_value=1, max_value=_SMALLINT_MAX, required=False)
    lease_minutes = serializers.IntegerField(min_value=1, max_value=_SMALLINT_MAX, required=False)
    is_open = serializers.BooleanField(required=False)
    access = serializers.ChoiceField(Access.choices, required=False)
    quota = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False, help_text="0 lifts the cap."
    )
    completion_code = serializers.CharField(max_length=100, required=False, allow_blank=True)
    completion_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="{code} is filled in."
    )
    min_seconds = serializers.IntegerField(
        min_value=0,
        max_value=_SMALLINT_MAX,
        required=False,
        help_text="A judgment faster than this is too fast (rater quality); 0 turns it off.",
    )
    quality_thresholds = serializers.DictField(
        child=serializers.FloatField(min_value=0),
        required=False,
        help_text="Overrides of the rater-quality thresholds, by name (see the README).",
    )
    gold_rate = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Share of items that are gold pairs."
    )
    repeat_rate = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Share of items that are repeats."
    )
    qualification = serializers.IntegerField(
        min_value=0,
        max_value=_SMALLINT_MAX,
        required=False,
        help_text="Gold items a new rater answers first (0: no screening).",
    )
    qualification_pass = serializers.FloatField(min_value=0, max_value=1, required=False)
    qualification_retry = serializers.BooleanField(required=False)
    screenout_code = serializers.CharField(max_length=100, required=False, allow_blank=True)
    screenout_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="{code} is filled in."
    )
    gold_min_accuracy = serializers.FloatField(min_value=0, max_value=1, required=False)
    gold_min_n = serializers.IntegerField(min_value=0, max_value=_SMALLINT_MAX, required=False)
    target_half_width = serializers.FloatField(
        min_value=0,
        max_value=0.5,
        required=False,
        help_text="Stop a candidate once its anytime-valid interval is this narrow; 0 lifts it.",
    )
    stop_on_decision = serializers.BooleanField(required=False)
    sampling = serializers.ChoiceField(Sampling.choices, required=False)

    def validate_baseline(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("a baseline model name is required")
        return value.strip()


class StudyCreateInput(StudySettingsInput):
    slug = serializers.SlugField(max_length=100)
    baseline = serializers.CharField(max_length=200, help_text="Name of the baseline model.")

    def validate_slug(self, value: str) -> str:
        if study_get(slug=value) is not None:
            raise serializers.ValidationError(
                f"a study '{value}' already exists; change it with PATCH /api/studies/{value}"
            )
        return value


class StudyListView(generics.ListCreateAPIView):
    """GET: the studies, by slug (researchers, admins). POST: create a study (admins)."""

    permission_classes = [ReadResearcherWriteAdmin]
    serializer_class = StudySerializer

    def get_queryset(self) -> Any:
        return study_list()

    @extend_schema(request=StudyCreateInput, responses={201: StudySerializer})
    def post(self, request: Request) -> Response:
        data = StudyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = study_create_or_update(**data.validated_data)
        study = study_get(slug=result.study.slug)
        return Response(StudySerializer(study).data, status=status.HTTP_201_CREATED)


def _study_or_404(slug: str) -> Study:
    study = study_get(slug=slug)
    if study is None:
        raise Http404("No study with this slug.")
    return study


class StudyDetailView(generics.GenericAPIView):
    """GET: one study (researchers, admins). PATCH: change its settings or baseline (admins)."""

    permission_classes = [ReadResearcherWriteAdmin]
    serializer_class = StudySerializer

    @extend_schema(responses=StudyDetailSerializer)
    def get(self, request: Request, slug: str) -> Response:
        study = _study_or_404(slug)
        return Response({**StudySerializer(study).data, "collection": study_collection(study)})

    @extend_schema(request=StudySettingsInput, responses=StudySerializer)
    def patch(self, request: Request, slug: str) -> Response:
        study = _study_or_404(slug)
        data = StudySettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        settings = dict(data.validated_data)
        current = study.baseline.name if study.baseline else ""
        baseline = settings.pop("baseline", None) or current
        study_create_or_update(
            slug=study.slug, baseline=baseline, baseline_must_exist=True, **settings
        )
        return Response(StudySerializer(_study_or_404(slug)).data)


class GeneratorSerializer(serializers.ModelSerializer):
    is_baseline = serializers.SerializerMethodField()

    class Meta:
        model = Generator
        fields = ["id", "name", "family", "size", "is_baseline"]
        read_only_fields = fields

    def get_is_baseline(self, generator: Generator) -> bool:
        return generator.pk == self.context["study"].baseline_id


class GeneratorInput(serializers.Serializer):
    family = serializers.CharField(max_length=200, required=False, allow_blank=True)
    size = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        help_text="Parameter count; null clears it.",
    )


class GeneratorListView(generics.ListAPIView):
    """GET: the models of a study with their family and size (researchers, admins)."""

    permission_classes = [ReadResearcherWriteAdmin]
    serializer_class = GeneratorSerializer

    def get_queryset(self) -> Any:
        return generator_list(study=self._study())

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "study": self._study()}

    def _study(self) -> Study:
        if not hasattr(self, "_study_cache"):
            self._study_cache = _study_or_404(self.kwargs["slug"])
        return self._study_cache


class GeneratorDetailView(generics.GenericAPIView):
    """GET: one model of a study. PATCH: set its family and size for plots (admins)."""

    permission_classes = [ReadResearcherWriteAdmin]
    serializer_class = GeneratorSerializer

    def _load(self, slug: str, pk: int) -> tuple[Study, Generator]:
        study = _study_or_404(slug)
        generator = generator_get(study=study, generator_id=pk)
        if generator is None:
            raise Http404("No model with this id in the study.")
        return study, generator

    @extend_schema(responses=GeneratorSerializer)
    def get(self, request: Request, slug: str, pk: int) -> Response:
        study, generator = self._load(slug, pk)
        return Response(GeneratorSerializer(generator, context={"study": study}).data)

    @extend_schema(request=GeneratorInput, responses=GeneratorSerializer)
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        study, generator = self._load(slug, pk)
        data = GeneratorInput(data=request.data)
        data.is_valid(raise_exception=True)
        generator = generator_update(generator=generator, **data.validated_data)
        return Response(GeneratorSerializer(generator, context={"study": study}).data)
