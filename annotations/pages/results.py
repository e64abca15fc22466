"""The results page of a study, its sections, downloads and figures, and a version probe.

One URL, three answers: the page itself (the summary and the win rates at once), a heavy
section as an HTML fragment (`?fragment=raters`: the page's script fills them in after first
paint; `?full=1` renders them all inline for a browser without scripts), and a results table
for the options shown (`?download=bt-csv`). Figures have their own URL (`figure.<fmt>`,
`?figure=` names which one).
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string

from annotations.analysis.cache import CACHE_SECONDS, study_results
from annotations.analysis.figures import (
    DEFAULT_FIGURE,
    FIGURE_FORMATS,
    FIGURE_KINDS,
    results_figure_render,
)
from annotations.analysis.options import (
    BT_CI_METHODS,
    DEFAULT_BT_CI,
    MAX_RESAMPLES,
    METHODS,
    MIN_RESAMPLES,
    results_query_parse,
)
from annotations.errors import error_body
from annotations.exports.registry import EXPORT_FORMATS
from annotations.exports.results import (
    RESULTS_FORMATS_BY_NAME,
    RESULTS_TABLE_FORMATS,
    results_table_export,
)
from annotations.models import Criterion, Prompt, Study
from annotations.pages import results_summary as summary
from annotations.selectors.catalog import generator_list
from annotations.selectors.judgment_filters import study_judges
from annotations.selectors.results import study_results_version
from annotations.stats.defaults import (
    DEFAULT_RESAMPLES,
    MIN_RELIABLE_JUDGMENTS,
    MIN_RELIABLE_PROMPTS,
)

REFRESH_SECONDS = 30
# The page's own parameters, which are not results options.
PAGE_PARAMETERS = ("fragment", "download", "full", "figure")
# The sections that fill in after first paint, and their templates.
FRAGMENTS: dict[str, str] = {
    "win-matrix": "annotations/results/win_matrix.html",
    "criteria": "annotations/results/criteria.html",
    "flags": "annotations/results/flags.html",
    "agreement": "annotations/results/agreement.html",
    "raters": "annotations/results/raters.html",
}
# The win matrix shows as an HTML heatmap up to this many models, else as its figure.
WIN_MATRIX_TABLE_MAX = 80
RATERS_PAGE_SIZE = 25
KAPPA_PAGE_SIZE = 25


def _forbidden(request: HttpRequest) -> HttpResponse | None:
    if not request.user.can_see_results:
        return render(request, "annotations/results_forbidden.html", status=403)
    return None


class _NoResults(Exception):
    """Not even the default options give results: the study has no baseline yet."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _results(
    request: HttpRequest, study: Study
) -> tuple[dict[str, Any], dict[str, list[str]], dict[str, Any]]:
    """The results for the page's options, the option errors (then the defaults' results)."""
    options = results_query_parse(query=request.GET)
    try:
        return study_results(study=study, **options), {}, options
    except ValidationError as exc:
        errors = exc.message_dict
    try:
        return study_results(study=study), errors, options
    except ValidationError as exc:
        raise _NoResults({**errors, **exc.message_dict}) from exc


def _query(request: HttpRequest) -> Any:
    """The page's query without its own parameters: the results options and filters."""
    query = request.GET.copy()
    for name in PAGE_PARAMETERS:
        query.pop(name, None)
    return query


def _context(request: HttpRequest, study: Study) -> dict[str, Any]:
    results, errors, options = _results(request, study)
    rows = summary.generator_rows(results=results)
    query = _query(request)
    in_force = summary.filters_in_force(results=results)
    categories = (
        Prompt.objects.filter(study=study)
        .exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )
    return {
        "study": study,
        "results": results,
        "generators": rows,
        "summary": summary.results_summary(results=results, rows=rows),
        "has_lc": any("lc_verdict" in r for r in rows),
        "style_controlled": {
            r["name"]: r for r in results.get("bradley_terry_style_controlled") or []
        },
        "errors": errors,
        "options": options,
        "methods": METHODS,
        "bt_ci_methods": BT_CI_METHODS,
        "bt_ci": results.get("bt_ci") or DEFAULT_BT_CI,
        "min_resamples": MIN_RESAMPLES,
        "max_resamples": MAX_RESAMPLES,
        "default_resamples": DEFAULT_RESAMPLES,
        "min_judgments": MIN_RELIABLE_JUDGMENTS,
        "min_prompts": MIN_RELIABLE_PROMPTS,
        "query": query,
        "query_string": query.urlencode(),
        "refresh_seconds": REFRESH_SECONDS,
        "figure_formats": list(FIGURE_FORMATS),
        "figure_kinds": FIGURE_KINDS,
        "models": list(generator_list(study=study).values_list("name", flat=True)),
        "categories": list(categories),
        "criteria": [(c, dict(Criterion.choices).get(c, c)) for c in study.criteria],
        "sources": summary.SOURCES,
        "judges": study_judges(study=study),
        "filters_in_force": in_force,
        # Filters asked for that the results do not state: a server that cannot filter yet.
        "filters_ignored": summary.filters_asked(query=request.GET) if in_force is None else [],
        "full": bool(request.GET.get("full")),
        "fragments": FRAGMENTS,
        "table_downloads": [RESULTS_FORMATS_BY_NAME[n] for n in RESULTS_TABLE_FORMATS],
        "data_downloads": [
            f
            for f in EXPORT_FORMATS.values()
            if f.name not in RESULTS_FORMATS_BY_NAME and not f.admin_only
        ],
        "raters_page_size": RATERS_PAGE_SIZE,
        "kappa_page_size": KAPPA_PAGE_SIZE,
    }


