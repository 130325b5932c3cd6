"""The console in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), against the
real service, the simulated fleet and a real Mosquitto: log in, see 42 boards, draft a notice, a
second and a third user sign off the review chain (office review with 保密审查, the deputy head's
approval) and publish it, the targeted simulated boards show it, cancel, they stop.
Every page also works with the network cut off: nothing is fetched from anywhere but the console."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from playwright.sync_api import expect

from .conftest import PASSWORDS, community_cards, eventually, login, needs_a_browser

pytestmark = needs_a_browser()


def test_log_in_draft_approve_show_cancel(world, page) -> None:
    url, fleet, service = world
    login(page, url, "wang")
    assert page.locator(".board").count() == 42
    assert page.locator("h1").inner_text().startswith("屏幕总览")
    eventually(lambda: service.dispatcher.pending(due_only=False) == [], "every board confirmed")

    page.goto(f"{url}/notices")
    text = "明天上午九点到十二点城河社区停水，请提前储水。"
    page.fill("textarea[name=text]", text)
    page.fill("input[name=title]", "停水通知")
    page.check("input[value='group:community']")
    end = (datetime.now(service.dep.tz) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("input[name=end]", end)
    page.wait_for_selector("#preview img")  # the live preview on the target boards
    page.click("#draft button[type=submit]")
    page.wait_for_url(f"{url}/notices/*")
    notice_url = page.url
    assert "草稿" in page.inner_text("#notice-state")
    assert page.locator("[data-action=approve]").count() == 0  # the author gets no approve button

    page.click("[data-logout]")
    page.wait_for_url(f"{url}/login")
    login(page, url, "li")
    page.goto(notice_url)
    # The office's review (办公室审核): signed off only with the confidentiality review ticked.
    expect(page.locator("#chain [data-stage=office]")).to_contain_text("下一步")
    expect(page.locator("[data-action=approve]")).to_be_disabled()
    page.check("#confidentiality-checked")
    page.click("[data-action=approve]")
    expect(page.locator("#chain [data-stage=office]")).to_contain_text("已保密审查")
    expect(page.locator("[data-action=approve]")).to_have_count(0)  # li acted: the leader is another
    expect(page.locator("#why-no-approve")).to_be_visible()
    page.click("[data-logout]")
    page.wait_for_url(f"{url}/login")
    login(page, url, "zhao")  # the deputy head in charge (分管领导审批)
    page.goto(notice_url)
    page.click("[data-action=approve]")
    page.wait_for_selector("[data-action=publish]")
    page.click("[data-action=publish]")
    page.wait_for_selector("#delivered")
    # The live update (server-sent events) counts the boards up.
    expect(page.locator("#delivered")).to_have_text(re.compile(r"^40/40"), timeout=60_000)
    cards = community_cards(fleet)
    assert len(cards) == 40
    assert all(any("城河社区停水" in t for t in card.text_areas.values()) for card in cards)

    page.click("[data-action=cancel]")  # a reason is asked in the console's own dialog
    page.fill("#reason-dialog textarea[name=reason]", "检修取消")
    page.click("#reason-ok")
    expect(page.locator("#notice-state")).to_contain_text("撤销")
    eventually(lambda: all(not card.text_areas for card in cards), "the notice gone from every card")
    assert all(card.bitmap is not None for card in cards)  # the bulletin picture again


def test_every_page_works_offline_in_both_languages(world, page) -> None:
    url = world[0]
    page.goto(f"{url}/login?next=/%5Cevil.example/")  # after logging in, never off to another site
    page.fill("input[name=name]", "li")
    page.fill("input[name=password]", PASSWORDS["li"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")  # the console's front page, not the other site
    for lang, word in (("zh", "屏幕总览"), ("en", "Fleet")):
        for path in ("/", "/data", "/notices", "/playlog", "/audit", "/reports", "/boards/zbs-01", "/sim"):
            response = page.goto(f"{url}{path}?lang={lang}")
            assert response is not None and response.status == 200, path
            assert page.locator("header nav").inner_text().count(word) == 1, (path, lang)
    page.goto(f"{url}/sim")
    assert page.locator("img[data-which=sim]").count() == 42
