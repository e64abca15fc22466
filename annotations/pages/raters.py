"""The raters page of a study: its roster with each rater's quality signals, for researchers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotations.models import Study
from annotations.selectors.roster import roster_stream, study_quality_thresholds


@login_required
def raters_page(request: HttpRequest, slug: str) -> HttpResponse:
    if not request.user.can_see_results:
        # Raters never see other raters' work, nor learn which studies exist (403 before 404).
        return render(request, "annotations/results_forbidden.html", status=403)
    study = get_object_or_404(Study, slug=slug)
    rows = list(roster_stream(study=study))
    return render(
        request,
        "annotations/raters.html",
        {
            "study": study,
            "rows": rows,
            "n_flagged": sum(row["flagged"] for row in rows),
            "thresholds": study_quality_thresholds(study=study).describe(),
            "admin": request.user.is_admin_role,
        },
    )
