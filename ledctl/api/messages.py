"""What the console says when something went wrong, in words a person can act on.

The rules, drivers and renderer speak English to logs and to the command line; here their
messages become what happened and what to do, in Chinese (English in the English view).
Identical problems on many boards are said once, naming the boards together. A message that no
rule here knows is still shown, behind a plain lead-in, rather than lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ledctl.api.i18n import STATE_WORDS, local, pick

Rule = tuple[re.Pattern[str], Callable[[re.Match[str], str, ZoneInfo | None], str]]


def _both(zh: str, en: str) -> Callable[[re.Match[str], str, ZoneInfo | None], str]:
    return lambda m, lang, tz: (en if lang == "en" else zh).format(*m.groups(), **m.groupdict())


def _at(text: str, tz: ZoneInfo | None) -> str:
    try:
        t = local(text, tz) if tz is not None else datetime.fromisoformat(text)
    except ValueError:
        return text
    return f"{t:%Y-%m-%d %H:%M}" if t is not None else text


def _state(word: str, lang: str) -> str:
    return pick(STATE_WORDS, word, lang)


_DOING = {
    "approved": ("批准", "approved"), "published": ("发布", "published"), "rejected": ("驳回", "rejected"),
    "cancelled": ("撤销", "cancelled"), "reviewed": ("审核", "reviewed"),
}


def _notice_state(m: re.Match[str], lang: str, tz: ZoneInfo | None) -> str:
    number, state, allowed, doing = m.group(1), m.group(2), m.group(3), m.group(4)
    states = [s.strip() for s in allowed.split(" or ")]
    verb = doing.split(" ")[0]
    if lang == "en":
        return (f"Notice #{number} is {state}: only a notice that is {' or '.join(states)} can be {doing}. "
                "Reload the page to see what it can do now.")
    zh_states = "或".join(f"「{_state(s, lang)}」" for s in states)
    action = _DOING.get(verb, (verb, verb))[0]
    extra = "（自由文本须先经审批人批准）" if "approver first" in doing else ""
    return (f"通知 #{number} 当前为「{_state(state, lang)}」，只有{zh_states}的通知才能{action}{extra}。"
            "请刷新页面查看现在可做的操作。")


def _ended(m: re.Match[str], lang: str, tz: ZoneInfo | None) -> str:
    number, at = m.group(1), _at(m.group(2), tz)
    if lang == "en":
        return f"Notice #{number} ended at {at}: it can no longer be published. Draft a new one."
    return f"通知 #{number} 已于 {at} 结束，不能再发布。请重新起草一条。"


def _window_ended(m: re.Match[str], lang: str, tz: ZoneInfo | None) -> str:
    at = _at(m.group(1), tz)
    if lang == "en":
        return f"The end time ({at}) has already passed. Choose a later end."
    return f"结束时间（{at}）已经过去。请选择更晚的结束时间。"


def _window_order(m: re.Match[str], lang: str, tz: ZoneInfo | None) -> str:
    end, start = _at(m.group(1), tz), _at(m.group(2), tz)
    if lang == "en":
        return f"The end ({end}) is before the start ({start}). Choose an end after the start."
    return f"结束时间（{end}）早于开始时间（{start}）。请把结束时间设在开始之后。"


def _role(m: re.Match[str], lang: str, tz: ZoneInfo | None) -> str:
    from ledctl.api.i18n import ROLE_WORDS

    name, role, need = m.group("name"), m.group("role"), m.group("need")
    if lang == "en":
        return f"{name} ({role}) may not do this: it needs the {need} role. Ask a user who has it."
    return (f"{name}（{pick(ROLE_WORDS, role, lang)}）无权执行此操作：需要「{pick(ROLE_WORDS, need, lang)}」"
            "角色。请有此角色的同事操作。")


def _stage_role(m: re.Match[str], lang: str, tz: ZoneInfo | None) -> str:
    from ledctl.api.i18n import ROLE_WORDS

    g = m.groupdict()
    if lang == "en":
        return (f"{g['stage']} (step {g['step']} of {g['of']}) needs the {g['need']} role; {g['name']} is "
                f"{g['role']}. Ask a colleague who has it.")
    need, role = pick(ROLE_WORDS, g["need"], lang), pick(ROLE_WORDS, g["role"], lang)
    return (f"「{g['stage']}」（第 {g['step']}/{g['of']} 步）需要「{need}」角色；{g['name']} 是{role}。"
            "请有此角色的同事签批。")


RULES: list[Rule] = [
    (re.compile(r"^wrong user name or password$"),
     _both("用户名或密码不正确。请检查后重试（大小写有区别）；连续输错 5 次将锁定 5 分钟。",
           "Wrong user name or password. Check them and try again (case matters); five wrong tries lock "
           "the name for five minutes.")),
    (re.compile(r"^user (\S+) is disabled$"),
     _both("用户 {0} 已被停用。请联系管理员。", "User {0} is disabled. Ask an administrator.")),
    (re.compile(r"^too many failed logins: try again in (\d+) s$"),
     _both("登录失败次数过多，已暂时锁定。请 {0} 秒后再试。",
           "Too many failed logins: locked for now. Try again in {0} s.")),
    (re.compile(r"^log in first"),
     _both("请先登录。", "Log in first.")),
    (re.compile(r"^the token is unknown or its user is disabled$"),
     _both("API 令牌无效，或其用户已被停用。", "The API token is unknown or its user is disabled.")),
    (re.compile(r"^missing or wrong X-CSRF-Token"),
     _both("页面已过期（安全令牌不符）。请刷新页面后重试。",
           "The page is out of date (its security token does not match). Reload the page and try again.")),
    (re.compile(r"^(?P<name>\S+) \((?P<role>\w+)\) may not [^:]+: (?:it|that) needs the (?P<need>\w+) role"),
     _role),
    # The review chain (workflow.Notices.approve / edit): a stage's role, who already acted, 保密审查.
    (re.compile(r"^to (?:sign off|edit at) (?P<stage>.+?) \((?P<sid>[^,]+), stage (?P<step>\d+) of "
                r"(?P<of>\d+)\) needs the (?P<need>\w+) role; (?P<name>\S+) is (?P<role>\w+)"), _stage_role),
    (re.compile(r"^(\S+) wrote notice (\d+); another (\w+) must (?:sign off|edit at) (.+?) \(\S+\) "
                r"\(the two-person rule\)"),
     _both("{0} 是通知 #{1} 的起草人：按两人规则，「{3}」须由另一位同事签批。",
           "{0} wrote notice #{1}: under the two-person rule someone else signs off {3}.")),
    (re.compile(r"^(\S+) signed off an earlier stage of notice (\d+); another (\w+) must "
                r"(?:sign off|edit at) (.+?) \(\S+\) \(the two-person rule\)"),
     _both("{0} 已签批通知 #{1} 的前一环节：按两人规则，「{3}」须由另一位同事签批。",
           "{0} signed off an earlier stage of notice #{1}: under the two-person rule someone else signs "
           "off {3}.")),
    (re.compile(r"^(.+?) \(\S+\) confirms the confidentiality review \(保密审查\) of notice (\d+)"),
     _both("「{0}」须确认已完成保密审查：请勾选“我已完成保密审查”后再签批。",
           "{0} confirms the confidentiality review (保密审查): tick the box, then sign off.")),
    (re.compile(r"^notice (\d+) is at (.+?) \(\S+\), which does not edit"),
     _both("通知 #{0} 正处于「{1}」环节，此环节不能修改；如需修改，请撤销后重新起草。",
           "Notice #{0} is at {1}, which does not edit; cancel it and draft it anew to change it.")),
    (re.compile(r"^notice (\d+): the title and text are as they were"),
     _both("通知 #{0} 的标题和正文没有变化，无需保存。", "Notice #{0}: nothing changed, nothing to save.")),
    (re.compile(r"^(\S+) wrote notice (\d+); another approver must approve it"),
     _both("{0} 是通知 #{1} 的起草人，不能自己批准：按两人规则，须由另一位审批人批准。",
           "{0} wrote notice #{1}: under the two-person rule another approver must approve it.")),
    (re.compile(r"^(\S+) wrote notice (\d+); cancel it instead of rejecting it"),
     _both("{0} 是通知 #{1} 的起草人：不用驳回，直接撤销即可。",
           "{0} wrote notice #{1}: cancel it instead of rejecting it.")),
    (re.compile(r"^(\S+) published notice (\d+) by override; another approver reviews it"),
     _both("通知 #{1} 由 {0} 紧急发布，须由另一位审批人审核。",
           "{0} published notice #{1} by override: another approver must review it.")),
    (re.compile(r"^notice (\d+) is (\w+); only a notice that is (.+?) can be (.+)$"), _notice_state),
    (re.compile(r"^notice (\d+)'s window ended at (\S+?);"), _ended),
    (re.compile(r"^the window ended already \((\S+)\)"), _window_ended),
    (re.compile(r"^the window ends \((\S+)\) before it starts \((\S+)\)"), _window_order),
    (re.compile(r"^the window is (\d+) days; at most (\d+)"),
     _both("显示时段为 {0} 天，最长 {1} 天。长期内容请放进版式，而不是通知。",
           "The window is {0} days; at most {1}. A standing message belongs in a layout.")),
    (re.compile(r"^notice (\d+) is (\w+); the override is only for emergencies"),
     _both("通知 #{0} 是一般通知：紧急发布只用于紧急通知。请走审批流程。",
           "Notice #{0} is not an emergency: the override is only for emergencies. Ask an approver.")),
    (re.compile(r"^say why the override is needed"),
     _both("请写明为什么必须紧急发布（至少 4 个字），它会记入审计日志。",
           "Say why the override is needed (at least 4 characters); it goes into the audit log.")),
    (re.compile(r"^notice (\d+) does not need a review$"),
     _both("通知 #{0} 不需要审核。", "Notice #{0} does not need a review.")),
    (re.compile(r"^no notice (\d+)"), _both("没有编号为 {0} 的通知。", "There is no notice #{0}.")),
    (re.compile(r"^no targets"), _both("请选择发布范围（全部屏幕、某个分组或某块屏）。",
                                       "Choose the targets (all boards, a group or a board).")),
    (re.compile(r"^(the title|the text|slot \w+) is empty$"),
     lambda m, lang, tz: (f"{_what(m.group(1), lang)}不能为空。" if lang != "en"
                          else f"{_what(m.group(1), lang).capitalize()} is empty.")),
    (re.compile(r"^(the title|the text|slot \w+) has (\d+) characters; at most (\d+)"),
     lambda m, lang, tz: (f"{_what(m.group(1), lang)}有 {m.group(2)} 个字，最多 {m.group(3)} 个。"
                          "请缩短，或分成两条通知。"
                          if lang != "en" else f"{_what(m.group(1), lang).capitalize()} has {m.group(2)} "
                          f"characters; at most {m.group(3)}. Shorten it or split it in two.")),
    (re.compile(r"^(the title|the text|slot \w+) contains the banned word '([^']*)'"),
     lambda m, lang, tz: (f"{_what(m.group(1), lang)}含有禁用词「{m.group(2)}」，不能上公共屏幕。请改写。"
                          if lang != "en" else f"{_what(m.group(1), lang).capitalize()} contains the banned "
                          f"word 「{m.group(2)}」. Reword it.")),
    (re.compile(r"^(the title|the text|slot \w+): an? (?:direction mark|invisible or control character) "
                r"(U\+[0-9A-F]+) at character (\d+)"),
     lambda m, lang, tz: (f"{_what(m.group(1), lang)}第 {m.group(3)} 个字是看不见的控制字符"
                          f"（{m.group(2)}）。请删除它。"
                          if lang != "en" else f"{_what(m.group(1), lang).capitalize()} has an invisible "
                          f"character ({m.group(2)}) at character {m.group(3)}. Remove it.")),
    (re.compile(r"^template (\S+) needs (.+?) \("),
     _both("模板还缺少：{1}。请在模板下方选择或填写。", "The template still needs: {1}. Fill it in below.")),
    (re.compile(r"^template (\S+): (\w+) = '([^']*)': one of (.+)$"),
     _both("模板的「{1}」只能选：{3}。", "The template's {1} must be one of: {3}.")),
    (re.compile(r"^no template '([^']*)'"), _both("没有模板「{0}」。", "There is no template {0}.")),
    (re.compile(r"^no board '([^']*)'"), _both("没有编号为 {0} 的屏。", "There is no board {0}.")),
    (re.compile(r"^target '([^']*)'"), _both("发布范围「{0}」不存在。请从列表中选择。",
                                              "Target {0} does not exist. Choose from the list.")),
    (re.compile(r"^give text, or a template"),
     _both("请填写通知正文，或选择一个模板。", "Write the text, or choose a template.")),
    (re.compile(r"^no usable reading yet"),
     _both("还没有可用的监测数据：屏上显示“数据更新中”。请检查数据源（监测中心接口）是否可用。",
           "No usable reading yet: the boards say 数据更新中. Check that the data source answers.")),
    (re.compile(r"^latest reading is from ([\d-]+(?: [\d:]+)?), older than (.+)$"),
     _both("最新数据是 {0} 的，已超过允许的时效（{1}）：屏上显示“数据更新中”。请检查数据源。",
           "The latest reading is from {0}, older than {1}: the boards say 数据更新中. "
           "Check the data source.")),
    (re.compile(r"^([\d-]+) lacks (.+)$"),
     lambda m, lang, tz: (f"{m.group(1)} 的数据缺少{_items(m.group(2), lang)}，不能评价。" if lang != "en"
                          else f"The data of {m.group(1)} lack {_items(m.group(2), lang)}: no assessment.")),
    (re.compile(r"^no simulated board here"), _both("这里没有模拟屏（演示模式才有）。",
                                                   "No simulated board here (the demo has them).")),
]


def _items(codes: str, lang: str) -> str:
    from ledctl.api.i18n import pollutant_name

    return ("、" if lang != "en" else ", ").join(pollutant_name(c.strip(), lang) for c in codes.split(","))


def _what(what: str, lang: str) -> str:
    if what == "the title":
        return "标题" if lang != "en" else "the title"
    if what == "the text":
        return "正文" if lang != "en" else "the text"
    if what.startswith("slot "):
        return f"模板空格「{what[5:]}」" if lang != "en" else f"the template's {what[5:]}"
    return what


def say(message: str, lang: str, tz: ZoneInfo | None = None, lead: str = "操作未完成：") -> str:
    """One message from the rules, the drivers or the renderer, as a person should read it."""
    text = message.strip()
    if text.startswith("the notice does not fit every target board:"):
        lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
        lead = "这条通知放不进部分目标屏：" if lang != "en" else "The notice does not fit every target board:"
        return lead + "\n" + "\n".join(problems(lines, lang))
    for pattern, word in RULES:
        m = pattern.search(text)
        if m:
            return word(m, lang, tz)
    if lang == "en":
        return text
    return f"{lead}{localised_times(text, tz) if tz else text}"


# -- problems that name boards ------------------------------------------------------------------------

_FIT = re.compile(r"^(?:(?P<id>[\w.-]+): )?board (?P<board>[\w.-]+), page (?P<page>[\w.-]+): "
                  r"(?P<text>'.*?'|\".*?\") (?P<reason>.+)$")
_GLYPH = re.compile(r"uses (?P<chars>.+?), not in font (?P<font>[\w.-]+) of this board")
_CODEPOINT = re.compile(r"'(.)' \(U\+([0-9A-F]+)\)")
_ROWS = re.compile(r"needs rows (\d+)\.\.(\d+); the board has rows 0\.\.(\d+)")


def _fit_reason(reason: str, lang: str) -> str:
    m = _GLYPH.search(reason)
    if m:
        chars = _CODEPOINT.findall(m.group("chars"))
        shown = "、".join(f"“{c}”（U+{cp}）" for c, cp in chars) or m.group("chars")
        if lang == "en":
            shown_en = ", ".join(f"“{c}” (U+{cp})" for c, cp in chars) or m.group("chars")
            return (f"the board's font ({m.group('font')}) has no {shown_en}: reword it without "
                    f"{'them' if len(chars) > 1 else 'it'} (e.g. a simplified or common character)")
        return f"屏的字库（{m.group('font')}）里没有 {shown}：请换个写法（例如改用简体或常用字）"
    m = _ROWS.search(reason)
    if m:
        return (f"需要第 {m.group(1)}–{m.group(2)} 行，屏只有 0–{m.group(3)} 行：请缩短或分页"
                if lang != "en" else f"needs rows {m.group(1)}–{m.group(2)}, the board has 0–{m.group(3)}: "
                "shorten it")
    if "clipped" in reason or "too wide" in reason:
        return "文字太长，屏上放不下：请缩短" if lang != "en" else "too long for the board: shorten it"
    if "too briefly" in reason or "dwell" in reason:
        return ("每页显示时间太短，来不及看清：请缩短文字" if lang != "en"
                else "shown too briefly to read: shorten it")
    return reason if lang == "en" else f"放不下：{reason}"


def board_list(boards: Sequence[str], lang: str) -> str:
    """Boards named once: zbs-01–zbs-40 where the ids run on, else listed."""
    ordered = list(dict.fromkeys(boards))
    runs: list[list[str]] = []
    for b in ordered:
        if runs and _follows(runs[-1][-1], b):
            runs[-1].append(b)
        else:
            runs.append([b])
    parts = [r[0] if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs]
    joined = ("、" if lang != "en" else ", ").join(parts)
    count = len(ordered)
    if count == 1:
        return joined
    return f"{joined}（共 {count} 块屏）" if lang != "en" else f"{joined} ({count} boards)"


def _follows(a: str, b: str) -> bool:
    ma, mb = re.match(r"^(.*?)(\d+)$", a), re.match(r"^(.*?)(\d+)$", b)
    return bool(ma and mb and ma.group(1) == mb.group(1) and int(mb.group(2)) == int(ma.group(2)) + 1)


def problems(lines: Iterable[str], lang: str) -> list[str]:
    """Fit problems, one per distinct problem, naming its boards once."""
    grouped: dict[str, list[str]] = {}
    for line in lines:
        m = _FIT.match(line.strip())
        if m:
            key = f"{m.group('text')} — {_fit_reason(m.group('reason'), lang)}"
            grouped.setdefault(key, []).append(m.group("board"))
            continue
        board, sep, rest = line.partition(": ")
        if sep and re.fullmatch(r"[\w.-]+", board):
            grouped.setdefault(say(rest, lang), []).append(board)
        else:
            grouped.setdefault(say(line, lang), [])
    out = []
    for what, boards in grouped.items():
        out.append(f"{board_list(boards, lang)}：{what}" if boards and lang != "en"
                   else f"{board_list(boards, lang)}: {what}" if boards else what)
    return out


# -- what a board's driver said ------------------------------------------------------------------------

_ATTEMPTS = re.compile(r"after (\d+) attempts")
_DETAIL = re.compile(r"^(?:settings: )?(?:offline|nack|refused|link|sent)(?: \([^)]*\))?: "
                     r"(?:board [\w.-]+: )?")


def result(text: str, lang: str) -> str:
    """A delivery's or health check's outcome (`offline (no reply): board zbs-05: no reply (timeout) after
    11 attempts`) as what happened and what to do."""
    text = (text or "").strip()
    if not text or text == "confirmed":
        return ""
    en = lang == "en"
    low = text.lower()
    lead = ""
    if low.startswith("settings: "):
        lead = "While setting brightness or power: " if en else "设置亮度/开关屏时："
        low = low[len("settings: "):]
    detail = _DETAIL.sub("", text)
    detail = re.sub(r"^board [\w.-]+: ", "", detail)
    if "busy" in low:
        said = ("The board is online but busy and refused the data; it is sent again by itself shortly. "
                "If it stays busy, restart the board's controller." if en else
                "屏在线，但正忙，暂时拒收；系统会自动重发。若一直忙，请重启屏的控制卡。")
    elif "shutting down" in low:
        said = "Not finished: the service was stopping." if en else "未完成：服务正在停止。"
    elif low.startswith("offline") or "no reply" in low or "last will" in low or "timeout" in low:
        tries = _ATTEMPTS.search(text)
        n = f" ({tries.group(1)} tries)" if en and tries else f"（已试 {tries.group(1)} 次）" if tries else ""
        said = (f"No answer from the board{n}: check its power and its cable or DTU; it is sent again by "
                "itself when it answers." if en else
                f"屏没有应答{n}：请检查屏的电源和通信线路（DTU）。屏恢复后系统会自动重发。")
    elif low.startswith("refused"):
        said = (f"This board cannot show it ({detail}); change the content." if en else
                f"此屏无法显示这些内容（{detail}）：请修改内容。")
    elif low.startswith("nack") or "err_" in low:
        said = (f"The board refused it ({detail}); it is tried again. If this repeats, call the installer."
                if en else f"屏拒收了数据（{detail}）；系统会重试。若反复出现，请联系安装维护人员。")
    elif low.startswith("link") or "connection" in low or "broker" in low or "refused" in low:
        said = (f"The connection to the board failed ({detail}): check the network, the DTU or the broker; "
                "it is tried again." if en else
                f"通信线路故障（{detail}）：请检查网络、DTU 或消息服务器；系统会重试。")
    elif low.startswith("sent"):
        said = "Sent; this board cannot confirm what it shows." if en else "已发送；此屏不能回报显示内容。"
    else:
        said = text if en else f"屏报告：{text}"
    return lead + said


def group_by_reason(rows: Sequence[Mapping[str, Any]], key: str = "why") -> list[dict[str, Any]]:
    """Rows with the same reason together: [{why, boards: [...]}, …], in the rows' order."""
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(str(row.get(key, "")), []).append(row)
    return [{key: why, "rows": members} for why, members in grouped.items()]


