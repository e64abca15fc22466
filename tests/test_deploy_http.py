"""Request-edge guards in process: body caps, JSON errors under /api/, CSP, throttles, settings."""

from __future__ import annotations

import io
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.views import LoginView
from django.core.cache import caches
from django.core.signals import request_started
from django.db import OperationalError, close_old_connections
from django.test import Client, RequestFactory
from django.urls import reverse

from annotations.api import users as users_api
from annotations.models import Study
from app import middleware
from app.serve import secret_key_ensure
from tests.judging_support import judging_study, make_user, user_token

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def _assert_api_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) >= {"detail", "errors"} and body["errors"][0]["message"]
    return body


def _declared(path: str, size: int, content_type: str = "application/json", **extra: Any) -> Any:
    """POST declaring `size` bytes with a stream that records whether anyone read it."""
    stream = io.BytesIO(b"x" * 100)
    response = Client().generic(
        "POST",
        path,
        data=b"",
        CONTENT_LENGTH=str(size),
        CONTENT_TYPE=content_type,
        **{"wsgi.input": stream},
        **extra,
    )
    return response, stream


def test_the_login_page_refuses_a_large_declared_body_before_reading_it() -> None:
    response, stream = _declared("/login/", 5 * 1024 * 1024, "application/x-www-form-urlencoded")
    assert response.status_code == 413 and stream.tell() == 0
    assert response["Content-Type"].startswith("text/plain")


def test_an_api_body_over_the_small_limit_gets_a_json_413(settings: Any) -> None:
    token = user_token("cap-admin", "admin")
    response, stream = _declared(
        "/api/studies", 2 * 1024 * 1024, HTTP_AUTHORIZATION=f"Token {token}"
    )
    body = _assert_api_error(response, 413)
    assert body["max_bytes"] == settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 1024 * 1024
    assert stream.tell() == 0


def test_upload_paths_take_large_bodies_and_the_admin_upload_page_is_capped(settings: Any) -> None:
    settings.MAX_UPLOAD_BYTES = 10 * 1024 * 1024
    for path in (
        reverse("api-upload-prompts", args=["s"]),
        reverse("api-upload-judgments", args=["s"]),
        reverse("admin:annotations_study_upload"),
    ):
        assert middleware.body_limit(path) == settings.MAX_UPLOAD_BYTES + 64 * 1024
    assert middleware.body_limit("/api/studies/s") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    # Past the upload limit the admin page refuses before reading (it used to spool to disk).
    response, stream = _declared(
        reverse("admin:annotations_study_upload"), 20 * 1024 * 1024, "multipart/form-data; b=x"
    )
    assert response.status_code == 413 and stream.tell() == 0


def test_a_content_length_that_is_not_a_number_is_refused() -> None:
    response = Client().generic("POST", "/api/studies", data=b"", CONTENT_LENGTH="lots")
    _assert_api_error(response, 400)


def _wsgi(environ_extra: dict[str, Any], body: bytes) -> tuple[str, bytes, io.BytesIO]:
    """Call the WSGI application (app.wsgi) as gunicorn does with a chunked body."""
    from app.wsgi import application

    stream = io.BytesIO(body)
    fields = {
        "REQUEST_METHOD": "POST",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": stream,
        "wsgi.input_terminated": True,
        **environ_extra,
    }
    environ = RequestFactory()._base_environ(**fields)  # the test client's environ builder
    environ.pop("CONTENT_LENGTH", None)
    seen: list[str] = []
    # Outside the test client, each request would close this test's database connection.
    request_started.disconnect(close_old_connections)
    try:
        content = b"".join(application(environ, lambda status, headers: seen.append(status)))
    finally:
        request_started.connect(close_old_connections)
    return seen[0], content, stream


def test_a_chunked_body_is_capped_while_it_streams() -> None:
    status, content, stream = _wsgi({"PATH_INFO": "/api/studies"}, b"x" * (3 * 1024 * 1024))
    assert status.startswith("413") and b"max_bytes" in content
    # Reading stopped just past the limit: the rest was never read.
    assert stream.tell() <= 1024 * 1024 + 64 * 1024


def test_a_small_chunked_body_reaches_the_view() -> None:
    judging_study(slug="chunk", prompts=1)
    token = user_token("chunk-admin", "admin")
    status, content, _ = _wsgi(
        {
            "PATH_INFO": "/api/studies/chunk",
            "REQUEST_METHOD": "PATCH",
            "CONTENT_TYPE": "application/json",
            "HTTP_AUTHORIZATION": f"Token {token}",
        },
        b'{"description": "streamed"}',
    )
    assert status.startswith("200"), content
    assert Study.objects.get(slug="chunk").description == "streamed"


