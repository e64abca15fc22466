"""Quality control in the Django admin: gold items, raters' standings and the record of every
action on a rater, read-only (actions go through the raters page, the API or the commands, so
that each one is recorded and keeps the overlap k in step)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations.models import GoldItem, RaterEvent, RaterStanding


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GoldItem)
class GoldItemAdmin(ReadOnlyAdmin):
    list_display = ("key", "study", "prompt", "created_at")
    list_filter = ("study",)
    search_fields = ("key",)


@admin.register(RaterStanding)
class RaterStandingAdmin(ReadOnlyAdmin):
    list_display = ("rater", "study", "qualification", "paused", "excluded", "excluded_reason")
    list_filter = ("study", "paused", "excluded", "qualification")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RaterEvent)
class RaterEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "study", "rater", "action", "actor", "reason")
    list_filter = ("study", "action")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
