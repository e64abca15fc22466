"""The admin's upload page: load a prompt set, import judgments or load gold pairs from a file
into a study."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.text import capfirst

from annotations.models import Study
from annotations.services.loading import LoadError, judgments_import, prompt_set_load
from annotations.services.loading.gold import gold_load
from annotations.services.loading.uploads import FILE_TYPE_MESSAGE, upload_limit, upload_refusal

KINDS = {
    "prompts": ("Prompt set with model outputs", prompt_set_load),
    "judgments": ("Judgments made elsewhere", judgments_import),
    "gold": ("Gold pairs (control items with a known answer)", gold_load),
}


def _megabytes(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def _too_large(size: int) -> str:
    return (
        f"The file is {_megabytes(size)}; uploads are limited to "
        f"{_megabytes(upload_limit())}. Load larger files with manage.py "
        "load_prompts or import_judgments."
    )


class UploadForm(forms.Form):
    study = forms.ModelChoiceField(queryset=Study.objects.all(), empty_label=None)
    kind = forms.ChoiceField(
        choices=[(k, label) for k, (label, _) in KINDS.items()], widget=forms.RadioSelect
    )
    file = forms.FileField(help_text="JSONL (.jsonl) or CSV (.csv), UTF-8.")
    judge = forms.CharField(
        required=False,
        max_length=100,
        help_text="For judgments only: the automatic judge (an LLM) whose verdicts these are; "
        "empty for human raters.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        refusal = upload_refusal(name=upload.name, size=upload.size)
        if refusal == "too_large":
            raise forms.ValidationError(_too_large(upload.size))
        if refusal == "file_type":
            raise forms.ValidationError(f"{capfirst(FILE_TYPE_MESSAGE)}.")
        return upload


def upload_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET shows the form; POST loads the file and shows its summary or its problems."""
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Load a file into a study",
    }
    if not model_admin.has_change_permission(request):
        raise PermissionDenied
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if request.method == "POST" and declared > upload_limit() + 1_000_000:
        # Refuse before Django reads the body into a temporary file.
        form = UploadForm()
        context.update(form=form, refused=_too_large(declared))
        return TemplateResponse(request, "admin/annotations/study/upload.html", context)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            study = form.cleaned_data["study"]
            upload = form.cleaned_data["file"]
            kind = form.cleaned_data["kind"]
            _, load = KINDS[kind]
            extra = {"judge": form.cleaned_data["judge"]} if kind == "judgments" else {}
            try:
                summary = load(study=study, file=upload, filename=upload.name, **extra)
                context["summary"] = str(summary)
                context["summary_warns"] = bool(getattr(summary, "warnings", None))
            except LoadError as exc:
                context["load_error"] = exc
            except ValueError as exc:  # a bad judge name
                form.add_error("judge", str(exc))
            context["study"] = study
    else:
        form = UploadForm(initial={"study": request.GET.get("study"), "kind": "prompts"})
    context["form"] = form
    context["max_upload"] = _megabytes(upload_limit())
    return TemplateResponse(request, "admin/annotations/study/upload.html", context)


def upload_urls(model_admin: admin.ModelAdmin) -> list[URLPattern]:
    """The upload page URL (admin:annotations_study_upload), to go before the ModelAdmin's own."""

    def view(request: HttpRequest) -> HttpResponse:
        return upload_view(model_admin, request)

    return [
        path(
            "upload/",
            model_admin.admin_site.admin_view(view),
            name="annotations_study_upload",
        )
    ]
