"""URL routes of the REST API (mounted under /api/)."""

from django.urls import path

from annotations.api.exports import StudyExportView
from annotations.api.rating import JudgmentView, NextAssignmentView, SkipView

urlpatterns: list = [
    path("studies/<slug:slug>/export", StudyExportView.as_view(), name="api-study-export"),
    path(
        "studies/<slug:slug>/assignments/next",
        NextAssignmentView.as_view(),
        name="api-assignment-next",
    ),
    path("assignments/<int:pk>/judgment", JudgmentView.as_view(), name="api-assignment-judgment"),
    path("assignments/<int:pk>/skip", SkipView.as_view(), name="api-assignment-skip"),
]
