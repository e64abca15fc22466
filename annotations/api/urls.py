"""URL routes of the REST API (mounted under /api/)."""

from django.urls import URLPattern, path
from django.views import View

from annotations.api.access import ProgressView, RosterView
from annotations.api.docs import DocsView, SchemaView
from annotations.api.exports import StudyExportView
from annotations.api.judging.views import (
    JudgmentView,
    NextAssignmentView,
    RevisionView,
    SkipView,
)
from annotations.api.quality import (
    RaterExcludeView,
    RaterIncludeView,
    RaterPauseView,
    RaterResumeView,
)
from annotations.api.results import StudyResultsView
from annotations.api.studies import (
    GeneratorDetailView,
    GeneratorListView,
    StudyDetailView,
    StudyListView,
)
from annotations.api.uploads import GoldUploadView, JudgmentUploadView, PromptUploadView
from annotations.api.users import MeView, UserDetailView, UserListView

# (route, view, URL name), one line each so the whole API reads as a table.
_ROUTES: list[tuple[str, type[View], str]] = [
    ("schema/", SchemaView, "api-schema"),
    ("docs/", DocsView, "api-docs"),
    ("me", MeView, "api-me"),
    ("studies", StudyListView, "api-studies"),
    ("studies/<slug:slug>", StudyDetailView, "api-study"),
    ("studies/<slug:slug>/generators", GeneratorListView, "api-generators"),
    ("studies/<slug:slug>/generators/<int:pk>", GeneratorDetailView, "api-generator"),
    ("studies/<slug:slug>/prompts", PromptUploadView, "api-upload-prompts"),
    ("studies/<slug:slug>/judgments", JudgmentUploadView, "api-upload-judgments"),
    ("studies/<slug:slug>/gold", GoldUploadView, "api-upload-gold"),
    ("users", UserListView, "api-users"),
    ("users/<str:username>", UserDetailView, "api-user"),
    ("studies/<slug:slug>/export", StudyExportView, "api-study-export"),
    ("studies/<slug:slug>/results", StudyResultsView, "api-study-results"),
    ("studies/<slug:slug>/assignments/next", NextAssignmentView, "api-assignment-next"),
    ("studies/<slug:slug>/progress", ProgressView, "api-study-progress"),
    ("studies/<slug:slug>/raters", RosterView, "api-study-raters"),
    ("studies/<slug:slug>/raters/<str:rater>/exclude", RaterExcludeView, "api-rater-exclude"),
    ("studies/<slug:slug>/raters/<str:rater>/include", RaterIncludeView, "api-rater-include"),
    ("studies/<slug:slug>/raters/<str:rater>/pause", RaterPauseView, "api-rater-pause"),
    ("studies/<slug:slug>/raters/<str:rater>/resume", RaterResumeView, "api-rater-resume"),
    ("assignments/<int:pk>/judgment", JudgmentView, "api-assignment-judgment"),
    ("assignments/<int:pk>/skip", SkipView, "api-assignment-skip"),
    ("assignments/<int:pk>/revision", RevisionView, "api-assignment-revision"),
]

urlpatterns: list[URLPattern] = [
    path(route, view.as_view(), name=name) for route, view, name in _ROUTES
]
