"""The README's screenshots of the console (docs/img/console-*.png, 1400 px wide), taken from the real
service, the simulated fleet and headless Chromium: `make screenshots` runs this with
LEDCTL_SCREENSHOTS=docs/img. In `make test` it is skipped (it would only write pictures)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import eventually, login, needs_a_browser

OUT = os.environ.get("LEDCTL_SCREENSHOTS")

pytestmark = [needs_a_browser(),
              pytest.mark.skipif(not OUT, reason="writes the README's screenshots: make screenshots")]


def settled(service) -> bool:
    return all(v.intended is None or v.confirmed == v.intended for v in service.dispatcher.view().values())


def test_the_readmes_screenshots(world, page) -> None:
    out = Path(OUT or ".")
    url, fleet, service = world
    eventually(lambda: settled(service), "every board confirmed")
    # The fleet with one problem, as staff would meet it: a board that does not answer.
    fleet.set_fault("zbs-05", offline=True)
    service.dispatcher.check_health()
    eventually(lambda: service.dispatcher.view()["zbs-05"].online is False, "zbs-05 seen offline")
    login(page, url, "li")
    expect(page.locator("#problems li[data-problem=offline]")).to_be_visible(timeout=60_000)
    page.screenshot(path=str(out / "console-fleet.png"), full_page=True)

    page.goto(f"{url}/boards/zbs-01")
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(out / "console-board.png"), full_page=True)

    # The emergency insert with its preview on every kind of board, before the last click.
    page.goto(f"{url}/notices")
    page.click("#insert-templates button:has-text('重污染天气红色预警')")
    page.click("#insert-targets button[data-target=all]")
    page.click("#insert-duration button[data-hours='2']")
    expect(page.locator("#insert-preview img.led").first).to_be_visible()
    page.fill("#insert-reason", "重污染天气红色预警已启动，须立即告知公众")
    page.locator("#insert").screenshot(path=str(out / "console-notice.png"))

    # The play log after a notice reached some boards and not one.
    slots = {"area": "后大街社区", "time": "9:00至12:00"}
    n = world.notices.draft_from_template(world.users["wang"], "water-outage", slots,
                                          targets=["board:zbs-05", "board:zbs-07"],
                                          end=service.clock.now() + timedelta(hours=1))
    world.notices.publish(world.users["wang"], n.id)
    service.notices_changed()
    try:
        eventually(lambda: (v := service.dispatcher.view()["zbs-07"]).confirmed == v.intended, "zbs-07")
        eventually(lambda: any(not d.ok for d in world.console.store.deliveries("zbs-05")), "zbs-05 failed")
        page.goto(f"{url}/playlog")
        expect(page.locator("table.playlog tr[data-confirmed]").first).to_be_visible()
        page.screenshot(path=str(out / "console-playlog.png"), full_page=False)
    finally:
        world.notices.cancel(world.users["wang"], n.id, "截图完成")
        fleet.set_fault("zbs-05", offline=False)
        service.notices_changed()