def test_a_wrong_host_under_api_answers_json_and_pages_answer_html() -> None:
    body = _assert_api_error(Client().get("/api/me", HTTP_HOST="evil.example"), 400)
    assert "Host" in body["detail"]
    page = Client().get("/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and "json" not in page["Content-Type"]


def test_an_unhandled_error_under_api_answers_json_500(monkeypatch: Any) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(users_api.MeView, "get", boom)
    client = Client(raise_request_exception=False)
    client.force_login(make_user("err-rater"))
    body = _assert_api_error(client.get("/api/me"), 500)
    assert "a bug" not in body["detail"]


def test_an_unreachable_database_answers_503_with_retry_after(monkeypatch: Any) -> None:
    def down(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(users_api.MeView, "get", down)
    client = Client(raise_request_exception=False)
    client.force_login(make_user("down-rater"))
    response = client.get("/api/me")
    _assert_api_error(response, 503)
    assert response["Retry-After"] == str(middleware.RETRY_AFTER_SECONDS)
    # Pages answer a plain 503 page, rendered without touching the database.
    monkeypatch.setattr(LoginView, "get", down)
    page = client.get("/login/")
    assert page.status_code == 503 and page["Retry-After"]
    assert b"Temporarily unavailable" in page.content


def test_every_page_sends_a_csp_and_views_with_their_own_keep_it() -> None:
    client = Client()
    login = client.get("/login/")
    assert login["Content-Security-Policy"] == middleware.DEFAULT_CSP
    study = judging_study(slug="csp", prompts=1)
    client.force_login(make_user("csp-rater"))
    judge = client.get(f"/studies/{study.slug}/judge/")
    # Model outputs are hostile: the judging page has the strictest policy, the default one.
    assert judge["Content-Security-Policy"] == middleware.DEFAULT_CSP
    docs = client.get("/api/docs/")
    assert "'unsafe-inline'" in docs["Content-Security-Policy"]  # Swagger UI's own policy
    client.force_login(make_user("csp-admin", "admin"))
    for path in ("/", "/admin/", f"/studies/{study.slug}/results/"):
        assert client.get(path)["Content-Security-Policy"] == middleware.DEFAULT_CSP, path


def test_api_throttles_take_their_rates_from_settings(settings: Any) -> None:
    caches["throttle"].clear()  # the throttles count in their own, per-process cache
    settings.API_THROTTLE_RATES = {"anon": "2/min", "user": "3/min"}
    try:
        # DRF checks permissions first: anonymous calls to the public schema are what count.
        anonymous = [Client().get("/api/schema/").status_code for _ in range(3)]
        assert anonymous == [200, 200, 429]
        token = user_token("busy-admin", "admin")
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        statuses = [client.get("/api/studies").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        _assert_api_error(client.get("/api/studies"), 429)
        settings.API_THROTTLE_RATES = {"anon": "off", "user": "off"}
        assert client.get("/api/studies").status_code == 200
    finally:
        caches["throttle"].clear()


def test_the_health_check_sees_a_socket_the_server_closed() -> None:
    ours, theirs = socket.socketpair()
    try:
        assert middleware._socket_closed(ours.fileno()) is False
        theirs.close()
        assert middleware._socket_closed(ours.fileno()) is True
    finally:
        ours.close()


def test_the_lockout_address_is_the_peer_unless_proxies_are_trusted(settings: Any) -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    assert middleware.client_ip(request) == "10.0.0.9"
    settings.TRUSTED_PROXY_COUNT = 1
    assert middleware.client_ip(request) == "203.0.113.7"


def _settings_value(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.update(DJANGO_SECRET_KEY="x" * 50, DATABASE_URL="postgres://x@127.0.0.1/x", **env)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; " + code,
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "app.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_plain_http_on_loopback_and_https_behaviour_for_a_real_host_name() -> None:
    show = "print(settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE)"
    assert _settings_value(show) == "False False"
    assert _settings_value(show, DJANGO_ALLOWED_HOSTS="prefs.example.org") == "True True"
    assert _settings_value(show, DJANGO_ALLOWED_HOSTS="10.1.2.3", DJANGO_HTTPS="0") == (
        "False False"
    )


def test_connections_persist_only_when_told_and_are_health_checked() -> None:
    show = "d = settings.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    assert _settings_value(show) == "0 True"
    assert _settings_value(show, DJANGO_CONN_MAX_AGE="600") == "600 True"


def test_lockout_limits_come_from_the_environment() -> None:
    show = "print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME.total_seconds())"
    assert _settings_value(
        show, DJANGO_LOGIN_FAILURE_LIMIT="3", DJANGO_LOGIN_LOCKOUT_MINUTES="2"
    ) == ("3 120.0")


def test_the_secret_key_is_generated_once_and_kept(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    key_file = tmp_path / ".secret_key"
    secret_key_ensure(key_file)
    first = os.environ["DJANGO_SECRET_KEY"]
    assert len(first) >= 50 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    monkeypatch.delenv("DJANGO_SECRET_KEY")
    secret_key_ensure(key_file)
    assert os.environ["DJANGO_SECRET_KEY"] == first
    monkeypatch.setenv("DJANGO_SECRET_KEY", "from-the-environment")
    secret_key_ensure(key_file)
    assert os.environ["DJANGO_SECRET_KEY"] == "from-the-environment"
    assert "/.secret_key" in (ROOT / ".gitignore").read_text().split()
