"""The raters page of a study: its roster with each rater's quality signals, for researchers."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotations.errors import validation_message
from annotations.models import Study, User
from annotations.selectors.roster import (
    roster_rater_find,
    roster_stream,
    study_quality_thresholds,
)
from annotations.services.quality import rater_exclude, rater_include, rater_pause, rater_resume

# The buttons of the raters page: action -> (service, what the message says was done).
RATER_ACTIONS = {
    "exclude": (rater_exclude, "excluded"),
    "include": (rater_include, "included again"),
    "pause": (rater_pause, "paused"),
    "resume": (rater_resume, "resumed"),
}


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


@login_required
@require_POST
def rater_action(request: HttpRequest, slug: str, rater: str, action: str) -> HttpResponse:
    """A button of the raters page (admins): run the action, say what happened, go back."""
    if not request.user.is_admin_role:
        return render(request, "annotations/results_forbidden.html", status=403)
    study = get_object_or_404(Study, slug=slug)
    if action not in RATER_ACTIONS:
        raise Http404("No such action.")
    user_id = roster_rater_find(study=study, rater=rater)
    if user_id is None:
        raise Http404("No such rater in this study.")
    service, done = RATER_ACTIONS[action]
    try:
        changed = service(
            study=study,
            rater=User.objects.get(pk=user_id),
            reason=request.POST.get("reason", ""),
            by=request.user,
        )
    except ValidationError as exc:
        messages.error(request, f"{rater}: {validation_message(exc)}")
    else:
        messages.success(request, f"{rater}: {done}" if changed else f"{rater}: no change")
    return redirect("raters", slug=study.slug)
