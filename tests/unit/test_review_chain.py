"""The bureau's review chain as config/zhenhai.toml declares it (issue 19.2): the department drafts or
confirms, the office reviews (may edit; confirms 保密审查), the deputy head in charge approves. Each
refusal of the workflow and the command line; the chains a config may not declare (the two-person
rule is the floor); the override's shortcut counted by the report."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import cli, config, report
from ledctl.clock import FixedClock
from ledctl.errors import ConfigError
from ledctl.notices.users import AuthError, User, Users
from ledctl.notices.workflow import NoticeError, Notices
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "zhenhai.toml"
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)

WANG, ZHAO = User("wang", "operator"), User("zhao", "operator")
LI, CHEN, ZHOU = User("li", "approver"), User("chen", "approver"), User("zhou", "approver")


@pytest.fixture
def notices(tmp_path: Path) -> Notices:
    return Notices(config.load(CONFIG), tmp_path / "ledctl.sqlite", FixedClock(T0))


def draft(notices: Notices, user: User = WANG, **kw):
    args = dict(title="停水通知", text="明天上午九点到十二点停水，请提前储水。", level="normal",
                targets=["group:community"], end=T0 + timedelta(hours=3))
    args.update(kw)
    return notices.draft(user, **args)


def test_the_shipped_chain_has_three_stages() -> None:
    stages = config.load(CONFIG).governance.stages
    assert [(s.id, s.name, s.role) for s in stages] == [
        ("department", "业务科室确认", "operator"), ("office", "办公室审核", "approver"),
        ("leader", "分管领导审批", "approver")]
    assert [s.id for s in stages if s.may_edit] == ["office"]
    assert [s.id for s in stages if s.confidentiality] == ["office"]


def test_a_notice_goes_through_every_stage_in_order(notices) -> None:
    n = draft(notices)
    standing = notices.standing(n)
    assert [(so.stage, so.by, so.drafted) for so in n.signoffs] == [("department", "wang", True)]
    assert standing.next.id == "office" and standing.not_by() == ("wang",)
    assert standing.describe() == ("2/3 办公室审核 (office): an approver other than wang; may edit; "
                                   "confirms the confidentiality review")
    n = notices.approve(LI, n.id, confidentiality_checked=True)
    assert n.state == "draft" and notices.standing(n).next.id == "leader"
    n = notices.approve(CHEN, n.id)
    assert (n.state, n.approver) == ("approved", "chen") and notices.standing(n).next is None
    assert [(so.stage, so.by, so.confidentiality) for so in n.signoffs] == [
        ("department", "wang", False), ("office", "li", True), ("leader", "chen", False)]
    assert [e.action for e in notices.audit_log(f"notice:{n.id}")] == ["draft", "sign-off", "approve"]
    assert notices.publish(WANG, n.id).state == "published"


def test_a_draft_by_someone_outside_the_department_is_confirmed_by_it(notices) -> None:
    """A draft that did not come from a user (a CAP feed) waits for the department's confirmation."""
    n = notices.draft(User("cap:alert@yjj.example", "operator"), title="通知", text="请注意。",
                      level="normal", targets=["all"], end=T0 + timedelta(hours=1),
                      author="cap:alert@yjj.example")
    assert n.signoffs == () and notices.standing(n).next.id == "department"
    n = notices.approve(ZHAO, n.id)  # an operator confirms it for the department
    assert notices.standing(n).next.id == "office"


@pytest.mark.parametrize(("case", "steps", "error", "match"), [
    ("an operator signs off the office's review",
     [lambda ns, i: ns.approve(ZHAO, i, confidentiality_checked=True)],
     AuthError, "办公室审核 .office, stage 2 of 3. needs the approver role; zhao is operator"),
    ("the office without the confidentiality review",
     [lambda ns, i: ns.approve(LI, i)], NoticeError, "confidentiality review .保密审查."),
    ("the office signs off the leader's stage too",
     [lambda ns, i: ns.approve(LI, i, confidentiality_checked=True), lambda ns, i: ns.approve(LI, i)],
     AuthError, "li signed off an earlier stage of notice 1; another approver must sign off 分管领导审批"),
    ("the author, an approver, reviews their own draft",
     [lambda ns, i: ns.approve(WANG, i)], AuthError, "needs the approver role"),
    ("published before the leader approved",
     [lambda ns, i: ns.approve(LI, i, confidentiality_checked=True), lambda ns, i: ns.publish(WANG, i)],
     NoticeError, "needs an approver first"),
    ("the leader's stage edits",
     [lambda ns, i: ns.approve(LI, i, confidentiality_checked=True),
      lambda ns, i: ns.edit(CHEN, i, text="改过的正文。")],
     NoticeError, "at 分管领导审批 .leader., which does not edit; only 办公室审核 may edit"),
    ("the author edits at the office's stage",
     [lambda ns, i: ns.edit(WANG, i, text="改过的正文。")], AuthError, "needs the approver role"),
    ("an edit that changes nothing",
     [lambda ns, i: ns.edit(LI, i, text="明天上午九点到十二点停水，请提前储水。")],
     NoticeError, "nothing to edit"),
    ("an edit with a banned word",
     [lambda ns, i: ns.edit(LI, i, text="内部资料：明天停水。")], NoticeError, "banned word"),
])
def test_each_refusal(notices, case, steps, error, match) -> None:
    n = draft(notices)
    with pytest.raises(error, match=match):
        for step in steps:
            step(notices, n.id)


