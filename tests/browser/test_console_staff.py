"""The console as the bureau's office staff use it (issue 18), in headless Chromium against the real
service, the simulated fleet and a real Mosquitto: local times with one offset, live badges and the
problems first, pictures at whole LED scales, plain Chinese that says what to do (English in the
English view), the emergency insert in four clicks, the notice form, the play log, the audit log,
the reports and the demo's fault switches."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

from playwright.sync_api import expect

from .conftest import community_cards, eventually, login, needs_a_browser, settled

pytestmark = needs_a_browser()

TEXT = "明天上午九点到十二点城河社区停水，请提前储水。"


def _wall(t, tz) -> str:
    return f"{t.astimezone(tz):%H:%M}"


# -- 1. times -----------------------------------------------------------------------------------------


def test_every_time_is_local_and_the_api_speaks_one_offset(world, page) -> None:
    tz = world.console.dep.tz
    now = world.service.clock.now()  # the clock's instant is UTC, as a CLI draft's start is
    end = (now + timedelta(hours=1)).astimezone(tz)
    n = world.notices.draft(world.users["wang"], title="停水通知", text=TEXT, level="normal",
                            targets=["group:community"], start=now, end=end)
    try:
        login(page, world.url, "wang")
        doc = page.request.get(f"{world.url}/api/notices/{n.id}").json()
        offsets = {doc[k][-6:] for k in ("start", "end", "created")}
        assert offsets == {"+08:00"}, doc  # one offset throughout, the deployment's
        window = f"{_wall(now, tz)} – {_wall(end, tz)}"
        page.goto(f"{world.url}/notices")
        row = page.locator("#notice-list tr", has=page.locator(f"a[href='/notices/{n.id}']")).first
        expect(row.locator("[data-window]")).to_have_text(window)  # 06:19 – 07:19, not 22:19 – 07:19
        page.goto(f"{world.url}/notices/{n.id}")
        expect(page.locator("#window")).to_contain_text(window)
        page.goto(f"{world.url}/audit")
        first = page.locator("#audit tr[data-action=draft] td").nth(1).inner_text()
        assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", first)
        assert abs(int(first[:2]) - now.astimezone(tz).hour) in (0, 1, 23)  # Beijing time, not UTC
    finally:
        world.notices.cancel(world.users["wang"], n.id, "测试结束")


# -- 2 and 7. live badges, the problems strip, filters ----------------------------------------------------


def test_a_board_going_offline_shows_live_in_its_badges_and_the_problems_strip(world, page) -> None:
    url, fleet, service = world
    eventually(lambda: settled(service), "every board confirmed")
    login(page, url, "wang")
    card = page.locator("#b-zbs-05")
    expect(card.locator("[data-online]")).to_have_text("在线")
    expect(page.locator("#problems")).to_contain_text("全部屏幕在线")
    fleet.set_fault("zbs-05", offline=True)
    service.dispatcher.check_health()
    try:
        # No reload: the card's own badges and the strip at the top follow the board.
        expect(card.locator("[data-online]")).to_have_text("离线", timeout=60_000)
        expect(card.locator("[data-state-text]")).to_have_text("离线")
        problem = page.locator("#problems li[data-problem=offline]")
        expect(problem).to_contain_text("zbs-05")
        expect(problem).to_contain_text("请检查屏的电源和通信线路")  # why, in plain words, and what to do
        expect(card.locator("[data-why]")).to_contain_text("屏没有应答")
        assert "no reply" not in page.locator("main").inner_text()

        # Filter and search by state, area, group and name.
        page.select_option("#filters select[name=state]", "offline")
        expect(page.locator(".board:visible")).to_have_count(1)
        page.select_option("#filters select[name=state]", "problem")
        expect(page.locator(".board:visible")).to_have_count(1)
        page.select_option("#filters select[name=state]", "")
        page.fill("#filters input[name=q]", "城河社区")
        expect(page.locator(".board:visible")).to_have_count(4)
        page.fill("#filters input[name=q]", "")
        page.select_option("#filters select[name=area]", "城区")
        expect(page.locator(".board:visible")).to_have_count(1)
        page.select_option("#filters select[name=area]", "")
        page.select_option("#filters select[name=group]", "legacy-mono")
        expect(page.locator(".board:visible")).to_have_count(4)
    finally:
        fleet.set_fault("zbs-05", offline=False)
        service.dispatcher.check_health()
    expect(card.locator("[data-online]")).to_have_text("在线", timeout=60_000)
    expect(page.locator("#problems li[data-problem=offline]")).to_have_count(0, timeout=60_000)


# -- 6. pictures at whole LED scales ------------------------------------------------------------------------

LOADED = "() => [...document.querySelectorAll('img.led')].every(i => i.complete && i.naturalWidth > 0)"
SIZES = """() => [...document.querySelectorAll('img.led')].filter(i => i.offsetParent !== null).map(i => ({
  board: (i.closest('[data-board]') || {dataset: {}}).dataset.board, natural: i.naturalWidth,
  naturalHeight: i.naturalHeight, shown: i.clientWidth, shownHeight: i.clientHeight}))"""


def test_board_pictures_are_drawn_at_whole_led_scales_and_enlarge_on_click(world, page) -> None:
    url, _, service = world
    widths = {b.id: b.size.width for b in service.dep.boards}
    login(page, url, "wang")
    page.wait_for_function(LOADED)
    pictures = page.evaluate(SIZES)
    assert len(pictures) == 42
    for p in pictures:  # never resampled by the browser: the server drew the dots
        assert p["shown"] == p["natural"] and p["shownHeight"] == p["naturalHeight"], p
        assert p["natural"] % widths[p["board"]] == 0 and p["natural"] // widths[p["board"]] >= 2, p
    thumb = next(p for p in pictures if p["board"] == "zbs-01")["natural"]
    page.click("#b-zbs-01 button[data-zoom]")
    big = page.locator("#zoom img.led")
    expect(big).to_be_visible()
    page.wait_for_function("() => document.querySelector('#zoom img.led').naturalWidth > 0")
    assert big.evaluate("i => i.naturalWidth") > thumb and big.evaluate("i => i.naturalWidth") % 128 == 0
    page.click("#zoom [data-close]")

    page.goto(f"{url}/boards/zbs-01")
    page.wait_for_function(LOADED)
    assert all(p["shown"] == p["natural"] for p in page.evaluate(SIZES))

    # The draft's preview: a long text scrolls on the small boards; its strip keeps its aspect.
    page.goto(f"{url}/notices")
    page.fill("input[name=title]", "停水通知")
    page.fill("textarea[name=text]", TEXT * 3)
    page.check("#draft input[value='group:community']")
    page.wait_for_selector("#preview img.led")
    page.wait_for_function(LOADED)
    for p in page.evaluate(SIZES):
        assert p["shown"] == p["natural"] and p["shownHeight"] == p["naturalHeight"], p


# -- 8. plain words ------------------------------------------------------------------------------------------


def test_messages_say_what_happened_and_what_to_do_in_chinese_naming_boards_once(world, page) -> None:
    url = world.url
    page.goto(f"{url}/login")
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#error")).to_contain_text("用户名或密码不正确")
    assert "wrong user name" not in page.locator("#error").inner_text()

    login(page, url, "wang")
    page.goto(f"{url}/notices")
    page.fill("input[name=title]", "停水通知")
    page.fill("textarea[name=text]", "明天停水，请储水𠮷。")  # a character the boards' fonts lack
    page.check("#draft input[value='group:community']")
    errors = page.locator("#fit-errors li")
    expect(errors.first).to_be_visible()
    said = "\n".join(errors.all_inner_texts())
    assert errors.count() <= 3, said  # one line per distinct problem, not one per board
    assert "𠮷" in said and "U+20BB7" in said and "字库" in said, said
    assert "zbs-01–zbs-" in said and "块屏" in said, said
    assert said.count("zbs-02") == 0, said  # the boards named once, as a run
    page.uncheck("#draft input[value='group:community']")
    page.fill("textarea[name=text]", TEXT)
    page.fill("input[name=end]", "2030-01-01T10:00")
    page.click("#draft button[type=submit]")
    expect(page.locator("#error")).to_contain_text("请至少选择一个发布范围")
    assert "List should have" not in page.locator("#error").inner_text()

    for path, raw in (("/reports", "bulletins_broadcast"), ("/data", "hj633"), ("/", "bulletin@")):
        page.goto(f"{url}{path}")
        assert raw not in page.locator("main").inner_text(), path
    page.goto(f"{url}/data")
    expect(page.locator("main")).to_contain_text("HJ 633—2026")
    page.goto(f"{url}/reports")
    expect(page.locator("#report")).to_contain_text("环境公报发布")

    page.goto(f"{url}/login?lang=en")
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.locator("#error")).to_contain_text("Wrong user name or password")


# -- 9. the emergency insert and the notice form ---------------------------------------------------------


def test_the_emergency_insert_takes_four_clicks_with_the_preview_before_the_last(world, page) -> None:
    url, fleet, service = world
    eventually(lambda: settled(service), "every board confirmed")
    login(page, url, "li")
    page.goto(f"{url}/notices")
    clicks = 0
    page.click("#insert-templates button:has-text('重污染天气红色预警')")
    clicks += 1
    page.click("#insert-targets button[data-target=all]")
    clicks += 1
    page.click("#insert-duration button[data-hours='2']")
    clicks += 1
    expect(page.locator("#insert-reason")).to_be_focused()  # the one thing left to type
    page.keyboard.type("红色预警已启动，须立即告知公众")
    expect(page.locator("#insert-preview img.led").first).to_be_visible()  # the preview, before publishing
    expect(page.locator("#insert-publish")).to_be_enabled()
    assert "danger" in page.get_attribute("#insert-publish", "class")
    page.click("#insert-publish")
    clicks += 1
    page.wait_for_url(re.compile(r".*/notices/\d+$"))
    assert clicks <= 4
    number = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#delivered")).to_have_text(re.compile(r"^42/42"), timeout=60_000)
    cards = community_cards(fleet)
    eventually(lambda: all(any("红色预警" in t for t in c.text_areas.values()) for c in cards),
               "the warning on every community board", timeout_s=30)
    n = world.notices.get(number)
    assert n.state == "published" and n.needs_review and n.level == "emergency" and n.targets == ("all",)
    assert abs((n.end - n.start) - timedelta(hours=2)) < timedelta(minutes=2)
    world.notices.cancel(world.users["li"], number, "测试结束")
    eventually(lambda: all(not c.text_areas for c in cards), "the warning gone again")


def test_a_template_with_many_places_is_one_button_then_a_row_of_places_none_chosen(world, page) -> None:
    # 就地避险通知 names one of fourteen places: one button each made the first step a wall of
    # buttons. Now one button, then the places; and nothing is previewed or published before one
    # of them is chosen (an emergency never goes out for a place nobody picked).
    url, _, _ = world
    login(page, url, "li")
    page.goto(f"{url}/notices")
    templates = page.locator("#insert-templates button")
    expect(templates).to_have_count(3 + 1 + 1)  # the three warning levels, 就地避险通知, 停水通知
    page.click("#insert-templates button:has-text('就地避险通知')")
    places = page.locator("#insert-slots [data-choice]")
    expect(places).to_have_count(14)
    assert page.locator("#insert-slots [aria-pressed=true]").count() == 0
    page.click("#insert-targets button[data-target=all]")
    page.click("#insert-duration button[data-hours='1']")
    page.locator("#insert-reason").fill("泄漏正在扩散，须立即告知")
    expect(page.locator("#insert-publish")).to_be_disabled()  # no place yet: no preview, no publish
    expect(page.locator("#insert-filled [data-text]")).to_contain_text("{area}")
    page.click("#insert-slots [data-choice='蛟川街道']")
    expect(page.locator("#insert-filled [data-text]")).to_contain_text("蛟川街道发生化学品泄漏")
    expect(page.locator("#insert-preview img.led").first).to_be_visible()
    expect(page.locator("#insert-publish")).to_be_enabled()


def test_the_notice_form_says_things_plainly_and_asks_reasons_in_a_dialog(world, page) -> None:
    url, _, service = world
    tz = service.dep.tz
    login(page, url, "wang")
    page.goto(f"{url}/notices")
    expect(page.locator("#draft input[name=start-mode][value=now]")).to_be_checked()  # 开始：立即
    expect(page.locator("#draft fieldset").nth(1)).to_contain_text("立即")
    page.click("#draft [data-quick-end] button[data-hours='4']")
    wanted = service.clock.now().astimezone(tz) + timedelta(hours=4)
    got = page.input_value("#draft input[name=end]")
    assert got[:13] in {f"{wanted:%Y-%m-%dT%H}", f"{wanted + timedelta(minutes=1):%Y-%m-%dT%H}"}, got
    page.select_option("#draft select[name=template]", "heavy-pollution")
    expect(page.locator("#draft input[name=title]")).to_have_value("重污染天气黄色预警")  # filled in
    expect(page.locator("#draft textarea[name=text]")).to_have_value(re.compile("黄色预警"))
    assert page.locator("#draft select[name=level]").input_value() == "emergency"
    page.select_option("#draft select[name=template]", "")

    page.fill("input[name=title]", "停水通知")
    page.fill("textarea[name=text]", TEXT)
    page.check("#draft input[value='group:community']")
    page.click("#draft button[type=submit]")
    page.wait_for_url(re.compile(r".*/notices/\d+$"))
    number = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("[data-action=approve]")).to_have_count(0)
    expect(page.locator("#why-no-approve")).to_contain_text("审批人")  # why there is no 批准
    cancel = page.locator("[data-action=cancel]")
    assert "danger" in cancel.get_attribute("class")
    cancel.click()
    dialog = page.locator("#reason-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("必须填写原因")
    expect(page.locator("#reason-ok")).to_be_disabled()
    page.click("#reason-dialog [data-close]")
    expect(dialog).to_be_hidden()
    assert world.notices.get(number).state == "draft"

    page.click("[data-logout]")
    page.wait_for_url(f"{url}/login")
    login(page, url, "li")
    page.goto(f"{url}/notices/{number}")
    assert "danger" not in (page.get_attribute("[data-action=approve]", "class") or "")
    assert "danger" in page.get_attribute("[data-action=reject]", "class")
    page.click("[data-action=reject]")
    page.fill("#reason-dialog textarea[name=reason]", "措辞需要修改")
    page.click("#reason-ok")
    expect(page.locator("#notice-state")).to_have_text("已驳回")


# -- 10. the play log ----------------------------------------------------------------------------------------


def test_the_play_log_says_what_each_board_showed_when_and_what_did_not_reach_it(world, page) -> None:
    url, fleet, service = world
    eventually(lambda: settled(service), "every board confirmed")
    fleet.set_fault("zbs-06", offline=True)
    service.dispatcher.check_health()
    eventually(lambda: service.dispatcher.view()["zbs-06"].online is False, "zbs-06 seen offline")
    slots = {"area": "后大街社区", "time": "9:00至12:00"}
    n = world.notices.draft_from_template(world.users["wang"], "water-outage", slots,
                                          targets=["board:zbs-06", "board:zbs-07"],
                                          end=service.clock.now() + timedelta(hours=1))
    world.notices.publish(world.users["wang"], n.id)
    service.notices_changed()
    try:
        eventually(lambda: any(not d.ok for d in world.console.store.deliveries("zbs-06")),
                   "a failed delivery to zbs-06")
        eventually(lambda: (v := service.dispatcher.view()["zbs-07"]).confirmed == v.intended,
                   "zbs-07 confirmed")
        login(page, url, "wang")
        page.goto(f"{url}/playlog")
        rows = page.locator("table.playlog tr[data-confirmed]")
        expect(rows.first).to_be_visible()
        shown = page.locator("table.playlog tr[data-confirmed=yes]", has_text="zbs-07")
        shown = shown.filter(has_text="停水通知")
        expect(shown.first).to_contain_text("已确认")
        missed = page.locator("table.playlog tr[data-confirmed=no]", has_text="zbs-06").first
        expect(missed).to_contain_text("未确认")
        expect(missed).to_contain_text("屏没有应答")
        page.select_option("#playlog-filter select[name=board]", "zbs-07")
        page.click("#playlog-filter button[type=submit]")
        named = page.locator("table.playlog tr[data-confirmed] td:first-child a").all_inner_texts()
        assert set(named) == {"zbs-07"}
        with page.expect_download() as download:
            page.click("#playlog-csv")
        table = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
        assert table[0][:4] == ["屏编号", "屏名称", "内容", "开始显示"]
        assert {r[0] for r in table[1:]} == {"zbs-07"} and any("停水通知" in r[2] for r in table[1:])
        assert all(r[3].endswith("+08:00") for r in table[1:])
        page.goto(f"{url}/boards/zbs-07")
        expect(page.locator("table.playlog")).to_contain_text("停水通知")
    finally:
        world.notices.cancel(world.users["wang"], n.id, "测试结束")
        service.notices_changed()
        fleet.set_fault("zbs-06", offline=False)
        service.dispatcher.check_health()


# -- 11. the audit log ---------------------------------------------------------------------------------------


def test_the_audit_log_has_headers_reasons_changes_in_words_and_every_login(world, page) -> None:
    url = world.url
    page.goto(f"{url}/login")
    page.fill("input[name=name]", "zhao")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    expect(page.locator("#error")).to_be_visible()
    login(page, url, "zhao")
    n = world.notices.draft(world.users["wang"], title="停水通知", text=TEXT, level="normal",
                            targets=["group:community"], end=world.service.clock.now() + timedelta(hours=1))
    world.notices.cancel(world.users["wang"], n.id, "检修取消")
    page.goto(f"{url}/audit")
    headers = page.locator("#audit th").all_inner_texts()
    assert headers == ["序号", "时间", "操作人", "操作", "对象", "原因", "变化"]
    failed = page.locator("#audit tr[data-action=login-failed]", has_text="用户 zhao").first
    expect(failed).to_contain_text("登录失败")
    succeeded = page.locator("#audit tr[data-action=login]", has_text="用户 zhao").first
    expect(succeeded).to_contain_text("登录成功")
    cancelled = page.locator("#audit tr[data-action=cancel]", has_text=f"#{n.id}").first
    expect(cancelled).to_contain_text("检修取消")
    expect(cancelled).to_contain_text("状态：草稿 → 已撤销")
    expect(cancelled).to_contain_text("撤销通知")


# -- 12. reports ---------------------------------------------------------------------------------------------


def test_the_report_has_the_cli_figures_in_both_languages_per_board_availability_and_csv(world, page) -> None:
    login(page, world.url, "wang")
    page.goto(f"{world.url}/reports")
    report = page.locator("#report")
    for zh, en in (("环境公报发布", "bulletins broadcast"), ("屏幕可用率", "fleet availability"),
                   ("确认送达", "deliveries confirmed")):
        expect(report.locator("tr", has_text=zh)).to_contain_text(en)
    expect(page.locator("#availability tr:has(td)")).to_have_count(42)
    with page.expect_download() as download:
        page.click("#report-csv")
    table = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert table[0][:2] == ["指标", "figure"]
    keys = {r[2] for r in table[1:]}
    assert {"bulletins_broadcast", "fleet_availability", "board_availability.zbs-01"} <= keys


# -- 13. the demo's fault switches --------------------------------------------------------------------------


def test_sim_switches_take_a_board_offline_make_one_busy_and_bring_both_back(world, page) -> None:
    url, _, service = world
    eventually(lambda: settled(service), "every board confirmed")
    login(page, url, "wang")
    page.goto(f"{url}/sim")
    page.click("[data-board=zbs-09] button[data-fault=offline]")
    page.click("[data-board=zbs-10] button[data-fault=busy]")
    for board, fault in (("zbs-09", "offline"), ("zbs-10", "busy")):
        switch = page.locator(f"[data-board={board}] button[data-fault={fault}]")
        expect(switch).to_have_attribute("aria-pressed", "true")
    faults = (world.state / "sim" / "faults.toml").read_text(encoding="utf-8")
    assert "[zbs-09]\noffline = true" in faults and "[zbs-10]\nbusy = true" in faults
    page.goto(f"{url}/")
    expect(page.locator("#b-zbs-09 [data-state-text]")).to_have_text("离线", timeout=60_000)
    busy = page.locator("#b-zbs-10")
    expect(busy.locator("[data-state-text]")).to_have_text("在线·忙", timeout=60_000)
    expect(busy.locator("[data-online]")).to_have_text("在线")  # a busy card answers: online, and busy
    page.goto(f"{url}/sim")
    page.click("[data-board=zbs-09] button[data-fault=restore]")
    page.click("[data-board=zbs-10] button[data-fault=restore]")
    for board in ("zbs-09", "zbs-10"):
        expect(page.locator(f"[data-board={board}] [data-fault-text]")).to_have_text("无")
    assert "zbs-09" not in (world.state / "sim" / "faults.toml").read_text(encoding="utf-8")
    page.goto(f"{url}/")
    for board in ("zbs-09", "zbs-10"):
        expect(page.locator(f"#b-{board} [data-state-text]")).to_have_text("正常", timeout=90_000)
