"""The rater's judging page: a shell the page script fills through the rater API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from annotations.rendering import markdown_render
from annotations.selectors.judging import rater_progress, study_form, study_judging_get

# Outputs are hostile input: even if a rendering bug let markup through, no inline script,
# no foreign script, no plugin and no outside request could run or leave from this page.
JUDGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


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
    response["Content-Security-Policy"] = JUDGE_CSP
    return response
