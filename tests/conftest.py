"""Shared pytest fixtures: the headless Chromium the browser tests drive."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

# Debian's Chromium, started as the machine's probe showed works here: no sandbox as root, and no
# background networking (the machine's closed network refuses those connections).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run (Playwright cannot download its own here)."""
    # Playwright's sync API runs an event loop in the test thread; the tests' ORM calls are
    # synchronous and safe, so Django's async-safety guard is told so.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
