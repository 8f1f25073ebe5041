"""A real browser for the mall's dashboard: headless Chromium from Debian's ``chromium`` package, driven by
the ``playwright`` Python package (never ``playwright install``: its browser downloads are not used here).

Each launch gets a fresh profile folder, no sandbox (containers and CI run as root), no GPU, and none of
Chromium's own network chatter (component updates, sync, background networking), so a test or the demo's
screenshot talks to the mall service on loopback and nothing else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
COUNTER_SCREEN: Any = {"width": 1366, "height": 768}


class BrowserMissing(RuntimeError):
    pass


def chromium() -> str:
    if not Path(CHROMIUM).exists():
        raise BrowserMissing(f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
    return CHROMIUM


@asynccontextmanager
async def browser(viewport: Any = None) -> AsyncIterator[Any]:
    """A Playwright browser context (``await ctx.new_page()``) on a throwaway profile."""
    from playwright.async_api import async_playwright

    profile = tempfile.mkdtemp(prefix="hub-chromium-")
    try:
        async with async_playwright() as p:
            ctx = await p.chromium.launch_persistent_context(
                profile, executable_path=chromium(), headless=True, args=LAUNCH_ARGS,
                viewport=viewport or COUNTER_SCREEN, locale="id-ID", timezone_id="Asia/Jakarta",
                bypass_csp=True)  # the pages keep their CSP; this lets Playwright evaluate its own probes
            try:
                yield ctx
            finally:
                await ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


async def sign_in(page: Any, url: str, token: str) -> None:
    """Open the dashboard and sign in with a staff token; returns once the counts are shown."""
    await page.goto(url)
    await page.fill("#token", token)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_function("document.getElementById('kpi-open').textContent !== '-'")


async def dashboard_screenshot(url: str, token: str, path: Path, *, settle: float = 1.5) -> Path:
    """Sign in to the dashboard at ``url`` and write a 1366x768 screenshot to ``path``."""
    async with browser() as ctx:
        page = await ctx.new_page()
        await sign_in(page, url, token)
        await page.wait_for_timeout(settle * 1000)
        path.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(path))
    return path
