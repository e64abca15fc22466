"""The database settings: embedded PostgreSQL by default, DATABASE_URL when set, nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    env.update(extra)
    return env


@pytest.fixture
def pgdata(tmp_path: Path) -> Iterator[Path]:
    data_dir = tmp_path / "pgdata"
    yield data_dir
    if (data_dir / "PG_VERSION").exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset, as in CI
            import pgserver

            # The app leaves the embedded server running on purpose; stop this test's one.
            pgserver.get_server(data_dir, cleanup_mode="stop").cleanup()


SETUP_DJANGO = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'app.settings'; " + (
    "django.setup()"
)

PRINT_START_TIME = (
    "from app.embedded_db import embedded_database_url; import psycopg; "
    "url = embedded_database_url(); "
    "print(psycopg.connect(url).execute('select pg_postmaster_start_time()').fetchone()[0])"
)


def test_embedded_server_starts_once_and_is_reused_across_processes(pgdata: Path) -> None:
    env = _clean_env(PGSERVER_DATA_DIR=str(pgdata))
    first = _run_python(PRINT_START_TIME, env)
    assert first.returncode == 0, first.stderr
    second = _run_python(PRINT_START_TIME, env)
    assert second.returncode == 0, second.stderr
    # Same postmaster start time: the second process reused the running server.
    assert first.stdout.strip() == second.stdout.strip() != ""
    assert (pgdata / "PG_VERSION").read_text().strip() == "16"


def test_without_database_url_django_uses_the_embedded_postgresql(pgdata: Path) -> None:
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'app.settings'; "
        "django.setup(); from django.db import connection; "
        "print(connection.vendor, connection.cursor().connection.info.server_version, "
        "connection.settings_dict['HOST'])"
    )
    result = _run_python(code, _clean_env(DJANGO_DEBUG="1", PGSERVER_DATA_DIR=str(pgdata)))
    assert result.returncode == 0, result.stderr
    vendor, version, host = result.stdout.split()
    assert vendor == "postgresql"
    assert int(version) // 10000 == 16
    # pgserver listens on a Unix socket in (or beside) its data directory, not on TCP.
    assert host.startswith("/")


def test_database_url_is_used_when_set() -> None:
    url = "postgres://someone:secret@db.example.org:6543/prefs"
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'app.settings'; "
        "django.setup(); from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['ENGINE'], d['HOST'], d['PORT'], d['NAME'], d['USER'])"
    )
    result = _run_python(code, _clean_env(DJANGO_DEBUG="1", DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "db.example.org",
        "6543",
        "prefs",
        "someone",
    ]


def test_a_non_postgresql_database_url_is_refused() -> None:
    code = SETUP_DJANGO
    result = _run_python(code, _clean_env(DJANGO_DEBUG="1", DATABASE_URL="sqlite:///x.db"))
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


def test_secret_key_is_required_when_debug_is_off() -> None:
    code = SETUP_DJANGO
    result = _run_python(code, _clean_env(DATABASE_URL="postgres://x@127.0.0.1/x"))
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_debug_is_off_by_default_in_the_test_settings() -> None:
    assert settings.DEBUG is False


def test_the_test_database_is_postgresql(db: None) -> None:
    from django.db import connection

    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("select version()")
        assert cursor.fetchone()[0].startswith("PostgreSQL")
    assert isinstance(connection.connection, psycopg.Connection)
