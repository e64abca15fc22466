"""Server-rendered pages; thin: check the role, call a service or selector, render."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotations.models import Study


@login_required
def home(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.filter(is_open=True) if request.user.is_rater else Study.objects.all()
    return render(request, "annotations/home.html", {"studies": studies})
