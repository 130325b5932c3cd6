"""The console's words: Chinese first, English on request (?lang=en, kept in a cookie)."""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("zh", "en")

WORDS: dict[str, tuple[str, str]] = {
    "title": ("环境信息发布屏控制台", "LED board console"),
    "fleet": ("屏幕总览", "Fleet"),
    "data": ("监测数据", "Data"),
    "notices": ("紧急通知", "Notices"),
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
    "pending": ("发送中", "pending"),
    "failing": ("发送失败", "failing"),
    "not shown": ("未显示", "not shown"),
    "intended": ("应显示", "should show"),
    "shows": ("已确认显示", "confirmed showing"),
    "last_confirmed": ("最后确认", "last confirmed"),
    "failures": ("连续失败", "failures"),
    "boards": ("块屏", "boards"),
    "timeline": ("今日时间线", "Today's timeline"),
    "screen_off": ("关屏", "screen off"),
    "station": ("站点", "Station"),
    "aqi": ("空气质量指数", "AQI"),
    "level": ("级别", "Level"),
    "primary": ("首要污染物", "Primary pollutant"),
    "freshness": ("数据时间", "Data of"),
    "standard": ("评价标准", "Standard"),
    "water": ("水质类别", "Water class"),
    "updating": ("数据更新中", "data updating"),
    "new_notice": ("起草通知", "Draft a notice"),
    "notice_title": ("标题", "Title"),
    "notice_text": ("正文", "Text"),
    "template": ("模板", "Template"),
    "free_text": ("自由文本", "free text"),
    "targets": ("发布范围", "Targets"),
    "start": ("开始", "Start"),
    "end": ("结束", "End"),
    "mode": ("显示方式", "Display"),
    "takeover": ("独占屏幕", "take the board over"),
    "share": ("与公报轮播", "share the loop"),
    "emergency": ("紧急", "emergency"),
    "normal": ("一般", "normal"),
    "preview": ("上屏预览", "Preview on the boards"),
    "submit_draft": ("保存草稿", "Save draft"),
    "approve": ("批准", "Approve"),
    "reject": ("驳回", "Reject"),
    "publish": ("发布", "Publish"),
    "cancel": ("撤销", "Cancel"),
    "override": ("紧急发布（事后审核）", "Emergency override"),
    "review": ("审核", "Review"),
    "reason": ("原因", "Reason"),
    "needs_review": ("待审核的紧急发布", "Overrides awaiting review"),
    "state": ("状态", "State"),
    "author": ("起草人", "Author"),
    "approver": ("审批人", "Approver"),
    "delivery": ("送达情况", "Delivery"),
    "verify": ("校验", "Verify"),
    "intact": ("审计日志完整", "The audit log is intact"),
    "tampered": ("审计日志被篡改", "The audit log was tampered with"),
    "month": ("月份", "Month"),
    "year": ("年份", "Year"),
    "none": ("无", "none"),
    "all_boards": ("全部屏幕", "all boards"),
}

STATE_WORDS = {
    "draft": ("草稿", "draft"),
    "approved": ("已批准", "approved"),
    "published": ("已发布", "published"),
    "expired": ("已过期", "expired"),
    "cancelled": ("已撤销", "cancelled"),
    "rejected": ("已驳回", "rejected"),
}


def translator(lang: str) -> Callable[[str], str]:
    index = 1 if lang == "en" else 0

    def t(key: str) -> str:
        words = WORDS.get(key) or STATE_WORDS.get(key)
        return words[index] if words else key

    return t
