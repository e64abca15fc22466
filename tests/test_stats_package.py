"""The stats package: what it re-exports, that it stays free of Django, and what loads when."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from annotations import stats

PACKAGE = Path(stats.__file__).parent
MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__init__.py")


def _public_names(path: Path) -> set[str]:
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if not name.startswith("_")}


def test_the_package_re_exports_every_public_name_of_its_modules() -> None:
    internal = {"bootstrap.py"}  # the shared resampling machinery, used by the modules only
    expected = set().union(
        *(
            _public_names(p)
            for p in MODULES
            if p.name not in internal and not p.name.startswith("_")
        )
    )
    assert set(stats.__all__) == expected
    for name in stats.__all__:
        assert getattr(stats, name) is not None
    assert stats.DEFAULT_RESAMPLES == 2000


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_estimate"):
        stats.no_such_estimate  # noqa: B018


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_stats_modules_import_no_django_and_nothing_outside_the_package(path: Path) -> None:
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    for module in imported:
        assert not module.startswith("django"), module
        assert not module.startswith("annotations.") or module.startswith("annotations.stats"), (
            module
        )


def test_url_configuration_and_commands_load_neither_scipy_nor_matplotlib() -> None:
    # A fresh interpreter: this test process has long imported both.
    script = """
import sys
import django
django.setup()
from django.core.management import get_commands, load_command_class
from django.urls import get_resolver
get_resolver().url_patterns
for name, app in get_commands().items():
    if app == "annotations":
        load_command_class(app, name)
from annotations import stats
stats.DEFAULT_RESAMPLES
print(sorted({m.split(".")[0] for m in sys.modules} & {"scipy", "matplotlib"}))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "app.settings_test"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stderr


def test_the_results_computation_runs_without_django_settings_models_or_a_database() -> None:
    # No DJANGO_SETTINGS_MODULE and no django.setup(): the pure computation and its input types
    # must import and run on their own (Django's exception classes are plain Python).
    script = """
import sys
from annotations.analysis import compute, inputs
heavy = ("django.db", "django.conf", "annotations.models")
print(sorted(m for m in sys.modules if m.startswith(heavy)))
"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
