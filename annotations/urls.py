"""URL routes of the server-rendered pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from annotations.pages import home, judge, results

urlpatterns = [
    path("", home.home, name="home"),
    path("studies/<slug:slug>/judge/", judge.judge, name="judge"),
    path("studies/<slug:slug>/results/", results.results_page, name="results"),
    path(
        "studies/<slug:slug>/results/figure.<str:fmt>",
        results.results_figure,
        name="results-figure",
    ),
    path(
        "studies/<slug:slug>/results/version",
        results.results_version,
        name="results-version",
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
