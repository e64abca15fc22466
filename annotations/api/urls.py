"""URL routes of the REST API (mounted under /api/)."""

from django.urls import path

from annotations.api.docs import DocsView, SchemaView
from annotations.api.exports import StudyExportView
from annotations.api.rating.views import JudgmentView, NextAssignmentView, SkipView
from annotations.api.results import StudyResultsView
from annotations.api.studies import (
    GeneratorDetailView,
    GeneratorListView,
    StudyDetailView,
    StudyListView,
)
from annotations.api.uploads import JudgmentUploadView, PromptUploadView
from annotations.api.users import MeView, UserDetailView, UserListView

urlpatterns: list = [
    path("schema/", SchemaView.as_view(), name="api-schema"),
    path("docs/", DocsView.as_view(), name="api-docs"),
    path("me", MeView.as_view(), name="api-me"),
    path("studies", StudyListView.as_view(), name="api-studies"),
    path("studies/<slug:slug>", StudyDetailView.as_view(), name="api-study"),
    path("studies/<slug:slug>/generators", GeneratorListView.as_view(), name="api-generators"),
    path(
        "studies/<slug:slug>/generators/<int:pk>",
        GeneratorDetailView.as_view(),
        name="api-generator",
    ),
    path("studies/<slug:slug>/prompts", PromptUploadView.as_view(), name="api-upload-prompts"),
    path(
        "studies/<slug:slug>/judgments", JudgmentUploadView.as_view(), name="api-upload-judgments"
    ),
    path("users", UserListView.as_view(), name="api-users"),
    path("users/<str:username>", UserDetailView.as_view(), name="api-user"),
    path("studies/<slug:slug>/export", StudyExportView.as_view(), name="api-study-export"),
    path("studies/<slug:slug>/results", StudyResultsView.as_view(), name="api-study-results"),
    path(
        "studies/<slug:slug>/assignments/next",
        NextAssignmentView.as_view(),
        name="api-assignment-next",
    ),
    path("assignments/<int:pk>/judgment", JudgmentView.as_view(), name="api-assignment-judgment"),
    path("assignments/<int:pk>/skip", SkipView.as_view(), name="api-assignment-skip"),
]
