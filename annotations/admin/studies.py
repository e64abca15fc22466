"""Django admin pages for studies, models, prompts and users."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotations.models import (
    Assignment,
    Comparison,
    Generator,
    Judgment,
    Membership,
    Output,
    Prompt,
    Study,
    User,
)
from annotations.services.studies import study_delete
from annotations.services.users import user_role_flags_apply, user_self_change_check


def _self_change_clean(form: forms.ModelForm, acting: User) -> None:
    """The API's rule in the admin's form: an admin cannot demote or deactivate themselves."""
    data = form.cleaned_data
    try:
        user_self_change_check(
            user=form.instance,
            acting=acting,
            role=data.get("role"),
            is_active=data.get("is_active") if "is_active" in form.fields else None,
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for message in messages:
                form.add_error(field if field in form.fields else None, message)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "role", "email", "is_active", "last_login")
    list_filter = ("role", "is_active")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Role", {"fields": ("role", "external_id")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("Role", {"fields": ("role",)}))

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Imported raters are named "ext:<id>", a name the username rules refuse so that no one
        # can register it; the form would refuse it too, so it is shown, not edited.
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.external_id:
            fields += ("username", "external_id")
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):  # type: ignore[no-untyped-def]
        form_class = super().get_form(request, obj, change=change, **kwargs)
        acting = request.user

        class SelfChangeGuardedForm(form_class):  # type: ignore[misc, valid-type]
            def clean(self) -> dict[str, Any]:
                data = super().clean()
                _self_change_clean(self, acting)
                return data

        return SelfChangeGuardedForm

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # The role decides the staff flags, as everywhere else (add_user, the API).
        user_role_flags_apply(user=obj)
        super().save_model(request, obj, form, change)


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


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "baseline", "pairing", "scale", "overlap", "is_open")
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
        # The baseline must be one of this study's own generators.
        if db_field.name == "baseline":
            study_id = request.resolver_match.kwargs.get("object_id")
            kwargs["queryset"] = Generator.objects.filter(study_id=study_id)
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