def test_an_approver_who_drafts_is_the_department_and_cannot_review_it(notices) -> None:
    n = draft(notices, LI)
    assert n.signoffs[0].by == "li"
    with pytest.raises(AuthError, match="li wrote notice 1; another approver must sign off 办公室审核"):
        notices.approve(LI, n.id, confidentiality_checked=True)


def test_the_office_edits_a_new_revision_and_the_audit_log_keeps_both(notices) -> None:
    n = draft(notices)
    n = notices.edit(LI, n.id, text="明天九点至十二点停水，请提前储水。")
    assert (n.revision, n.text, n.state) == (2, "明天九点至十二点停水，请提前储水。", "draft")
    [entry] = [e for e in notices.audit_log(f"notice:{n.id}") if e.action == "edit"]
    before, after = json.loads(entry.before), json.loads(entry.after)
    assert (entry.actor, before["text"], after["text"], after["revision"]) == (
        "li", "明天上午九点到十二点停水，请提前储水。", "明天九点至十二点停水，请提前储水。", 2)
    n = notices.approve(LI, n.id, confidentiality_checked=True)  # the editor signs off their stage
    assert notices.standing(n).next.id == "leader"


def test_an_override_is_a_shortcut_the_report_counts(notices, tmp_path) -> None:
    n = draft(notices, WANG, level="emergency", title="紧急通知", text="化工区发生泄漏，请关闭门窗。")
    n = notices.override(LI, n.id, "泄漏正在发生，来不及走完审核")
    assert n.state == "published" and n.needs_review and n.skipped == ("office", "leader")
    m = draft(notices, WANG, text="明天停水。")
    from tests.chain import approve_fully

    notices.publish(WANG, approve_fully(notices, m.id).id)
    r = report.build(Store(tmp_path / "ledctl.sqlite"), notices.list(), [], "2026-11",
                     datetime(2026, 11, 1, tzinfo=TZ), datetime(2026, 12, 1, tzinfo=TZ))
    assert (r.overrides, r.shortcuts, r.overrides_unreviewed, r.skipped_stages) == (
        1, 1, 1, {"office": 1, "leader": 1})
    text = report.render(r, "text")
    assert ("紧急发布 overrides / 跳过审核 shortcuts:    1 / 1 (skipped: leader ×1, office ×1); "
            "1 not yet reviewed") in text
    assert "skipped_stages.office,1" in report.render(r, "csv")


# -- chains a config may not declare ----------------------------------------------------------------

def chain_problems(tmp_path: Path, stages: str) -> str:
    text = CONFIG.read_text(encoding="utf-8")
    start = text.index("[[governance.stages]]")
    end = text.index("# CAP 1.2 alerts")
    path = tmp_path / "zhenhai.toml"
    path.write_text(text[:start] + stages + "\n" + text[end:], encoding="utf-8")
    (tmp_path / "layouts").symlink_to(REPO / "config" / "layouts")
    (tmp_path / "sample-data").symlink_to(REPO / "config" / "sample-data")
    with pytest.raises(ConfigError) as e:
        config.load(path)
    return str(e.value)


@pytest.mark.parametrize(("stages", "match"), [
    ('[[governance.stages]]\nid = "only"\nname = "科室"\nrole = "operator"\n',
     'governance.stages[0].role = "operator": expected approver or admin: the last stage approves'),
    ('[[governance.stages]]\nid = "a"\nname = "审批"\nrole = "approver"\nsame_person = true\n',
     "governance.stages[0].same_person: the last stage cannot be signed off by someone who already acted"),
    ('[[governance.stages]]\nid = "a"\nname = "审批"\nrole = "approver"\ndrafting_counts = true\n',
     "governance.stages[0].drafting_counts: the last stage cannot be signed off by drafting"),
    ('[[governance.stages]]\nid = "a"\nname = "甲"\nrole = "approver"\n'
     '[[governance.stages]]\nid = "a"\nname = "乙"\nrole = "approver"\n',
     'governance.stages[1].id = "a": expected an id no other stage has'),
    ('[[governance.stages]]\nid = "a"\nname = "甲"\nrole = "viewer"\n',
     'governance.stages[0].role = "viewer": expected one of operator, approver, admin'),
    ('[[governance.stages]]\nid = "a"\nname = "甲"\nrole = "approver"\nskip = true\n',
     "governance.stages[0].skip: unknown key"),
])
def test_a_chain_without_the_two_person_rule_is_refused(tmp_path, stages, match) -> None:
    assert match in chain_problems(tmp_path, stages)


