"""The console's words: Chinese first, English on request (?lang=en, kept in a cookie).

Everything a person sees goes through here: labels (`translator`), the names of things the
store keeps as identifiers (items, targets, standards, pollutants, report figures, audit
actions), and times — always in the deployment's time zone, with the date when it is not today.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LANGS = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("环境信息发布屏控制台", "LED board console"),
    "fleet": ("屏幕总览", "Fleet"),
    "data": ("监测数据", "Data"),
    "notices": ("紧急通知", "Notices"),
    "playlog": ("播放记录", "Play log"),
    "audit": ("审计日志", "Audit"),
    "reports": ("统计报表", "Reports"),
    "sim": ("模拟屏实况", "Simulator"),
    "sample_data_banner": ("示例数据：本系统的空气质量数据来自演示用的示例文件，不是监测数据；"
                           "屏上每一页都标有“示例数据”。",
                           "Sample data: the air-quality figures come from the demo's sample files, not from "
                           "monitoring; every page on the boards says 示例数据."),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "user": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "online": ("在线", "online"),
    "offline": ("离线", "offline"),
    "unknown": ("未知", "unknown"),
    "confirmed": ("已确认", "confirmed"),
    "pending": ("发送中", "being sent"),
    "failing": ("发送失败", "failing"),
    "busy": ("忙", "busy"),
    "override": ("紧急发布（事后审核）", "Emergency override"),
    "showing_override": ("正在显示未经审核的紧急发布", "showing an override not yet reviewed"),
    "not shown": ("未显示", "not shown"),
    "intended": ("应显示", "should show"),
    "shows": ("已确认显示", "confirmed showing"),
    "sim_shows": ("模拟屏此刻显示", "the simulated board now"),
    "last_confirmed": ("最后确认", "last confirmed"),
    "failures": ("连续失败", "failures in a row"),
    "boards": ("块屏", "boards"),
    "board": ("屏", "Board"),
    "timeline": ("今日时间线", "Today's timeline"),
    "screen_off": ("关屏", "screen off"),
    "screen_on": ("开屏", "screen on"),
    "brightness": ("亮度", "brightness"),
    "what_plays": ("播放内容", "what plays"),
    "pages": ("页面", "pages"),
    "when": ("时间", "Time"),
    "station": ("站点", "Station"),
    "aqi": ("空气质量指数", "AQI"),
    "level": ("级别", "Level"),
    "primary": ("首要污染物", "Primary pollutant"),
    "freshness": ("数据日期", "Data of"),
    "standard": ("评价标准", "Standard"),
    "water": ("水质类别", "Water class"),
    "limiting": ("超标/定类项目", "Limiting items"),
    "updating": ("数据更新中", "data updating"),
    "issued": ("公报生成于", "bulletin made"),
    "new_notice": ("起草通知", "Draft a notice"),
    "notice_title": ("标题", "Title"),
    "notice_text": ("正文", "Text"),
    "template": ("模板", "Template"),
    "free_text": ("自由文本", "free text"),
    "targets": ("发布范围", "Targets"),
    "start": ("开始", "Start"),
    "start_now": ("立即", "now"),
    "start_later": ("指定时间", "at a time"),
    "end": ("结束", "End"),
    "duration": ("持续时间", "Duration"),
    "h1": ("1小时", "1 h"),
    "h2": ("2小时", "2 h"),
    "h4": ("4小时", "4 h"),
    "today_end": ("今日结束", "until midnight"),
    "until": ("至指定时间", "until a time"),
    "mode": ("显示方式", "Display"),
    "takeover": ("独占屏幕", "take the board over"),
    "share": ("与公报轮播", "share the loop"),
    "emergency": ("紧急", "emergency"),
    "normal": ("一般", "normal"),
    "preview": ("上屏预览", "Preview on the boards"),
    "preview_hint": ("选择模板或填写正文并选择发布范围后，这里显示各类屏上的实际效果。",
                     "Choose a template or write the text and choose targets: how it looks on each kind of "
                     "board appears here."),
    "submit_draft": ("保存草稿", "Save draft"),
    "approve": ("批准", "Approve"),
    "reject": ("驳回", "Reject"),
    "publish": ("发布", "Publish"),
    "cancel": ("撤销", "Cancel"),
    "review": ("审核通过", "Mark reviewed"),
    "reason": ("原因", "Reason"),
    "reason_required": ("必须填写原因，它会记入审计日志。",
                        "A reason is required; it goes into the audit log."),
    "confirm": ("确定", "Confirm"),
    "close": ("关闭", "Close"),
    "back": ("返回", "Back"),
    "needs_review": ("待审核的紧急发布", "Overrides awaiting review"),
    "state": ("状态", "State"),
    "author": ("起草人", "Author"),
    "approver": ("审批人", "Approver"),
    "published_by": ("发布人", "Published by"),
    "delivery": ("送达情况", "Delivery"),
    "verify": ("校验", "Verify"),
    "intact": ("审计日志完整，未被改动", "The audit log is intact"),
    "tampered": ("审计日志被篡改", "The audit log was tampered with"),
    "rows": ("条记录", "rows"),
    "head": ("最新哈希", "head"),
    "month": ("月份", "Month"),
    "year": ("年份", "Year"),
    "show": ("查看", "Show"),
    "none": ("无", "none"),
    "all_boards": ("全部屏幕", "all boards"),
    "all": ("全部", "all"),
    "problems": ("需要处理", "Needs attention"),
    "no_problems": ("全部屏幕在线，并已确认显示应显示的内容。",
                    "Every board is online and confirmed on what it should show."),
    "search": ("搜索", "Search"),
    "search_hint": ("屏编号、名称或地点", "board id, name or place"),
    "area": ("区域", "Area"),
    "group": ("分组", "Group"),
    "filter_state": ("状态", "State"),
    "state_ok": ("正常", "fine"),
    "state_problem": ("有问题", "with a problem"),
    "larger": ("点击放大", "click to enlarge"),
    "what_to_do": ("处理建议", "What to do"),
    "emergency_insert": ("一键紧急插播", "Emergency insert"),
    "emergency_insert_hint": ("选模板、选范围、选时长，预览无误后发布。",
                              "Choose a template, the targets and how long; check the preview, "
                              "then publish."),
    "step_template": ("① 模板", "① Template"),
    "step_targets": ("② 范围", "② Targets"),
    "step_duration": ("③ 时长", "③ How long"),
    "step_publish": ("④ 发布", "④ Publish"),
    "override_reason": ("紧急发布原因（必填）", "Why it cannot wait for a second person (required)"),
    "override_reason_hint": ("例如：重污染预警已启动，须立即告知公众", "e.g. the warning is in force and the "
                             "public must know now"),
    "publish_override": ("紧急发布（事后审核）", "Publish now by override (reviewed later)"),
    "publish_template": ("立即发布", "Publish now"),
    "draft_for_approval": ("提交审批", "Submit for approval"),
    "choose_template_first": ("请先选择模板。", "Choose a template first."),
    "choose_targets_first": ("请选择发布范围。", "Choose the targets."),
    "why_no_approve": ("您是这条通知的起草人：按两人规则须由另一位审批人批准。",
                       "You wrote this notice: under the two-person rule another approver must approve it."),
    "why_no_approve_role": ("批准需要审批人角色；请审批人批准后再发布。",
                            "Approving needs the approver role: an approver approves it, then it can be "
                            "published."),
    "chain": ("审核流程", "Review chain"),
    "chain_next": ("下一步", "Next"),
    "chain_waiting": ("待签批", "waiting"),
    "chain_not_by": ("不能由以下人员签批：", "not by: "),
    "by_drafting": ("起草即确认", "by drafting"),
    "confidentiality_done": ("已保密审查", "confidentiality reviewed"),
    "confidentiality_checked": ("我已完成保密审查", "I did the confidentiality review (保密审查)"),
    "sign_off": ("签批", "Sign off"),
    "edit_revision": ("修改并保存为新版本", "Save as a new revision"),
    "revision": ("版本", "revision"),
    "skipped_stages": ("紧急发布跳过的审核环节", "Review stages the override skipped"),
    "why_no_sign_acted": ("您已参与这条通知（起草或签批）：此环节须由另一位有权限的人签批。",
                          "You already acted on this notice (wrote it or signed off a stage): someone "
                          "else signs off this stage."),
    "why_no_sign_role": ("您的角色不能签批此环节。", "Your role cannot sign off this stage."),
    "why_no_review": ("这条紧急发布由您本人发出，须由另一位审批人审核。",
                      "You published this override: another approver must review it."),
    "template_fills": ("模板会填入级别和措辞；带“{…}”的空格请在下方选择或填写。",
                       "A template fills in the level and the wording; choose or fill its blanks below."),
    "dangerous": ("此操作会立即改变公共屏幕上的内容。", "This changes what the public boards show at once."),
    "download_csv": ("下载 CSV", "Download CSV"),
    "from": ("从", "From"),
    "to": ("到", "To"),
    "first_shown": ("开始显示", "First shown"),
    "shown_until": ("显示到", "Shown until"),
    "last_confirmed_col": ("最后确认", "Last confirmed"),
    "content": ("内容", "Content"),
    "result": ("结果", "Result"),
    "attempts": ("送达尝试", "Delivery attempts"),
    "displays": ("上屏记录（显示证明）", "Displays (proof of display)"),
    "failed_attempts": ("未成功的发送", "Failed attempts"),
    "no_rows": ("所选时段内没有记录。", "Nothing in this period."),
    "actor": ("操作人", "Who"),
    "action": ("操作", "Action"),
    "subject": ("对象", "Subject"),
    "change": ("变化", "What changed"),
    "seq": ("序号", "No."),
    "figure": ("指标", "Figure"),
    "value": ("数值", "Value"),
    "availability": ("各屏可用率", "Availability per board"),
    "period": ("统计期间", "Period"),
    "fault_switches": ("故障演练", "Try a fault"),
    "fault_hint": ("在模拟屏上制造故障，观察系统如何发现并恢复。", "Make a fault on a simulated board and "
                   "watch the system notice it and recover."),
    "f_offline": ("断开（离线）", "take offline"),
    "f_busy": ("忙（拒收）", "make busy"),
    "f_noisy": ("线路干扰 5%", "noisy wire (5 %)"),
    "f_slow": ("线路延迟 0.5 秒", "slow wire (0.5 s)"),
    "f_restore": ("恢复正常", "bring back"),
    "f_power": ("断电重启", "power cycle"),
    "faults_now": ("当前故障", "Faults now"),
    "no_faults": ("无", "none"),
    "settings": ("亮度/开关屏", "settings"),
    "demo_user_note": ("", ""),
    "lang_zh": ("中文", "中文"),
    "lang_en": ("English", "English"),
}

STATE_WORDS = {
    "draft": ("草稿", "draft"),
    "approved": ("已批准", "approved"),
    "published": ("已发布", "published"),
    "expired": ("已过期", "expired"),
    "cancelled": ("已撤销", "cancelled"),
    "rejected": ("已驳回", "rejected"),
}

ROLE_WORDS = {
    "viewer": ("查看者", "viewer"),
    "operator": ("操作员", "operator"),
    "approver": ("审批人", "approver"),
    "admin": ("管理员", "admin"),
}

ORIGIN_WORDS = {
    "manual": ("手工起草", "written by hand"),
    "template": ("模板", "from a template"),
    "cap": ("CAP 预警导入", "CAP alert"),
}

ACTION_WORDS = {
    "draft": ("起草通知", "drafted a notice"),
    "approve": ("批准通知", "approved a notice"),
    "sign-off": ("签批审核环节", "signed off a review stage"),
    "edit": ("修改通知（新版本）", "edited a notice (a new revision)"),
    "reject": ("驳回通知", "rejected a notice"),
    "publish": ("发布通知", "published a notice"),
    "override": ("紧急发布（事后审核）", "published by emergency override"),
    "review": ("审核紧急发布", "reviewed an override"),
    "cancel": ("撤销通知", "cancelled a notice"),
    "expire": ("通知到期", "notice ended"),
    "user-add": ("添加用户", "added a user"),
    "user-disable": ("停用用户", "disabled a user"),
    "token-add": ("创建 API 令牌", "made an API token"),
    "login": ("登录成功", "logged in"),
    "login-failed": ("登录失败", "failed login"),
    "logout": ("退出登录", "logged out"),
    "cap-import": ("导入 CAP 预警", "imported a CAP alert"),
    "cap-cancel": ("CAP 预警解除", "CAP alert cancelled"),
    "cap-ignored": ("忽略 CAP 消息", "ignored a CAP message"),
    "cap-expired": ("CAP 预警已过期", "CAP alert already expired"),
    "cap-refused": ("拒收 CAP 预警", "refused a CAP alert"),
    "sim-fault": ("模拟故障", "simulated fault"),
}

# The fields of a notice (audit before/after) a person cares about, in this order.
FIELD_WORDS = {
    "state": ("状态", "state"),
    "title": ("标题", "title"),
    "text": ("正文", "text"),
    "level": ("级别", "level"),
    "targets": ("范围", "targets"),
    "start": ("开始", "start"),
    "end": ("结束", "end"),
    "mode": ("显示方式", "display"),
    "approver": ("审批人", "approver"),
    "published_by": ("发布人", "published by"),
    "override_reason": ("紧急发布原因", "override reason"),
    "needs_review": ("待审核", "needs review"),
    "reviewer": ("审核人", "reviewer"),
    "reason": ("原因", "reason"),
    "role": ("角色", "role"),
    "disabled": ("已停用", "disabled"),
    "label": ("标签", "label"),
    "from": ("来源地址", "from address"),
    "why": ("原因", "why"),
}

SLOT_WORDS = {
    "level": ("预警级别", "warning level"),
    "area": ("地点", "place"),
    "time": ("时间", "time"),
}

COLOUR_WORDS = {
    "mono-red": ("单红色", "single-colour red"),
    "red-green": ("红绿双色", "red and green"),
    "full": ("全彩", "full colour"),
}

EFFECT_WORDS = {
    "static": ("静止", "still"),
    "scroll-left": ("左移滚动", "scrolls left"),
    "scroll-up": ("上移滚动", "scrolls up"),
    "blink": ("闪烁", "blinks"),
}

STANDARD_WORDS = {
    "hj633-2012": ("HJ 633—2012", "HJ 633-2012 (China)"),
    "hj633-2026": ("HJ 633—2026", "HJ 633-2026 (China)"),
    "us-epa": ("美国 EPA 标准", "US EPA"),
}

POLLUTANT_WORDS = {
    "pm25": ("PM2.5", "PM2.5"), "pm10": ("PM10", "PM10"), "so2": ("二氧化硫", "SO2"),
    "no2": ("二氧化氮", "NO2"), "co": ("一氧化碳", "CO"), "o3": ("臭氧", "O3"),
    "do": ("溶解氧", "dissolved oxygen"), "codmn": ("高锰酸盐指数", "permanganate index"),
    "cod": ("化学需氧量", "COD"), "bod5": ("五日生化需氧量", "BOD5"), "nh3n": ("氨氮", "ammonia nitrogen"),
    "tp": ("总磷", "total phosphorus"), "tn": ("总氮", "total nitrogen"),
}

CATEGORY_EN = {
    "优": "Excellent", "良": "Good", "轻度污染": "Lightly polluted", "中度污染": "Moderately polluted",
    "重度污染": "Heavily polluted", "严重污染": "Severely polluted",
}

# The disclosure report's figures (ledctl.report.Report.as_dict), as the CLI report words them.
REPORT_WORDS = {
    "period": ("统计期间", "period"),
    "bulletins_broadcast": ("环境公报发布", "bulletins broadcast"),
    "bulletin_displays_confirmed": ("公报上屏确认", "bulletin displays confirmed"),
    "notices_published_total": ("紧急通知发布", "notices published"),
    "notices_cancelled": ("通知撤销", "notices cancelled"),
    "notices_rejected": ("通知驳回", "notices rejected"),
    "overrides": ("紧急发布（一人发布，事后审核）", "published by emergency override"),
    "override_shortcuts": ("其中跳过审核环节", "of which skipped review stages"),
    "overrides_unreviewed": ("紧急发布尚未审核", "overrides not yet reviewed"),
    "notice_displays_confirmed": ("通知上屏确认", "notice displays confirmed"),
    "deliveries_confirmed": ("确认送达", "deliveries confirmed"),
    "deliveries_failed": ("送达失败", "deliveries failed"),
    "fleet_availability": ("屏幕可用率", "fleet availability"),
}


def pick(words: Mapping[str, tuple[str, str]], key: str, lang: str) -> str:
    pair = words.get(key)
    return pair[1 if lang == "en" else 0] if pair else key


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        words = WORDS.get(key) or STATE_WORDS.get(key)
        return words[index] if words else key

    return t


# -- times ------------------------------------------------------------------------------------------


def local(value: datetime | str | None, tz: ZoneInfo) -> datetime | None:
    """An instant in the deployment's time zone (a naive one is read as already there)."""
    if value is None or value == "":
        return None
    t = datetime.fromisoformat(value) if isinstance(value, str) else value
    return t.replace(tzinfo=tz) if t.tzinfo is None else t.astimezone(tz)