# -- validation errors (pydantic) ------------------------------------------------------------------

FIELDS = {
    "targets": ("发布范围", "targets"), "end": ("结束时间", "end"), "start": ("开始时间", "start"),
    "title": ("标题", "title"), "text": ("正文", "text"), "reason": ("原因", "reason"),
    "name": ("用户名", "user name"), "password": ("密码", "password"), "share": ("轮播占比", "share"),
    "slots": ("模板空格", "template blanks"), "template": ("模板", "template"), "level": ("级别", "level"),
    "mode": ("显示方式", "display"), "role": ("角色", "role"), "blink": ("闪烁", "blink"),
    "month": ("月份", "month"), "year": ("年份", "year"), "offline": ("离线", "offline"),
    "busy": ("忙", "busy"), "corrupt": ("干扰", "noise"), "delay": ("延迟", "delay"),
}


def validation(errors: Sequence[Mapping[str, Any]], lang: str) -> str:
    """Pydantic's errors as sentences naming the field in words."""
    out = []
    for e in errors:
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
        field = loc[0] if loc else ""
        name = pick(FIELDS, field, lang) if field else ("请求" if lang != "en" else "the request")
        kind = str(e.get("type", ""))
        ctx = e.get("ctx") or {}
        en = lang == "en"
        if kind == "missing":
            out.append(f"Give the {name}." if en else f"请填写{name}。")
        elif kind == "too_short" and field == "targets":
            out.append("Choose at least one target." if en else "请至少选择一个发布范围。")
        elif kind in ("too_short", "string_too_short"):
            n = ctx.get("min_length", 1)
            out.append(f"The {name} is too short (at least {n})." if en else f"{name}太短（至少 {n} 个字）。")
        elif kind in ("too_long", "string_too_long"):
            n = ctx.get("max_length", "")
            out.append(f"The {name} is too long (at most {n})." if en else f"{name}太长（最多 {n} 个字）。")
        elif kind.startswith("datetime") or kind.startswith("date"):
            out.append(f"The {name} is not a time (e.g. 2026-11-28 14:00)." if en
                       else f"{name}不是有效的时间（例如 2026-11-28 14:00）。")
        elif kind == "literal_error":
            out.append(f"The {name} must be one of: {ctx.get('expected', '')}." if en
                       else f"{name}只能是：{ctx.get('expected', '')}。")
        elif kind.startswith(("greater", "less")):
            out.append(f"The {name} is out of range." if en else f"{name}超出允许范围。")
        else:
            msg = str(e.get("msg", kind))
            out.append(f"The {name}: {msg}." if en else f"{name}填写有误（{msg}）。")
    return "\n".join(dict.fromkeys(out))


def request_lang(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str:
    """The console's language for an API answer: its X-Console-Lang header, else its cookie, else
    Chinese (the console's first language)."""
    return console_lang(headers, cookies) or "zh"


def console_lang(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """The language the console asked for (X-Console-Lang, which its script always sends, or the
    cookie the language switch sets); None for a script calling the API, which gets the messages
    as the rules word them."""
    for value in (headers.get("x-console-lang"), cookies.get("lang")):
        if value in ("zh", "en"):
            return value
    return None


def localised_times(text: str, tz: ZoneInfo) -> str:
    """ISO 8601 instants inside a message, written in the deployment's time zone."""
    return re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)",
                  lambda m: _at(m.group(0).replace("Z", "+00:00"), tz), text)


def state_words(lang: str) -> dict[str, str]:
    return {k: pick(STATE_WORDS, k, lang) for k in STATE_WORDS}
