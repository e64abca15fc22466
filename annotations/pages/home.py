"""The home page: raters see their studies, researchers and admins the studies overview."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotations.selectors.catalog import study_overview_list
from annotations.selectors.judging import rater_studies
from annotations.services.collection import collection_refresh


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_rater:
        # Raters see the open studies with their own progress and a link to judge.
        rows = rater_studies(rater=request.user)
        return render(request, "annotations/home.html", {"rater_rows": rows})
    studies = study_overview_list()
    collections = {
        row.study.pk: collection_refresh(study=row.study)
        for row in studies
        if row.study.target_half_width is not None
    }
    rows = [{"row": row, "collection": collections.get(row.study.pk)} for row in studies]
    return render(request, "annotations/home.html", {"studies": studies, "rows": rows})
