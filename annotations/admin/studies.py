"""The admin's study, model and prompt pages: progress, the baseline, what the form accepts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.postgres.forms import SimpleArrayField
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotations.models import (
    Assignment,
    Comparison,
    Criterion,
    Flag,
    Generator,
    Judgment,
    Membership,
    Output,
    Pairing,
    Prompt,
    Study,
)
from annotations.services.studies import (
    FLAG_PRESETS,
    study_delete,
    study_save,
)

_PRESETS = ", ".join(FLAG_PRESETS)
FIELD_HELP = {
    "baseline": "One of this study's models. A new study has none: load its file, then choose "
    "it here; saving then makes the comparisons at once.",
    "pairing": "vs_baseline: every other model against the baseline (needs one); all_pairs: "
    "every two models. A change adds the comparisons the new rule calls for; none are removed.",
    "criteria": f"Comma-separated, any of: {', '.join(Criterion.values)}. Empty: none.",
    "flags": f"{_PRESETS} (InstructGPT's per-output list, all of them) or comma-separated, any "
    f"of: {', '.join(Flag.values)}. Empty: none.",
}


class ChoicesListField(SimpleArrayField):
    """A list of choices as the admin types it: comma-separated with any spacing, or a preset."""

    def __init__(
        self, *args: Any, presets: dict[str, tuple[str, ...]] | None = None, **kwargs: Any
    ):
        self.presets = presets or {}
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            parts = self.presets.get(value) or value.split(self.delimiter)
            items = [part.strip() for part in parts if part.strip()]
            allowed = [str(choice) for choice, _ in self.base_field.choices if choice]
            unknown = [item for item in items if item not in allowed]
            if unknown:
                # The service's wording, which names what is accepted.
                raise forms.ValidationError(
                    f"unknown value(s) {', '.join(map(repr, unknown))}; "
                    f"choose from {', '.join(allowed)}"
                )
            value = self.delimiter.join(items)
        return super().to_python(value)


def _progress_annotations() -> dict[str, Any]:
    """Per-study counts as correlated subqueries, so the list page costs one query.

    Judgments are summed from the comparisons' judgment_count (kept in step with every write),
    as the studies overview does, rather than counted row by row.
    """
    comparisons = Comparison.objects.filter(study=OuterRef("pk")).order_by().values("study")
    raters = (
        Judgment.objects.filter(comparison__study=OuterRef("pk"))
        .order_by()
        .values("comparison__study")
        .annotate(n=Count("rater", distinct=True))
        .values("n")
    )
    return {
        "progress_judgments": Coalesce(
            Subquery(comparisons.annotate(n=Sum("judgment_count")).values("n")), 0
        ),
        "progress_comparisons": Coalesce(
            Subquery(comparisons.annotate(n=Count("pk")).values("n")), 0
        ),
        "progress_complete": Coalesce(
            Subquery(
                comparisons.filter(judgment_count__gte=OuterRef("overlap"))
                .annotate(n=Count("pk"))
                .values("n")
            ),
            0,
        ),
        "progress_raters": Coalesce(Subquery(raters, output_field=IntegerField()), 0),
    }


class GeneratorInline(admin.TabularInline):
    model = Generator
    extra = 0
    fields = ("name", "family", "size")


class MembershipInline(admin.TabularInline):
    """The study's members: add one by user id, remove with the delete box."""

    model = Membership
    extra = 0
    verbose_name_plural = "members (who may judge an invite-only study)"
    fields = ("user", "platform", "platform_id", "created_at", "completed_at")
    readonly_fields = ("platform", "platform_id", "created_at", "completed_at")
    # Crowd studies have thousands of raters: a lookup, not a select of every user.
    raw_id_fields = ("user",)


