"""Helpers for the judging page's browser tests: log in, wait for a pair, watch, screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.judging_support import TEST_PASSWORD

# The sizes every judging-page rule is checked at: a laptop and a phone.
SIZES = [(1440, 900), (390, 844)]
SIZE_IDS = ["1440x900", "390x844"]


class Watcher:
    """Collects what the page did: errors, dialogs, CSP reports, JSON bodies it received."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.console: list[str] = []
        self.json_bodies: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("dialog", self._dialog)
        page.on("console", lambda message: self.console.append(message.text))
        page.on("response", self._response)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _response(self, response: Any) -> None:
        if "/api/" in response.url and response.status != 204:
            try:
                self.json_bodies.append(response.text())
            except Exception:  # a body may be gone after navigation
                self.json_bodies.append("")

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m]


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    # autofocus may land after the first keystrokes; focus the field before typing.
    page.focus("#id_username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(TEST_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")


def wait_for_assignment(page: Any, previous_left: str | None = None) -> str:
    """Wait until a pair is shown (a new one when `previous_left` is given); its left text."""
    page.wait_for_selector("#judge-form:not([hidden])")
    page.wait_for_function(
        "document.getElementById('output-left').textContent.trim() !== ''", polling=100
    )
    if previous_left is not None:
        page.wait_for_function(
            "prev => document.getElementById('output-left').textContent !== prev",
            arg=previous_left,
            polling=100,
        )
    page.wait_for_selector("#submit:not([disabled])")
    return page.inner_text("#output-left").strip()


def open_judge_page(
    browser: Any, base: str, *, username: str, slug: str, size: tuple[int, int]
) -> tuple[Any, Watcher]:
    """A logged-in rater's judging page at `size`, with its first pair shown."""
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    watcher = Watcher(page)
    login(page, base, username)
    page.goto(f"{base}/studies/{slug}/judge/")
    wait_for_assignment(page)
    return page, watcher


def in_viewport(page: Any, selector: str) -> bool:
    """Whether the element's whole box is inside the window."""
    return page.eval_on_selector(
        selector,
        """e => { const r = e.getBoundingClientRect();
                  return r.width > 0 && r.top >= 0 && r.left >= 0
                      && r.bottom <= window.innerHeight + 0.5
                      && r.right <= window.innerWidth + 0.5; }""",
    )


def screenshot(page: Any, name: str, size: tuple[int, int]) -> None:
    """Save a screenshot for a look by eye when JUDGE_SCREENSHOTS names a folder (else none)."""
    folder = os.environ.get("JUDGE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}-{size[0]}x{size[1]}.png"))
