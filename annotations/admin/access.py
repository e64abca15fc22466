"""The study admin's access pages: make an invite link, add members from a CSV file."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from annotations.models import Study
from annotations.services.access import (
    MAX_INVITE_DAYS,
    MAX_INVITE_USES,
    invite_create,
    invite_url,
    members_import,
)

MAX_MEMBERS_FILE = 5 * 2**20


class InviteForm(forms.Form):
    uses = forms.IntegerField(
        min_value=1, max_value=MAX_INVITE_USES, required=False, help_text="Empty: any number."
    )
    days = forms.FloatField(
        min_value=0.01, max_value=MAX_INVITE_DAYS, required=False, help_text="Empty: never expires."
    )


class MembersForm(forms.Form):
    file = forms.FileField(help_text="CSV of username[,email] rows, UTF-8.")


def _page(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str, title: str
) -> tuple[Study, dict[str, Any]]:
    study = Study.objects.filter(pk=object_id).first() if object_id.isdigit() else None
    if study is None:
        raise Http404("No such study.")
    if not model_admin.has_change_permission(request, study):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "original": study,
        "title": f"{title}: {study}",
    }
    return study, context


def invite_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """GET: the form; POST: a new invite link, shown once (only its hash is kept)."""
    study, context = _page(model_admin, request, object_id, "Invite link")
    form = InviteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        _, token = invite_create(study=study, **form.cleaned_data)
        context["link"] = invite_url(token=token, base_url=request.build_absolute_uri("/"))
    context["form"] = form
    return TemplateResponse(request, "admin/annotations/study/invite.html", context)


def members_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """GET: the form; POST: add the file's raters as members and list their set-password links."""
    study, context = _page(model_admin, request, object_id, "Add members from a file")
    form = MembersForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > MAX_MEMBERS_FILE:
                raise ValidationError(f"at most {MAX_MEMBERS_FILE // 2**20} MB per file")
            context["rows"] = members_import(
                study=study, data=upload.read(), base_url=request.build_absolute_uri("/")
            )
        except ValidationError as exc:
            context["problems"] = exc.messages
        except UnicodeDecodeError:
            context["problems"] = ["the file is not UTF-8 text"]
    context["form"] = form
    return TemplateResponse(request, "admin/annotations/study/members.html", context)


def access_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """admin:annotations_study_invite and admin:annotations_study_members, by study id."""

    def invite(request: HttpRequest, object_id: str) -> HttpResponse:
        return invite_view(model_admin, request, object_id)

    def members(request: HttpRequest, object_id: str) -> HttpResponse:
        return members_view(model_admin, request, object_id)

    wrap = model_admin.admin_site.admin_view
    return [
        path("<path:object_id>/invite/", wrap(invite), name="annotations_study_invite"),
        path("<path:object_id>/members/", wrap(members), name="annotations_study_members"),
    ]
