"""The rater API's fast lane: the common request answered without DRF's request machinery.

A rater with a token or a session asking for JSON is most of the traffic; serving it here rather
than through DRF's authentication, negotiation, parsing and rendering gave about 8x the
throughput (bench/RESULTS.md). Every other request returns None and goes through the DRF views
(views.py), with the same answers: both paths call answers.py for what they do and say.

When authentication or permissions change, change BOTH paths: `_rater` here repeats, by hand,
what views.JudgingView's TokenAuthentication, SessionAuthentication (with its CSRF check),
IsAuthenticated and IsRater decide; anything it is unsure of must return None so DRF decides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import HttpRequest, HttpResponse
from rest_framework.authentication import CSRFCheck

from annotations.api.judging.answers import (
    Answer,
    judgment_answer,
    next_answer,
    progress_wanted,
    service_error,
)
from annotations.db.prepared import sql_rows
from annotations.models import User
from annotations.services.judging import MAX_RATIONALE, WINNERS

_TOKEN_USER_SQL = (
    "SELECT "  # noqa: S608 - built from fixed fragments; values are bound
    + ", ".join(f"u.{f.column}" for f in User._meta.concrete_fields)
    + " FROM authtoken_token t JOIN annotations_user u ON u.id = t.user_id WHERE t.key = %s"
)
_USER_NAMES = [f.attname for f in User._meta.concrete_fields]


def _rater(request: HttpRequest) -> User | None:
    """The rater making the request when the fast lane may serve it, else None.

    None means "let DRF decide" (it then answers 401/403 with the exact same rules): not a POST,
    no or a malformed Authorization header, an unknown token, an inactive user, a role other
    than rater, a session request without a valid CSRF token, or a client asking for HTML.
    """
    if request.method != "POST" or "text/html" in request.META.get("HTTP_ACCEPT", ""):
        return None
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is not None:
        parts = header.split()
        if len(parts) != 2 or parts[0] != "Token":
            return None
        rows = sql_rows(sql=_TOKEN_USER_SQL, params=[parts[1]])
        if not rows:
            return None
        user = User.from_db(connection.alias, _USER_NAMES, rows[0])
        return user if user.is_active and user.is_rater else None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active or not user.is_rater:
        return None
    # What SessionAuthentication.enforce_csrf does: the page's POSTs carry the CSRF token.
    check = CSRFCheck(lambda _request: None)  # type: ignore[arg-type, return-value]
    check.process_request(request)
    if check.process_view(request, None, (), {}) is not None:
        return None
    return user


def _response(answer: Answer) -> HttpResponse:
    """The body and headers DRF's JSONRenderer and APIView would produce for `answer`."""
    status_code, data = answer
    if data is None:
        response = HttpResponse(status=status_code)
        del response["Content-Type"]
    else:
        response = HttpResponse(
            orjson.dumps(data), status=status_code, content_type="application/json"
        )
    # No "Vary: Accept": the API answers JSON whatever the client accepts, as the DRF views do.
    response["Allow"] = "POST, OPTIONS"
    return response


_JUDGMENT_FIELDS = {"winner", "strength", "criteria", "flags", "rationale", "duration_ms"}


def _plain_judgment_input(request: HttpRequest) -> dict[str, Any] | None:
    """The submitted answer when it is exactly what views.JudgmentInput would accept unchanged.

    Anything else (other content types, coercions such as "2" for 2, every invalid value) goes
    through the serializer, so the answers and error messages stay DRF's own.
    """
    if request.content_type != "application/json":
        return None
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("winner") not in WINNERS:
        return None
    out = {key: value for key, value in data.items() if key in _JUDGMENT_FIELDS}
    for key in ("strength", "duration_ms"):
        value = out.get(key)
        if value is not None and (type(value) is not int or not 0 <= value < 2**31):
            return None
    if not all(isinstance(out.get(key, {}), dict) for key in ("criteria", "flags")):
        return None
    rationale = out.get("rationale", "")
    # DRF's CharField also refuses NUL characters, which PostgreSQL text cannot hold.
    if not isinstance(rationale, str) or len(rationale) > MAX_RATIONALE or "\x00" in rationale:
        return None
    return out


def _served(
    request: HttpRequest, rater: User, endpoint: Callable[..., Answer], /, **kwargs: Any
) -> HttpResponse:
    try:
        result = endpoint(rater=rater, progress=progress_wanted(request), **kwargs)
    except (ValidationError, PermissionDenied) as exc:
        result = service_error(exc)
    return _response(result)


def next_serve(request: HttpRequest, *, slug: str) -> HttpResponse | None:
    """POST .../assignments/next on the fast lane, or None for DRF to serve."""
    rater = _rater(request)
    return None if rater is None else _served(request, rater, next_answer, slug=slug)


def judgment_serve(request: HttpRequest, *, pk: int) -> HttpResponse | None:
    """POST /api/assignments/<id>/judgment on the fast lane, or None for DRF to serve."""
    rater = _rater(request)
    plain = _plain_judgment_input(request) if rater is not None else None
    if rater is None or plain is None:
        return None
    return _served(request, rater, judgment_answer, assignment_id=pk, answer=lambda: plain)
