"""URL routes of the server-rendered pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from annotations import rating_views, results_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("studies/<slug:slug>/judge/", rating_views.judge, name="judge"),
    path("studies/<slug:slug>/results/", results_views.results_page, name="results"),
    path(
        "studies/<slug:slug>/results/figure.<str:fmt>",
        results_views.results_figure,
        name="results-figure",
    ),
    path(
        "studies/<slug:slug>/results/version",
        results_views.results_version,
        name="results-version",
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
