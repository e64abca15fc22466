"""The shared results cache: one database table that every process reads, and a missing table
or a failing database is a miss (results still computed), never an error."""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.db import OperationalError, connection

from annotations.analysis import cache as results_cache
from annotations.analysis.cache import study_results
from tests.results_support import hand_study
from tests.served_support import ROOT, database_url

TABLE = "cache_table"


def _in_subprocess(code: str) -> str:
    """Run `code` in a fresh Python with the app's settings against this test database."""
    env = {
        "DJANGO_SETTINGS_MODULE": "app.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": database_url(connection.settings_dict),
        "PATH": "/usr/bin:/bin",
    }
    prelude = "import django, json\ndjango.setup()\nfrom django.core.cache import cache\n"
    result = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _table_exists() -> bool:
    with connection.cursor() as cursor:
        return TABLE in connection.introspection.table_names(cursor)


@pytest.mark.django_db
def test_the_test_database_has_the_cache_table_and_the_default_cache_uses_it() -> None:
    assert _table_exists()
    assert isinstance(caches["default"], DatabaseCache)
    cache.set("probe", {"a": 1})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE cache_key LIKE %s", ["%probe"])
        assert cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_an_entry_set_by_one_process_is_read_by_another() -> None:
    cache.clear()
    cache.set("shared:from-test", {"value": [1, 2.5, "x"]}, 60)
    seen = _in_subprocess("print(json.dumps(cache.get('shared:from-test')))")
    assert json.loads(seen) == {"value": [1, 2.5, "x"]}
    _in_subprocess("cache.set('shared:from-child', {'n': 7}, 60)")
    assert cache.get("shared:from-child") == {"n": 7}
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_results_computed_in_one_process_are_served_in_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.clear()
    study = hand_study(tmp_path, slug="shared-cache")
    computed = _in_subprocess(
        "from annotations.models import Study\n"
        "from annotations.analysis.cache import study_results\n"
        "r = study_results(study=Study.objects.get(slug='shared-cache'))\n"
        "print(json.dumps([r['computed_at'], r['generators'][0]['name']]))"
    )
    computed_at, first_name = json.loads(computed)

    def must_not_compute(**kwargs: Any) -> None:
        raise AssertionError("recomputed although another process had cached the results")

    monkeypatch.setattr(results_cache, "study_results_compute", must_not_compute)
    results = study_results(study=study)
    assert results["computed_at"] == computed_at
    assert results["generators"][0]["name"] == first_name
    cache.clear()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def cache_log() -> Any:
    from app import cache as app_cache

    handler = _Records()
    logger = logging.getLogger("app.cache")
    logger.addHandler(handler)
    app_cache.SharedDatabaseCache._last_warning = -1e9  # the next failure is logged
    yield handler
    logger.removeHandler(handler)


@pytest.mark.django_db
def test_without_the_table_results_are_still_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_log: Any
) -> None:
    study = hand_study(tmp_path, slug="no-cache-table")
    computations = []
    compute = results_cache.study_results_compute

    def counted(**kwargs: Any) -> dict[str, Any]:
        computations.append(1)
        return compute(**kwargs)

    monkeypatch.setattr(results_cache, "study_results_compute", counted)
    # Inside the test's transaction, so the table is back afterwards.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")
    cache.set("anything", 1)  # dropped, no error
    assert cache.get("anything", "missing") == "missing"
    first = study_results(study=study)
    again = study_results(study=study)
    assert first["n_judgments"] == again["n_judgments"] == 13
    assert [r["name"] for r in first["generators"]] == ["Alpha", "Beta"]
    assert len(computations) == 2  # nothing could be cached
    assert any(TABLE in m and "does not exist" in m for m in cache_log.messages)
    # The failed statements ran in savepoints: the surrounding transaction still works.
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM annotations_judgment")
        assert cursor.fetchone()[0] == 13


@pytest.mark.django_db
def test_a_database_failure_in_the_cache_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_log: Any
) -> None:
    study = hand_study(tmp_path, slug="cache-hiccup")

    def hiccup(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(DatabaseCache, "get_many", hiccup)
    monkeypatch.setattr(DatabaseCache, "_base_set", hiccup)
    results = study_results(study=study)
    assert [r["name"] for r in results["generators"]] == ["Alpha", "Beta"]
    assert cache.add("k", 1) is False
    assert any("OperationalError" in m for m in cache_log.messages), cache_log.messages


@pytest.mark.django_db
def test_the_migration_makes_a_missing_cache_table() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")
    assert not _table_exists()
    migration = importlib.import_module("annotations.migrations.0011_cache_table")
    with connection.schema_editor() as editor:
        migration.cache_table_create(None, editor)
    assert _table_exists()
    cache.set("after", 2)
    assert cache.get("after") == 2


def test_api_throttles_count_in_process_memory() -> None:
    from app.throttles import AnonymousThrottle, AuthenticatedThrottle

    for throttle in (AnonymousThrottle, AuthenticatedThrottle):
        backend = throttle.cache._connections[throttle.cache._alias]  # type: ignore[attr-defined]
        assert backend.__class__.__name__ == "LocMemCache"
