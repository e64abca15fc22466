"""URL routes of the server-rendered pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from annotations import rating_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("studies/<slug:slug>/judge/", rating_views.judge, name="judge"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
