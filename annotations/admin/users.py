"""The admin's user pages: the role leads, and Django's staff flags follow from it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError

from annotations.models import User
from annotations.services.users import user_role_flags_apply, user_self_change_check

ROLE_HELP = (
    "rater: judges pairs; researcher: reads studies, results and exports; admin: everything, "
    "these admin pages included. The admin pages' staff and superuser flags follow from it."
)


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
    # Django's is_staff, is_superuser, groups and permissions are not shown: the role sets the
    # two flags (user_role_flags_apply), and with no staff account short of a superuser, groups
    # and permissions would change nothing.
    fieldsets = (
        (None, {"fields": ("username", "role", "is_active", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email", "external_id")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "role", "usable_password", "password1", "password2"),
            },
        ),
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        if db_field.name == "role":
            kwargs["help_text"] = ROLE_HELP
        return super().formfield_for_dbfield(db_field, request, **kwargs)

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
