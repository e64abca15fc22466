"""The invite link's page: sign-up, joining as a logged-in rater, crowd-platform sign-in."""

from __future__ import annotations

from django.contrib.auth import login
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from annotations.errors import validation_message
from annotations.models import Study
from annotations.rendering import markdown_render
from annotations.services.access import (
    CROWD_SESSION_KEY,
    InviteGone,
    arrival_parse,
    crowd_sign_in,
    invite_check,
    invite_find,
    member_join,
    rater_sign_up,
)

# Sign-in through a link proves no password, so the lock-out backend has nothing to count.
SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _stop(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    """A page that says plainly why the link leads nowhere."""
    context = {"title": title, "message": message}
    return render(request, "annotations/join_stop.html", context, status=status)


def _gone(request: HttpRequest, exc: InviteGone) -> HttpResponse:
    message = f"{exc.messages[0]} Ask whoever sent it for a new one."
    return _stop(request, 410, "This link no longer works", message)


def _enter(request: HttpRequest, study: Study) -> HttpResponse:
    return redirect("judge", slug=study.slug)


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """GET/POST /join/<token>/: with a platform's parameters, sign in and judge; else the
    sign-up form (or, logged in as a rater, join at once)."""
    invite = invite_find(token=token)
    if invite is None:
        return _stop(request, 404, "Unknown link", "This invite link is not valid.")
    study = invite.study
    if not study.is_open:
        return _stop(request, 403, "Not open", "This study is not taking raters right now.")
    try:
        arrival = arrival_parse(params=request.GET)
    except ValidationError as exc:
        return _stop(request, 400, "This link is malformed", validation_message(exc))
    if arrival is not None and arrival.preview:
        context = {"study": study, "instructions_html": markdown_render(study.instructions)}
        return render(request, "annotations/join_preview.html", context)
    if (
        arrival is not None
        and request.method == "GET"
        and request.user.is_authenticated
        and request.user.username != arrival.username
    ):
        # A link someone else sent must not silently swap this browser's account for theirs
        # (the work, and the pay, would go to that account): ask first, by POST.
        context = {"study": study, "current": request.user.username, "arrival": arrival}
        return render(request, "annotations/join_switch.html", context)
    try:
        if arrival is not None:
            user = crowd_sign_in(invite=invite, arrival=arrival)
            login(request, user, backend=SIGN_IN_BACKEND)
            request.session[CROWD_SESSION_KEY] = study.pk
            return _enter(request, study)
        if request.user.is_authenticated:
            member_join(invite=invite, user=request.user)
            return _enter(request, study)
        invite_check(invite=invite)
    except InviteGone as exc:
        return _gone(request, exc)
    except ValidationError as exc:
        return _stop(request, 403, "Not for this account", validation_message(exc))

    errors: dict[str, list[str]] = {}
    username = ""
    if request.method == "POST":
        username = request.POST.get("username", "")
        try:
            user = rater_sign_up(
                invite=invite, username=username, password=request.POST.get("password", "")
            )
        except InviteGone as exc:
            return _gone(request, exc)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            login(request, user, backend=SIGN_IN_BACKEND)
            return _enter(request, study)
    context = {
        "study": study,
        "errors": errors,
        "general_errors": errors.get(NON_FIELD_ERRORS, []),
        "username": username,
        "token": token,
    }
    return render(request, "annotations/join.html", context, status=400 if errors else 200)
