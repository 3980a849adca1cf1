"""Playwright driving Debian's Chromium (Playwright's own browser download is not used)."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MEDASSIST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make to set
# up data are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items):  # type: ignore[no-untyped-def]
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        if os.environ.get("MEDASSIST_REQUIRE_BROWSER"):
            pytest.fail(f"Chromium not found at {CHROMIUM} (run `make browser-deps`)")
        pytest.skip(f"Chromium not found at {CHROMIUM}; `make browser-deps` installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page_for(browser, live_server):  # type: ignore[no-untyped-def]
    """A fresh browser context (own cookies) per person; closed at the end of the test."""
    contexts = []

    def make(viewport=(1280, 860)):  # type: ignore[no-untyped-def]
        context = browser.new_context(
            base_url=live_server.url, viewport={"width": viewport[0], "height": viewport[1]}
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:  # type: ignore[no-untyped-def]
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