def _baseline_warning(study: Study) -> str:
    """The change page's warning for a study without a baseline."""
    if study.pairing == Pairing.VS_BASELINE:
        return (
            "This study has no baseline yet: its vs_baseline pairing makes no comparisons, so "
            "raters get no pairs. Load its file, then choose the baseline below; saving makes "
            "the comparisons at once."
        )
    return (
        "This study has no baseline yet. Its all_pairs pairing makes comparisons without one, "
        "but results against a baseline need one: choose it below once its models are loaded."
    )


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "baseline",
        "pairing",
        "overlap",
        "is_open",
        "judgments",
        "reached_k",
        "raters",
    )
    # The baseline is nullable, so Django's own select_related() would skip it: a query a row.
    list_select_related = ("baseline",)
    list_filter = ("pairing", "scale", "is_open")
    search_fields = ("slug", "name")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [GeneratorInline, MembershipInline]
    readonly_fields = ("invite_links",)
    fieldsets = (
        (None, {"fields": ("slug", "name", "description", "baseline", "pairing", "is_open")}),
        (
            "Judgment form",
            {
                "fields": (
                    "scale",
                    "allow_both_bad",
                    "criteria",
                    "flags",
                    "rationale",
                    "instructions",
                )
            },
        ),
        ("Assignment", {"fields": ("overlap", "lease_minutes")}),
        (
            "Raters",
            {"fields": ("access", "quota", "completion_code", "completion_url", "invite_links")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Study]:
        queryset = super().get_queryset(request)
        # Only the list needs the counts; the change and delete pages read one study.
        if request.resolver_match and request.resolver_match.url_name.endswith("_changelist"):
            queryset = queryset.annotate(**_progress_annotations())
        return queryset

    @admin.display(description="judgments", ordering="progress_judgments")
    def judgments(self, obj: Study) -> str:
        return f"{obj.progress_judgments:,}"  # type: ignore[attr-defined]

    @admin.display(description="comparisons that reached k", ordering="progress_complete")
    def reached_k(self, obj: Study) -> str:
        complete, total = obj.progress_complete, obj.progress_comparisons  # type: ignore[attr-defined]
        return f"{complete:,} of {total:,}"

    @admin.display(description="raters", ordering="progress_raters")
    def raters(self, obj: Study) -> str:
        return f"{obj.progress_raters:,}"  # type: ignore[attr-defined]

    def formfield_for_dbfield(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        # The accepted values are said here, not as model help_text: that would be a migration.
        if db_field.name in FIELD_HELP:
            kwargs["help_text"] = FIELD_HELP[db_field.name]
        if db_field.name in ("criteria", "flags"):
            kwargs["form_class"] = ChoicesListField
        if db_field.name == "flags":
            kwargs["presets"] = FLAG_PRESETS
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):  # type: ignore[no-untyped-def]
        if obj is not None and obj.baseline_id is None:
            context["baseline_warning"] = _baseline_warning(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # Through the service: a new baseline or pairing makes its comparisons at once.
        added = study_save(study=obj, changed=form.changed_data if change else ())
        if added:
            self.message_user(
                request,
                f"Made {added:,} new comparisons for the study's baseline and pairing.",
                messages.SUCCESS,
            )

    @admin.display(description="Invite links")
    def invite_links(self, obj: Study) -> str:
        # Only hashes are stored, so a link is shown once, when it is made on its own page.
        if obj.pk is None:
            return "Save the study first."
        rows = format_html_join(
            "",
            "<li>made {}, {}, {}</li>",
            (
                (
                    f"{invite.created_at:%Y-%m-%d %H:%M}",
                    "any number of uses"
                    if invite.uses_left is None
                    else f"{invite.uses_left} uses left",
                    "no expiry"
                    if invite.expires_at is None
                    else f"expires {invite.expires_at:%Y-%m-%d %H:%M}",
                )
                for invite in obj.invites.all()[:20]
            ),
        )
        return format_html(
            '<ul>{}</ul><a class="button" href="{}">Make an invite link</a> '
            '<a class="button" href="{}">Add members from a CSV file</a>',
            rows,
            reverse("admin:annotations_study_invite", args=[obj.pk]),
            reverse("admin:annotations_study_members", args=[obj.pk]),
        )

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        # The baseline must be one of this study's own generators (none yet on a new study).
        if db_field.name == "baseline":
            study_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Generator.objects.filter(study_id=study_id).order_by("name")
            kwargs["required"] = False
            kwargs["empty_label"] = "(none yet)"
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    # Deleting goes through the set-based service: the ORM's cascade (and the confirmation
    # page's list of everything it would delete) loads every row of the study into memory.
    def delete_model(self, request: HttpRequest, obj: Study) -> None:
        study_delete(study=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Study]) -> None:
        for study in queryset:
            study_delete(study=study)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, ...]:
        """What the confirmation page lists: each study with the counts of what goes with it."""
        studies = list(objs)
        ids = [study.pk for study in studies]
        counted = {
            "prompts": Prompt.objects.filter(study_id__in=ids).count(),
            "models": Generator.objects.filter(study_id__in=ids).count(),
            "outputs": Output.objects.filter(study_id__in=ids).count(),
            "comparisons": Comparison.objects.filter(study_id__in=ids).count(),
            "assignments": Assignment.objects.filter(study_id__in=ids).count(),
            "judgments": Judgment.objects.filter(comparison__study_id__in=ids).count(),
        }
        summary = ", ".join(f"{n:,} {name}" for name, n in counted.items())
        deleted = [f"Study: {study} (with all its data)" for study in studies] + [summary]
        model_count = {"studies": len(studies), **counted}
        perms_needed: set[str] = set()
        if not self.has_delete_permission(request):
            perms_needed.add("study")
        return deleted, model_count, perms_needed, []

    def get_urls(self):  # type: ignore[no-untyped-def]
        # The upload page (load a prompt set or import judgments) lives beside the study pages.
        from annotations.admin.access import access_urls
        from annotations.admin.upload import upload_urls

        return upload_urls(self) + access_urls(self) + super().get_urls()


@admin.register(Generator)
class GeneratorAdmin(admin.ModelAdmin):
    list_display = ("name", "study", "family", "size")
    list_filter = ("study",)
    search_fields = ("name", "family")


class OutputInline(admin.StackedInline):
    model = Output
    extra = 0
    fields = ("generator", "text")
    readonly_fields = ("generator",)


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ("key", "study", "category", "created_at")
    list_filter = ("study", "category")
    search_fields = ("key", "text")
    inlines = [OutputInline]
