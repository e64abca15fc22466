"""Guards at the request's edge: body caps, database health, CSP, and the error answers."""

from __future__ import annotations

import io
import re
import select
import sys
import tempfile
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.views import defaults

from annotations.errors import error_body, too_large_message
from annotations.services.access import CROWD_SESSION_KEY

# Everything a page needs comes from this site: no inline script, no plugin, no framing, no
# request elsewhere. Views with needs of their own (the API docs) set theirs.
# The judging page relies on it: model outputs are hostile input, and even if a rendering bug
# let markup through, no inline or foreign script, plugin or outside request could run there.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

# The paths that take file uploads (the API's two upload endpoints, the admin's upload page);
# every other body is small. tests/test_deploy_http.py checks these against the URL names.
UPLOAD_PATH = re.compile(
    r"/api/studies/[-\w]+/(?:prompts|judgments)|/admin/annotations/study/upload/"
)
# Multipart framing and the small form fields around the file.
MULTIPART_OVERHEAD = 64 * 1024

# How long a client should wait before trying again while the database is unreachable.
RETRY_AFTER_SECONDS = 5
DATABASE_DOWN_MESSAGE = "The database is unavailable; please try again in a few seconds."


def body_limit(path: str) -> int:
    """The largest request body `path` accepts, in bytes."""
    if UPLOAD_PATH.fullmatch(path):
        return settings.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def _is_api(path: str) -> bool:
    return path.startswith("/api/")


def _error(path: str, status: int, message: str, **extra: Any) -> HttpResponse:
    """An error answer: the API's JSON error body under /api/, a short plain page elsewhere."""
    if _is_api(path):
        body = error_body([{"field": None, "message": message}])
        return JsonResponse({**body, **extra}, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _too_large(path: str, size: int | None, limit: int) -> HttpResponse:
    if size is None:
        message = f"The request body is larger than this endpoint accepts ({limit:,} bytes)."
    else:
        message = too_large_message(size, limit)
    return _error(path, 413, message, max_bytes=limit)


class BodySizeLimitMiddleware:
    """Refuse a request whose declared body is too large with 413, before anything reads it.

    On every path: uploads may carry settings.MAX_UPLOAD_BYTES (plus the form's framing), any
    other body DATA_UPLOAD_MAX_MEMORY_SIZE. Chunked bodies, which declare no length, are capped
    while they stream by ChunkedBodyLimit (in app.wsgi), where the raw stream is at hand.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                size = int(declared)
            except ValueError:
                return _error(request.path, 400, "Content-Length is not a number.")
            limit = body_limit(request.path)
            if size > limit:
                return _too_large(request.path, size, limit)
        return self.get_response(request)


class ChunkedBodyLimit:
    """WSGI wrapper: read a chunked request body up to its path's limit, or answer 413.

    A chunked body declares no length, and Django reads no body without one. Under a server
    that decodes the chunks (gunicorn sets wsgi.input_terminated), the body is read here while
    counting, into memory for small bodies and a temporary file for uploads, and handed on with
    its length; past the limit the request is refused without reading further.
    """

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self.application = application

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (
            "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            and not environ.get("CONTENT_LENGTH")
            and environ.get("wsgi.input_terminated")
        ):
            path = environ.get("PATH_INFO", "")
            limit = body_limit(path)
            body = self._read(environ["wsgi.input"], limit)
            if body is None:
                return self._refuse(path, limit, start_response)
            environ["CONTENT_LENGTH"] = str(body.seek(0, io.SEEK_END))
            body.seek(0)
            environ["wsgi.input"] = body
        return self.application(environ, start_response)

    @staticmethod
    def _read(stream: IO[bytes], limit: int) -> IO[bytes] | None:
        small = limit <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        # Closed by the request once read (Django closes wsgi.input), or here when refused.
        body: IO[bytes] = io.BytesIO() if small else tempfile.TemporaryFile()  # noqa: SIM115
        size = 0
        while True:
            chunk = stream.read(64 * 1024)
            if not chunk:
                return body
            size += len(chunk)
            if size > limit:
                body.close()
                return None
            body.write(chunk)

    @staticmethod
    def _refuse(path: str, limit: int, start_response: Callable[..., Any]) -> list[bytes]:
        response = _too_large(path, None, limit)
        start_response("413 Request Entity Too Large", list(response.items()))
        return [response.content]


def _socket_closed(fileno: int) -> bool:
    """Whether an idle database socket was closed by the server (or has unexpected data).

    An idle connection has nothing to read; after a restart or pg_terminate_backend the server
    has sent its goodbye and closed the socket, which makes it readable. One poll, no round trip.
    """
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fileno, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    readable, _, _ = select.select([fileno], [], [], 0)
    return bool(readable)


class DatabaseHealthMiddleware:
    """Drop a persistent connection the server has closed, before the request uses it.

    Django's CONN_HEALTH_CHECKS runs SELECT 1 before a request's first ORM query, and the rater's
    hand-written SQL bypasses Django's cursors, so neither would catch a restart there. This
    check costs one poll() instead of a round trip, so it stands in for Django's: a connection
    that passes is marked checked, and one that fails is closed and reopened on first use.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        connection = connections[DEFAULT_DB_ALIAS]
        raw = connection.connection
        if raw is not None and not connection.in_atomic_block:
            if raw.closed or raw.broken or _socket_closed(raw.fileno()):
                connection.close()
            else:
                connection.health_check_done = True
        return self.get_response(request)


class CrowdSessionLimit:
    """Mark the user of a crowd-link session with the study it is limited to.

    The access rule (annotations.selectors.judging.MAY_JUDGE_SQL) reads `session_study_id`
    from the user, wherever the user came from (pages, the DRF views, the rater fast lane). A
    request without the session key (token clients, every other session) pays one dict lookup.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        study_id = request.session.get(CROWD_SESSION_KEY)
        if study_id is not None and request.user.is_authenticated:
            request.user.session_study_id = study_id
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """Send DEFAULT_CSP with every response whose view did not choose a policy of its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = DEFAULT_CSP
        return response


def client_ip(request: HttpRequest) -> str | None:
    """The client's address for lock-outs: the peer, or the proxies' X-Forwarded-For entry.

    Behind settings.TRUSTED_PROXY_COUNT proxies, each appending the address it saw, the client
    is the Nth entry from the right; entries further left are whatever the client sent.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count > 0:
        forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR")


# handler400/403/404/500 (app/urls.py): under /api/ every error is JSON in the API's error shape.


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request.path):
        if isinstance(exception, DisallowedHost):
            message = "The Host header names a site this server does not serve."
        else:
            message = "The request could not be understood."
        return _error(request.path, 400, message)
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request.path):
        message = str(exception) if exception and str(exception) else "Permission denied."
        return _error(request.path, 403, message)
    return defaults.permission_denied(request, exception)  # type: ignore[arg-type]


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request.path):
        return _error(request.path, 404, "No API endpoint at this URL.")
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: 503 with Retry-After while the database is unreachable, else 500.

    Django calls this inside its handler of the uncaught exception, so the exception is at hand.
    The page is rendered without a request context: it must not touch the database.
    """
    exception = sys.exception()
    if isinstance(exception, OperationalError | InterfaceError):
        if _is_api(request.path):
            response = _error(request.path, 503, DATABASE_DOWN_MESSAGE)
        else:
            response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if _is_api(request.path):
        return _error(request.path, 500, "Internal server error; it has been logged.")
    return HttpResponse(loader.render_to_string("500.html"), status=500)
