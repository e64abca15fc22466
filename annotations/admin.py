"""Django admin pages for studies, models, prompts and users."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from annotations.models import Generator, Membership, Output, Prompt, Study, User
from annotations.services.users import user_role_flags_apply


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

    def get_urls(self):  # type: ignore[no-untyped-def]
        # The upload page (load a prompt set or import judgments) lives beside the study pages.
        from annotations.admin_access import access_urls
        from annotations.admin_upload import upload_urls

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
