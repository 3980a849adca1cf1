"""Take the README's screenshots from a running demo server (`make demo` in another terminal).

    .venv/bin/python docs/screenshots/take.py [http://127.0.0.1:8000]

Drives Debian's Chromium through Playwright, signed in as alice, the demo medical assistant,
then as bob, the demo provider, for his lab results inbox.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]  # fmt: skip


def sign_in(page, base_url: str, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/account/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("medassist-demo")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base_url}/")


def settle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the page's requests (stylesheets, the HTMX banners) are done and drawn."""
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)


def main(base_url: str) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(base_url=base_url, viewport={"width": 1280, "height": 800})
        sign_in(page, base_url, "alice")
        page.keyboard.press("/")
        page.keyboard.type("abernathy jos")
        page.locator("#patient-results").get_by_text("Abernathy, Josephine").wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_url("**/patients/**")
        page.screenshot(path=str(HERE / "chart.png"))
        page.goto("/flow/board/")
        page.get_by_role("heading", name="North Family Medicine").wait_for()
        page.screenshot(path=str(HERE / "flow-board.png"))
        # The demo's 4-month-old, in a room with her 4-month vaccines due.
        page.goto("/")
        page.keyboard.press("/")
        page.keyboard.type("bello amara")
        page.locator("#patient-results").get_by_text("Bello, Amara").wait_for()
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_url("**/patients/**")
        page.get_by_role("link", name="Give vaccines").first.click()
        page.get_by_role("heading", name="Give vaccines").wait_for()
        page.screenshot(path=str(HERE / "immunizations.png"))
        # Today's specimens to draw, each requisition's tubes in the order of draw.
        page.get_by_role("navigation", name="Account").get_by_role("link", name="Specimens").click()
        page.get_by_role(
            "heading", name="Specimens to collect today: North Family Medicine"
        ).wait_for()
        settle(page)
        page.screenshot(path=str(HERE / "labs-worklist.png"))
        # This morning's results waiting for Dr Okafor, the critical potassium first.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/account/login/**")
        sign_in(page, base_url, "bob")
        page.get_by_role("navigation", name="Account").get_by_role("link", name="Results").click()
        page.get_by_role("heading", name="Results to review").wait_for()
        settle(page)
        page.screenshot(path=str(HERE / "labs-inbox.png"))
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