def local_iso(value: datetime | str | None, tz: ZoneInfo) -> str | None:
    t = local(value, tz)
    return t.isoformat() if t is not None else None


def iso_in_zone(text: str, tz: ZoneInfo) -> str:
    """Every ISO 8601 instant inside a text, rewritten in the deployment's zone (same instant)."""
    def one(m: re.Match[str]) -> str:
        try:
            return local_iso(m.group(0).replace("Z", "+00:00"), tz) or m.group(0)
        except ValueError:
            return m.group(0)

    return re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)", one, text)


def when(value: datetime | str | None, tz: ZoneInfo, now: datetime, *, seconds: bool = False) -> str:
    """A time as a person reads it: 14:05 today, 11-28 14:05 another day, 2025-11-28 14:05 another year."""
    try:
        t = local(value, tz)
    except ValueError:
        return str(value)
    if t is None:
        return "—"
    today = now.astimezone(tz).date()
    clock = f"{t:%H:%M:%S}" if seconds else f"{t:%H:%M}"
    if t.date() == today:
        return clock
    if t.year == today.year:
        return f"{t:%m-%d} {clock}"
    return f"{t:%Y-%m-%d} {clock}"


def span(start: datetime | str | None, end: datetime | str | None, tz: ZoneInfo, now: datetime) -> str:
    """start – end, the end without its date when it is on the start's day."""
    a, b = local(start, tz), local(end, tz)
    if a is None or b is None:
        return f"{when(a, tz, now)} – {when(b, tz, now)}"
    right = f"{b:%H:%M}" if a.date() == b.date() else when(b, tz, now)
    return f"{when(a, tz, now)} – {right}"


