"""The dashboard and the citizen page in a real browser (headless Chromium from Debian, Playwright): the
dashboard loads, shows the live counts, updates when new events arrive, opens a request's timeline on click,
fits a 1366x768 counter screen, switches to English; the citizen page answers."""

from __future__ import annotations

import asyncio

import httpx

from hub.core.enrichment import citizen_check
from hub.dev.browser import browser, sign_in
from hub.mall.auth import StaffDirectory, digest
from hub.mall.service import MallService
from tests.integration.mall.conftest import KEY, as_mall, now, simulated

TOKEN = "browser-test-manager-token"


async def api_counts(client: httpx.AsyncClient) -> dict:
    return (await client.get("/v1/summary", headers={"Authorization": f"Bearer {TOKEN}"})).json()["counts"]


async def test_dashboard_and_citizen_page_in_chromium(mall_traffic, tmp_path):
    traffic = mall_traffic
    settings = as_mall(traffic.settings, mall_database=f"sqlite:{tmp_path / 'mall.sqlite'}", mall_port=0)
    staff = StaffDirectory([{"name": "Bu Manajer", "role": "manager", "token_sha256": digest(TOKEN)}])
    if not traffic.submitted:
        await traffic.publish(simulated(seed=5, now=now()))
        await traffic.quiet()
    async with MallService(settings, staff=staff) as mall, httpx.AsyncClient(base_url=mall.url) as client, \
            browser() as ctx:
        await asyncio.wait_for(mall.follower.caught_up.wait(), 60)
        page = await ctx.new_page()
        await sign_in(page, mall.url, TOKEN)
        await page.wait_for_function("document.querySelector('#live').classList.contains('on')")

        # The counts are the API's.
        counts = await api_counts(client)
        assert await page.inner_text("#kpi-open") == str(counts["open"])
        assert await page.inner_text("#kpi-new-today") == str(counts["new_today"])
        assert await page.locator("#by-agency tr").count() > 0
        assert await page.evaluate("document.documentElement.scrollWidth") <= 1366  # no sideways scrolling

        # New events arrive: the live feed grows and the counts follow.
        before = int(await page.inner_text("#live-count"))
        await traffic.publish(simulated(seed=123, now=now(), duration=3.0, backlog=0, journeys=0))
        await page.wait_for_function(
            f"Number(document.getElementById('live-count').textContent) > {before + 5}", timeout=60_000)
        await traffic.quiet(seconds=2)
        await asyncio.sleep(1.5)
        counts = await api_counts(client)
        await page.wait_for_function(
            f"document.getElementById('kpi-new-today').textContent === '{counts['new_today']}'",
            timeout=20_000)
        assert await page.locator("#live-events li").count() > 5

        # A request's timeline on click.
        await page.select_option("#req-filter", "all")
        await page.wait_for_timeout(500)
        row = page.locator("#request-rows tr").first
        request_id = await row.get_attribute("data-id")
        await row.click()
        await page.wait_for_selector("#timeline:not([hidden])")
        detail = (await client.get(f"/v1/requests/{request_id}",
                                   headers={"Authorization": f"Bearer {TOKEN}"})).json()
        assert await page.locator("#timeline-steps .step").count() == len(detail["history"])
        assert request_id in await page.inner_text("#timeline-title")
        assert detail["history"][-1]["citizen_text"] in await page.inner_text("#timeline-steps")
        await page.screenshot(path=str(tmp_path / "dashboard.png"))

        # English on request.
        await page.click("#lang")
        assert await page.inner_text("header h1") == "Banyuwangi Public Service Mall dashboard"

        # The citizen page: right digits answer, wrong ones do not (and say so alike for unknown ids).
        row = next(r for r in await mall.store.rows() if r.kind == "request" and r.citizen_check)
        right = next(f"{n:04d}" for n in range(10000)
                     if citizen_check(row.request_id, f"{n:04d}", KEY.encode()) == row.citizen_check)
        citizen = await ctx.new_page()
        await citizen.goto(f"{mall.url}/citizen")
        await citizen.fill("#request-id", row.request_id)
        await citizen.fill("#last4", right)
        await citizen.click("#lookup button[type=submit]")
        await citizen.wait_for_selector("#answer:not([hidden])")
        assert row.request_id in await citizen.inner_text("#answer-title")
        assert await citizen.locator("#answer-steps .step").count() == row.events
        await citizen.fill("#request-id", row.request_id)
        await citizen.fill("#last4", f"{(int(right) + 1) % 10000:04d}")
        await citizen.click("#lookup button[type=submit]")
        await citizen.wait_for_function("document.getElementById('answer-error').textContent.length > 0")
        assert await citizen.is_hidden("#answer")