def _fragment_context(name: str, context: dict[str, Any]) -> dict[str, Any]:
    """What a heavy section adds to the page's context; computed only when it is shown."""
    results = context["results"]
    if name == "agreement":
        return {"kappas": summary.kappa_view(agreement=results.get("agreement") or {})}
    if name == "win-matrix":
        from annotations.analysis.win_matrix import study_win_matrix

        matrix = study_win_matrix(study=context["study"], results=results)
        table = len(matrix["models"]) <= WIN_MATRIX_TABLE_MAX
        return {
            "matrix": matrix,
            "matrix_rows": summary.win_matrix_view(matrix=matrix) if table else None,
        }
    return {}


def _fragment_html(name: str, context: dict[str, Any]) -> str:
    """A section's HTML, cached with the results it shows: the win matrix's thousands of cells
    cost a third of a second to render, and every reader of the same results gets the same."""
    results = context["results"]
    described = (context["study"].pk, results["version"], name, sorted(context["query"].lists()))
    described += (results.get("filters"), bool(context["errors"]))
    key = "results-fragment:" + hashlib.sha256(repr(described).encode()).hexdigest()
    html = cache.get(key)
    if html is None:
        # No request: a fragment holds nothing that depends on who reads it.
        html = render_to_string(FRAGMENTS[name], context | _fragment_context(name, context))
        cache.set(key, html, CACHE_SECONDS)
    return html


@login_required
def results_page(request: HttpRequest, slug: str) -> HttpResponse:
    # The role first: a rater must not learn from 403 against 404 which studies exist.
    if (denied := _forbidden(request)) is not None:
        return denied
    study = get_object_or_404(Study, slug=slug)
    try:
        context = _context(request, study)
    except _NoResults as missing:
        # A study made in the admin before its models: let the reader pick a baseline here.
        models = list(generator_list(study=study).values_list("name", flat=True))
        if request.GET.get("download") or request.GET.get("fragment"):
            return _bad_request(ValidationError(missing.errors))
        return render(
            request,
            "annotations/results/no_baseline.html",
            {"study": study, "errors": missing.errors, "models": models},
        )
    if name := request.GET.get("download"):
        return _download(study, context["results"], name)
    if name := request.GET.get("fragment"):
        if name not in FRAGMENTS:
            raise Http404("Unknown section.")
        response = HttpResponse(_fragment_html(name, context))
        response["Cache-Control"] = "private, no-cache"
        return response
    if context["full"]:
        for name in FRAGMENTS:
            context |= _fragment_context(name, context)
    return render(request, "annotations/results.html", context)


def _download(study: Study, results: dict[str, Any], name: str) -> HttpResponse:
    try:
        export = results_table_export(study=study, results=results, format_name=name)
    except ValidationError as exc:
        return _bad_request(exc)
    response = HttpResponse(b"".join(export.chunks), content_type=export.format.content_type)
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "private, no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _bad_request(exc: ValidationError) -> HttpResponse:
    return HttpResponse(
        "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()),
        status=400,
        content_type="text/plain; charset=utf-8",
    )


@login_required
def results_figure(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    # The role first: a rater must not learn from 403 against 404 which studies exist.
    if (denied := _forbidden(request)) is not None:
        return denied
    study = get_object_or_404(Study, slug=slug)
    kind = request.GET.get("figure") or DEFAULT_FIGURE
    if fmt not in FIGURE_FORMATS or kind not in FIGURE_KINDS:
        raise Http404("Unknown figure or figure format.")
    options = results_query_parse(query=request.GET)
    try:
        results = study_results(study=study, **options)
    except ValidationError as exc:
        return _bad_request(exc)
    # Every option and filter the results were computed with is in the key, as is the
    # version of the judgments: a new judgment, or other options, draw a new figure.
    described = (study.pk, results["version"], fmt, kind, sorted(options.items()))
    described += (results.get("filters"),)
    key = "figure:" + hashlib.sha256(repr(described).encode()).hexdigest()
    data = cache.get(key)
    if data is None:
        if kind == "win-matrix":
            from annotations.analysis.win_matrix import study_win_matrix

            results = {**results, "win_matrix": study_win_matrix(study=study, results=results)}
        data = results_figure_render(results=results, fmt=fmt, kind=kind)
        cache.set(key, data, CACHE_SECONDS)
    response = HttpResponse(data, content_type=FIGURE_FORMATS[fmt])
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{study.slug}-{kind}.{fmt}"'
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