def localize_times(doc: dict[str, Any], keys: Sequence[str], tz: ZoneInfo) -> dict[str, Any]:
    """The document with each of `keys` (ISO 8601 times) in the deployment's time zone: the API
    answers with one offset throughout."""
    out = dict(doc)
    for key in keys:
        value = out.get(key)
        if isinstance(value, str | datetime) and value:
            with contextlib.suppress(ValueError):
                out[key] = local_iso(value, tz)
    return out


# -- the names of things ----------------------------------------------------------------------------

_BULLETIN = re.compile(r"^bulletin@(.+)$")
_NOTICE = re.compile(r"^notice:(\d+)$")


def item_name(item: str, lang: str, tz: ZoneInfo, now: datetime,
              titles: Mapping[int, str] | None = None) -> str:
    """What a board shows, from the ids the store keeps: bulletin@…, notice:7, idle."""
    m = _BULLETIN.match(item)
    if m:
        text = m.group(1)
        try:
            stamp = when(text, tz, now)
        except ValueError:
            stamp = text
        return f"环境公报（{stamp}）" if lang != "en" else f"bulletin ({stamp})"
    m = _NOTICE.match(item)
    if m:
        number = int(m.group(1))
        title = (titles or {}).get(number)
        label = f"通知 #{number}" if lang != "en" else f"notice #{number}"
        return f"{label}「{title}」" if title else label
    if item in ("idle", ""):
        return "空闲" if lang != "en" else "idle"
    if item == "broadcast --text":
        return "命令行紧急文字" if lang != "en" else "urgent text from the command line"
    return item


def items_name(items: Sequence[str], lang: str, tz: ZoneInfo, now: datetime,
               titles: Mapping[int, str] | None = None) -> str:
    if not items:
        return item_name("idle", lang, tz, now)
    return " + ".join(item_name(i, lang, tz, now, titles) for i in items)


def target_name(target: str, lang: str, groups: Mapping[str, Any], boards: Mapping[str, Any]) -> str:
    if target == "all":
        return pick(WORDS, "all_boards", lang)
    kind, _, ident = target.partition(":")
    if kind == "group" and ident in groups:
        return str(groups[ident].name or ident)
    if kind == "board" and ident in boards:
        return f"{ident} {boards[ident].name}"
    if not ident and target in groups:
        return str(groups[target].name or target)
    return target


def standard_name(standard: str | None, lang: str) -> str:
    return pick(STANDARD_WORDS, standard, lang) if standard else "—"


def pollutant_name(code: str, lang: str) -> str:
    return pick(POLLUTANT_WORDS, code, lang)


def category_name(category: str | None, lang: str) -> str:
    if not category:
        return ""
    return CATEGORY_EN.get(category, category) if lang == "en" else category


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"
