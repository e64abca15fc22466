"""The rater's judging page: a shell the page script fills through the rater API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from annotations.rendering import markdown_render
from annotations.selectors.judging import rater_progress, study_form, study_judging_get


@login_required
@ensure_csrf_cookie
def judge(request: HttpRequest, slug: str) -> HttpResponse:
    study = study_judging_get(slug=slug, user=request.user)
    if study is None:
        raise Http404("No open study with this name.")
    if not request.user.is_rater:
        response = render(request, "annotations/judge_forbidden.html", {"study": study}, status=403)
    else:
        form = study_form(study=study)
        progress = rater_progress(study=study, rater=request.user)
        response = render(
            request,
            "annotations/judge.html",
            {
                "study": study,
                "form": form,
                "sides": [("left", "A"), ("right", "B")],
                "instructions_html": markdown_render(study.instructions),
                "progress": progress,
                # Set when the study has a per-rater quota (the page then says "n of quota").
                "quota": progress.get("quota"),
            },
        )
    return response
