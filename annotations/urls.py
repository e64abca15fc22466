"""URL routes of the server-rendered pages."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from annotations.pages import home, join, judge, raters, results

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
    path("studies/<slug:slug>/raters/", raters.raters_page, name="raters"),
    path(
        "studies/<slug:slug>/raters/<str:rater>/<str:action>/",
        raters.rater_action,
        name="rater-action",
    ),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("join/<str:token>/", join.join, name="join"),
    # The one-time set-password links that add_members prints (Django's reset tokens and
    # password validators); setting the password logs the rater in.
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/password_set.html",
            success_url=reverse_lazy("home"),
            post_reset_login=True,
            # Several backends are configured (the lock-out one first); this one logs in.
            post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
        ),
        name="password-set",
    ),
]
