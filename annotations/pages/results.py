"""The results page of a study, its figure downloads and a version probe for live updates."""

from __future__ import annotations

import hashlib

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render

from annotations.analysis.cache import CACHE_SECONDS, study_results
from annotations.analysis.figures import FIGURE_FORMATS, results_figure_render
from annotations.analysis.options import (
    MAX_RESAMPLES,
    METHODS,
    MIN_RESAMPLES,
    results_query_parse,
)
from annotations.errors import error_body
from annotations.models import Study
from annotations.selectors.results import study_results_version
from annotations.stats.defaults import (
    DEFAULT_RESAMPLES,
    MIN_RELIABLE_JUDGMENTS,
    MIN_RELIABLE_PROMPTS,
)

REFRESH_SECONDS = 30


def _forbidden(request: HttpRequest) -> HttpResponse | None:
    if not request.user.can_see_results:
        return render(request, "annotations/results_forbidden.html", status=403)
    return None


@login_required
def results_page(request: HttpRequest, slug: str) -> HttpResponse:
    # The role first: a rater must not learn from 403 against 404 which studies exist.
    if (denied := _forbidden(request)) is not None:
        return denied
    study = get_object_or_404(Study, slug=slug)
    options = results_query_parse(query=request.GET)
    try:
        results = study_results(study=study, **options)
        errors: dict[str, list[str]] = {}
    except ValidationError as exc:
        errors = exc.message_dict
        results = study_results(study=study)
    return render(
        request,
        "annotations/results.html",
        {
            "study": study,
            "results": results,
            "errors": errors,
            "options": options,
            "methods": METHODS,
            "min_resamples": MIN_RESAMPLES,
            "max_resamples": MAX_RESAMPLES,
            "default_resamples": DEFAULT_RESAMPLES,
            "min_judgments": MIN_RELIABLE_JUDGMENTS,
            "min_prompts": MIN_RELIABLE_PROMPTS,
            "query": request.GET.urlencode(),
            "refresh_seconds": REFRESH_SECONDS,
            "figure_formats": list(FIGURE_FORMATS),
        },
    )


@login_required
def results_figure(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    # The role first: a rater must not learn from 403 against 404 which studies exist.
    if (denied := _forbidden(request)) is not None:
        return denied
    study = get_object_or_404(Study, slug=slug)
    if fmt not in FIGURE_FORMATS:
        raise Http404("Unknown figure format.")
    try:
        results = study_results(study=study, **results_query_parse(query=request.GET))
    except ValidationError as exc:
        return HttpResponse(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()),
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    described = (study.pk, results["version"], fmt, results["baseline"], results["method"])
    described += (results["resamples"], results["seed"], results["confidence"])
    key = "figure:" + hashlib.sha256(repr(described).encode()).hexdigest()
    data = cache.get(key)
    if data is None:
        data = results_figure_render(results=results, fmt=fmt)
        cache.set(key, data, CACHE_SECONDS)
    response = HttpResponse(data, content_type=FIGURE_FORMATS[fmt])
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{study.slug}-win-rates.{fmt}"'
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
def results_version(request: HttpRequest, slug: str) -> HttpResponse:
    if not request.user.can_see_results:
        return JsonResponse(
            error_body([], detail="Only researchers and admins can see results."), status=403
        )
    study = get_object_or_404(Study, slug=slug)
    return JsonResponse({"version": study_results_version(study=study)})