# -- the command line --------------------------------------------------------------------------------

PASSWORDS = {"root": "root-password", "wang": "wang-password", "li": "li-password!",
             "chen": "chen-password"}


def run(state: Path, user: str, *argv: str, monkeypatch) -> int:
    monkeypatch.setenv("LEDCTL_PASSWORD", PASSWORDS[user])
    return cli.main(["--state", str(state), "--as", user, *argv, "-c", str(CONFIG)], clock=FixedClock(T0))


def test_the_command_line_shows_the_chain_and_refuses_each_wrong_step(tmp_path, monkeypatch, capsys) -> None:
    users = Users(tmp_path / "ledctl.sqlite")
    root = users.add("root", "admin", PASSWORDS["root"], T0, None)
    users.add("wang", "operator", PASSWORDS["wang"], T0, root)
    users.add("li", "approver", PASSWORDS["li"], T0, root)
    users.add("chen", "approver", PASSWORDS["chen"], T0, root)
    assert run(tmp_path, "wang", "notice", "draft", "--title", "停水通知", "--text", "明天停水，请储水。",
               "--target", "community", "--end", "+2h", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "next: 2/3 办公室审核 (office): an approver other than wang" in out
    assert run(tmp_path, "wang", "notice", "approve", "1", monkeypatch=monkeypatch) == 3
    assert "needs the approver role" in capsys.readouterr().err
    assert run(tmp_path, "li", "notice", "approve", "1", monkeypatch=monkeypatch) != 0
    assert "--confidentiality-checked" in capsys.readouterr().err
    assert run(tmp_path, "li", "notice", "edit", "1", monkeypatch=monkeypatch) == 2  # nothing to change
    assert "give --title, --text or both" in capsys.readouterr().err
    assert run(tmp_path, "li", "notice", "edit", "1", "--text", "明天九点停水，请储水。",
               monkeypatch=monkeypatch) == 0
    assert "(revision 2)" in capsys.readouterr().out
    assert run(tmp_path, "li", "notice", "approve", "1", "--confidentiality-checked",
               monkeypatch=monkeypatch) == 0
    assert "next: 3/3 分管领导审批 (leader): an approver other than wang, li" in capsys.readouterr().out
    assert run(tmp_path, "li", "notice", "approve", "1", monkeypatch=monkeypatch) == 3
    assert "two-person rule" in capsys.readouterr().err
    assert run(tmp_path, "chen", "notice", "list", monkeypatch=monkeypatch) == 0
    assert "→ 3/3 分管领导审批" in capsys.readouterr().out
    assert run(tmp_path, "chen", "notice", "show", "1", monkeypatch=monkeypatch) == 0
    shown = capsys.readouterr().out
    assert "review chain (revision 2):" in shown
    assert "1. 业务科室确认 (department): wang by drafting" in shown
    assert "2. 办公室审核 (office): li, 2026-11-25 09:00, 保密审查 confirmed" in shown
    assert "3. 分管领导审批 (leader): next — an approver other than wang, li" in shown
    assert run(tmp_path, "chen", "notice", "approve", "1", monkeypatch=monkeypatch) == 0
    assert "notice 1: approved" in capsys.readouterr().out


# -- the console says each refusal in plain Chinese ---------------------------------------------------

@pytest.mark.parametrize(("steps", "said"), [
    ([lambda ns, i: ns.approve(ZHAO, i, confidentiality_checked=True)],
     "「办公室审核」（第 2/3 步）需要「审批人」角色；zhao 是操作员。"),
    ([lambda ns, i: ns.approve(LI, i)], "「办公室审核」须确认已完成保密审查"),
    ([lambda ns, i: ns.approve(LI, i, confidentiality_checked=True), lambda ns, i: ns.approve(LI, i)],
     "li 已签批通知 #1 的前一环节：按两人规则，「分管领导审批」须由另一位同事签批。"),
    ([lambda ns, i: ns.approve(LI, i, confidentiality_checked=True),
      lambda ns, i: ns.edit(CHEN, i, text="改过的正文。")], "正处于「分管领导审批」环节，此环节不能修改"),
    ([lambda ns, i: ns.edit(LI, i, text="明天上午九点到十二点停水，请提前储水。")], "标题和正文没有变化"),
])
def test_the_console_words_each_refusal(notices, steps, said) -> None:
    from ledctl.api.messages import say

    n = draft(notices)
    with pytest.raises((AuthError, NoticeError)) as e:
        for step in steps:
            step(notices, n.id)
    assert said in say(str(e.value), "zh")


def test_the_console_words_the_authors_own_review(notices) -> None:
    from ledctl.api.messages import say

    n = draft(notices, LI)
    with pytest.raises(AuthError) as e:
        notices.approve(LI, n.id, confidentiality_checked=True)
    assert say(str(e.value), "zh") == "li 是通知 #1 的起草人：按两人规则，「办公室审核」须由另一位同事签批。"
