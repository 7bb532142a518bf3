"""Browser tests of the web page: the real service on a loopback port, Chromium via Playwright.

The browser is Debian's Chromium (``/usr/bin/chromium``, or ``$CRYPTOSCORE_CHROMIUM``); ``make
test`` and ``.ci/run`` install it (``scripts/ensure-chromium``). Without it, or without the
``playwright`` package, these tests are skipped with the reason — except in CI
(``CI=true``, as ``.ci/run`` runs), where that fails the run. Playwright launches Chromium
with ``--no-sandbox`` by default (its ``chromium_sandbox=False``), which running as root needs.

Screenshots go to ``test-artifacts/web/`` (gitignored): look at them.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cryptoscore_server.app import create_app
from cryptoscore_server.db import dispose
from cryptoscore_server.launch import serving_in_thread
from tests.helpers.public_story import Story, populate

CHROMIUM = Path(os.environ.get("CRYPTOSCORE_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - dev extra not installed
    sync_playwright = None

_MISSING = (
    "the playwright package is not installed (pip install -e '.[dev]')"
    if sync_playwright is None
    else f"no Chromium at {CHROMIUM}: `make test` installs it (apt-get install chromium, as root)"
    if not CHROMIUM.exists()
    else None
)
if _MISSING is not None:
    if os.environ.get("CI") == "true":  # CI must run them in a real browser, never skip
        pytest.fail(f"the browser tests cannot run: {_MISSING}", pytrace=False)
    pytest.skip(_MISSING, allow_module_level=True)


def web_app(data: Path) -> Flask:
    """A service on SQLite under ``data``, no request log, no Redis: what the pages read."""
    return create_app(
        {
            "DATA_DIR": data / "data",
            "DATABASE_URL": f"sqlite:///{data / 'service.sqlite3'}",
            "LOG_REQUESTS": False,
            "REDIS_URL": None,
        }
    )


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """``app`` served by waitress on a loopback port (its url), disposed afterwards."""
    try:
        with serving_in_thread(app, threads=4) as url:
            yield url
    finally:
        dispose(app)


def leaderboard_json(url: str, challenge: str) -> dict[str, Any]:
    """The public leaderboard of ``challenge`` as the page reads it."""
    with urllib.request.urlopen(f"{url}/api/v1/challenges/{challenge}/leaderboard") as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Flask, Story]]:
    """The service with the story's two challenges, served by waitress; (url, app, story)."""
    data = tmp_path_factory.mktemp("web")
    app = web_app(data)
    story = populate(app)
    try:
        with serving_in_thread(app, threads=4) as url:
            yield url, app, story
    finally:
        dispose(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="session", autouse=True)
def artifacts() -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    return ARTIFACTS


def _open(browser: Browser, **context: Any) -> Iterator[Page]:
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    problems: list[str] = []
    page.on("console", lambda m: m.type in ("error", "warning") and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.set_default_timeout(10_000)
    yield page
    ctx.close()
    # a CSP violation, a failed fetch or a script error shows up here
    assert problems == [], problems


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _open(browser, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from _open(
        browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
