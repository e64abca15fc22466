"""The app served as in production: gunicorn with gunicorn.conf.py, debug off, WhiteNoise."""

from __future__ import annotations

import http.client
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from annotations.models import Judgment, Study
from tests.judging_support import TEST_PASSWORD, judging_study, make_user, user_token
from tests.served_support import database_url, gunicorn_served, manage, served_env

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def served(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """gunicorn serving the test database, static files collected as `run.py serve` does."""
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    root = tmp_path_factory.mktemp("served")
    env = served_env(url, root / "staticfiles")
    manage(env, "collectstatic", "--no-input", "--verbosity", "0")
    with gunicorn_served(env, log=root / "gunicorn.log") as base:
        yield base


@pytest.fixture
def production_hasher(settings: Any) -> None:
    """Passwords hashed as the served app checks them (the suite's fast MD5 is not accepted)."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]


def _login(page: Any, served: str, username: str) -> None:
    page.goto(f"{served}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", TEST_PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{served}/")


def _get(url: str, **headers: str) -> Any:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - our own server
    try:
        return urllib.request.urlopen(request, timeout=10)  # noqa: S310
    except urllib.error.HTTPError as error:
        return error


def test_pages_link_hashed_static_files_served_compressed_and_cached(served: str) -> None:
    page = _get(f"{served}/login/").read().decode()
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page)
    assert css, page[:500]
    response = _get(served + css.group(1), **{"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]


def test_debug_is_off_and_pages_carry_the_default_csp(served: str) -> None:
    missing = _get(f"{served}/no-such-page/")
    assert missing.status == 404
    assert "URLconf" not in missing.read().decode()  # Django's debug 404 page names it
    login = _get(f"{served}/login/")
    assert "script-src 'self'" in login.headers["Content-Security-Policy"]


def _chunked(served: str, method: str, path: str, parts: Iterator[bytes], **headers: str) -> Any:
    host, port = served.removeprefix("http://").split(":")
    client = http.client.HTTPConnection(host, int(port), timeout=30)
    client.request(method, path, body=parts, headers=headers, encode_chunked=True)
    response = client.getresponse()
    body = response.read()
    client.close()
    return response.status, response.headers, body


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(served: str) -> None:
    sent = []

    def parts() -> Iterator[bytes]:
        # 2 MB, over the 1 MB limit of the login page; far more would be refused the same way.
        for _ in range(32):
            sent.append(1)
            yield b"x" * 65536

    status, headers, body = _chunked(
        served, "POST", "/login/", parts(), **{"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 413
    # The API answers the same in its JSON error shape.
    status, headers, body = _chunked(
        served, "POST", "/api/studies", parts(), **{"Content-Type": "application/json"}
    )
    assert status == 413 and headers["Content-Type"] == "application/json"
    assert json.loads(body)["max_bytes"] == 1024 * 1024


def test_a_small_chunked_body_reaches_the_view(served: str) -> None:
    judging_study(slug="chunky", prompts=1)
    token = user_token("chunk-admin", "admin")
    body = json.dumps({"description": "sent in chunks"}).encode()
    status, _, answer = _chunked(
        served,
        "PATCH",
        "/api/studies/chunky",
        iter([body[:10], body[10:]]),
        **{"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    assert status == 200, answer
    assert Study.objects.get(slug="chunky").description == "sent in chunks"


@pytest.mark.browser
def test_the_judging_page_works_under_gunicorn_with_its_static_files(
    served: str, browser: Any, production_hasher: None
) -> None:
    judging_study(slug="prod", prompts=2, scale="ternary")
    rater = make_user("prod-rater")
    page = browser.new_page()
    errors: list[str] = []
    console: list[str] = []
    scripts: list[tuple[str, int]] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            console.append(f"{msg.text} {msg.location.get('url')}") if msg.type == "error" else None
        ),
    )
    page.on("response", lambda r: scripts.append((r.url, r.status)))
    _login(page, served, "prod-rater")
    page.goto(f"{served}/studies/prod/judge/")
    page.wait_for_selector("#judge-form:not([hidden])")
    page.wait_for_selector("#submit:not([disabled])")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('judged').textContent === '1'", polling=100
    )
    assert Judgment.objects.filter(rater=rater).count() == 1
    judge_js = [(url, status) for url, status in scripts if "/js/judge." in url]
    assert judge_js and all(status == 200 for _, status in judge_js)
    assert re.search(r"/js/judge\.[0-9a-f]{12}\.js$", judge_js[0][0])
    assert [(url, status) for url, status in scripts if status >= 400] == []
    # Browsers ask for /favicon.ico on their own; the app has none.
    assert errors == [] and [m for m in console if not m.endswith("/favicon.ico")] == []
    page.close()


@pytest.mark.browser
def test_the_results_page_api_docs_and_admin_run_under_their_csp(
    served: str, browser: Any, production_hasher: None
) -> None:
    judging_study(slug="shown", prompts=2)
    make_user("prod-researcher", "researcher")
    page = browser.new_page()
    console: list[str] = []
    page.on(
        "console",
        lambda msg: (
            console.append(f"{msg.text} {msg.location.get('url')}") if msg.type == "error" else None
        ),
    )
    _login(page, served, "prod-researcher")
    page.goto(f"{served}/studies/shown/results/")
    page.wait_for_load_state("networkidle")
    page.goto(f"{served}/api/docs/")
    # Swagger UI builds its page from the schema with its own scripts.
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    page.goto(f"{served}/admin/login/")
    page.wait_for_load_state("networkidle")
    assert [m for m in console if "Content Security Policy" in m] == []
    page.close()
