"""The notice lifecycle: every allowed transition, every forbidden one with a clear error; users;
the hash-chained audit log finding edited, inserted and deleted rows."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl.clock import FixedClock
from ledctl.notices import audit
from ledctl.notices.users import AuthError, User, Users, check_password, hash_password
from ledctl.notices.workflow import NoticeError, Notices
from ledctl.store import open_db

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)

WANG = User("wang", "operator")
ZHAO = User("zhao", "operator")
LI = User("li", "approver")
CHEN = User("chen", "approver")
VIEWER = User("guest", "viewer")


@pytest.fixture
def world(tmp_path: Path):
    # The two-person rule alone (a deployment without [governance]): the floor every chain keeps.
    # The shipped three-stage chain is tested in test_review_chain.py.
    dep = replace(config.load(REPO / "config" / "zhenhai.toml"), governance=config.Governance())
    clock = FixedClock(T0)
    return Notices(dep, tmp_path / "s.sqlite", clock), clock


def draft(notices: Notices, user: User = WANG, **kw):
    args = dict(
        title="停水通知",
        text="明天上午停水，请提前储水。",
        level="normal",
        targets=["group:community"],
        end=T0 + timedelta(hours=3),
    )
    args.update(kw)
    return notices.draft(user, **args)


# -- allowed ---------------------------------------------------------------------------------------


def test_draft_approve_publish_expire(world) -> None:
    notices, clock = world
    n = draft(notices)
    assert (n.state, n.author, n.origin, n.mode) == ("draft", "wang", "manual", "share")
    n = notices.approve(LI, n.id)
    assert (n.state, n.approver) == ("approved", "li")
    n = notices.publish(WANG, n.id)
    assert (n.state, n.published_by) == ("published", "wang") and n.published_at == T0
    clock.advance(hours=3)
    assert notices.get(n.id).state_at(clock.now()) == "expired"
    assert [e.id for e in notices.expire_due()] == [n.id]
    assert notices.get(n.id).state == "expired"


def test_a_template_needs_one_person(world) -> None:
    notices, _ = world
    n = notices.draft_from_template(
        WANG, "heavy-pollution", {"level": "红色"}, targets=["all"], end=T0 + timedelta(hours=6)
    )
    assert n.title == "重污染天气红色预警" and "红色预警" in n.text and n.level == "emergency"
    assert n.mode == "takeover" and n.origin == "template"
    n = notices.publish(WANG, n.id)
    assert n.state == "published" and n.approver == "wang"


def test_emergency_override_is_flagged_until_another_reviews_it(world) -> None:
    notices, _ = world
    n = draft(notices, LI, level="emergency", title="紧急通知", text="化工区发生泄漏，请关闭门窗。")
    n = notices.override(LI, n.id, "泄漏正在发生，来不及等待审批")
    assert n.state == "published" and n.needs_review and n.override_reason.startswith("泄漏")
    assert [x.id for x in notices.needs_review()] == [n.id]
    with pytest.raises(AuthError, match="another approver reviews it"):
        notices.review(LI, n.id)
    n = notices.review(CHEN, n.id)
    assert not n.needs_review and n.reviewer == "chen" and notices.needs_review() == []


@pytest.mark.parametrize("setup", ["draft", "approved", "published"])
def test_cancel_from_each_open_state(world, setup) -> None:
    notices, _ = world
    n = draft(notices)
    if setup in ("approved", "published"):
        notices.approve(LI, n.id)
    if setup == "published":
        notices.publish(WANG, n.id)
    n = notices.cancel(ZHAO, n.id, "情况有变")
    assert (n.state, n.closed_by, n.reason) == ("cancelled", "zhao", "情况有变")


def test_reject(world) -> None:
    notices, _ = world
    n = notices.reject(LI, draft(notices).id, "措辞不当")
    assert (n.state, n.reason) == ("rejected", "措辞不当")


# -- forbidden ---------------------------------------------------------------------------------------


def forbid(world, steps, error, match):
    notices, clock = world
    n = draft(notices, **(steps.pop("draft", {})))
    with pytest.raises(error, match=match):
        for action in steps["then"]:
            action(notices, clock, n.id)


A = {
    "approve_li": lambda ns, c, i: ns.approve(LI, i),
    "approve_chen": lambda ns, c, i: ns.approve(CHEN, i),
    "publish": lambda ns, c, i: ns.publish(WANG, i),
    "cancel": lambda ns, c, i: ns.cancel(WANG, i, "不需要了"),
    "later": lambda ns, c, i: c.advance(hours=4),
}


@pytest.mark.parametrize(
    ("case", "draft_kw", "then", "error", "match"),
    [
        ("author approves own notice", {"user": LI}, [A["approve_li"]], AuthError, "another approver"),
        (
            "operator approves",
            {},
            [lambda ns, c, i: ns.approve(ZHAO, i)],
            AuthError,
            "needs the approver role",
        ),
        (
            "viewer publishes",
            {},
            [A["approve_li"], lambda ns, c, i: ns.publish(VIEWER, i)],
            AuthError,
            "guest .viewer. may not publish",
        ),
        ("free text published unapproved", {}, [A["publish"]], NoticeError, "needs an approver first"),
        (
            "approve after cancel",
            {},
            [A["cancel"], A["approve_li"]],
            NoticeError,
            "is cancelled; only a notice that",
        ),
        (
            "publish after the window",
            {},
            [A["approve_li"], A["later"], A["publish"]],
            NoticeError,
            "is expired|window ended",
        ),
        ("approve after the window", {}, [A["later"], A["approve_li"]], NoticeError, "window ended"),
        (
            "publish a rejected notice",
            {},
            [lambda ns, c, i: ns.reject(LI, i, "不行"), A["publish"]],
            NoticeError,
            "is rejected",
        ),
        (
            "approve twice",
            {},
            [A["approve_li"], A["approve_chen"]],
            NoticeError,
            "is approved; only a notice",
        ),
        ("cancel twice", {}, [A["cancel"], A["cancel"]], NoticeError, "is cancelled"),
        (
            "cancel an expired notice",
            {},
            [A["approve_li"], A["publish"], A["later"], A["cancel"]],
            NoticeError,
            "is expired",
        ),
        (
            "override a normal notice",
            {},
            [lambda ns, c, i: ns.override(LI, i, "很急很急")],
            NoticeError,
            "only for emergencies",
        ),
        (
            "operator overrides",
            {"level": "emergency"},
            [lambda ns, c, i: ns.override(ZHAO, i, "很急很急")],
            AuthError,
            "needs the approver role",
        ),
        (
            "override without a reason",
            {"level": "emergency"},
            [lambda ns, c, i: ns.override(LI, i, "急")],
            NoticeError,
            "say why",
        ),
        (
            "review what needs none",
            {},
            [A["approve_li"], A["publish"], lambda ns, c, i: ns.review(CHEN, i)],
            NoticeError,
            "does not need a review",
        ),
        (
            "author rejects own",
            {"user": LI},
            [lambda ns, c, i: ns.reject(LI, i, "算了")],
            AuthError,
            "cancel it",
        ),
        ("viewer cancels", {}, [lambda ns, c, i: ns.cancel(VIEWER, i, "不要")], AuthError, "may not cancel"),
        ("unknown notice", {}, [lambda ns, c, i: ns.approve(LI, i + 99)], NoticeError, "no notice 100"),
    ],
)
def test_forbidden(world, case, draft_kw, then, error, match) -> None:
    kw = dict(draft_kw)
    user = kw.pop("user", WANG)
    notices, clock = world
    n = draft(notices, user, **kw)
    with pytest.raises(error, match=match):
        for action in then:
            action(notices, clock, n.id)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"text": "这是内部资料，请勿外传。"}, "banned word '内部资料'"),
        ({"text": "停水\u202e通知"}, "direction mark U\\+202E"),
        ({"text": "停水\x07通知"}, "control character U\\+0007"),
        ({"text": "停" * 201}, "201 characters; at most 200"),
        ({"text": "   "}, "the text is empty"),
        ({"targets": ["group:nowhere"]}, "target 'group:nowhere'"),
        ({"targets": []}, "no targets"),
        ({"end": T0 - timedelta(minutes=1)}, "ends .* before it starts"),
        ({"start": T0 - timedelta(hours=3), "end": T0 - timedelta(hours=1)}, "ended already"),
        ({"end": T0 + timedelta(days=40)}, "at most 31"),
        ({"level": "urgent"}, "level 'urgent'"),
        ({"share": 0.95}, "share 0.95"),
    ],
)
def test_bad_drafts_are_refused_clearly(world, kw, match) -> None:
    notices, _ = world
    with pytest.raises(NoticeError, match=match):
        draft(notices, **kw)


def test_viewer_cannot_draft_and_templates_check_slots(world) -> None:
    notices, _ = world
    with pytest.raises(AuthError, match="may not draft"):
        draft(notices, VIEWER)
    end = T0 + timedelta(hours=1)
    with pytest.raises(NoticeError, match="level = '紫色': one of 黄色, 橙色, 红色"):
        notices.draft_from_template(WANG, "heavy-pollution", {"level": "紫色"}, targets=["all"], end=end)
    with pytest.raises(NoticeError, match="needs level"):
        notices.draft_from_template(WANG, "heavy-pollution", {}, targets=["all"], end=end)
    with pytest.raises(NoticeError, match="no slot 'area'"):
        notices.draft_from_template(
            WANG, "heavy-pollution", {"level": "红色", "area": "x"}, targets=["all"], end=end
        )
    with pytest.raises(NoticeError, match="no template 'flood'"):
        notices.draft_from_template(WANG, "flood", {}, targets=["all"], end=end)
    with pytest.raises(NoticeError, match="banned word"):
        notices.draft_from_template(WANG, "shelter-in-place", {"area": "机密仓库"}, targets=["all"], end=end)


def test_fit_problems_stop_a_draft(tmp_path: Path) -> None:
    dep = config.load(REPO / "config" / "zhenhai.toml")
    notices = Notices(
        dep, tmp_path / "s.sqlite", FixedClock(T0), fit=lambda notice, boards: [f"{boards[0].id}: too long"]
    )
    with pytest.raises(NoticeError, match="does not fit every target board:\n  zbs-01: too long"):
        draft(notices)
    assert notices.list() == []


# -- users -------------------------------------------------------------------------------------------


def test_users_roles_passwords_and_tokens(tmp_path: Path) -> None:
    users = Users(tmp_path / "s.sqlite")
    with pytest.raises(Exception, match="first user must be an admin"):
        users.add("wang", "operator", "long-enough-pw", T0, None)
    root = users.add("root", "admin", "long-enough-pw", T0, None)
    with pytest.raises(AuthError, match="only an admin can add users"):
        users.add("x", "viewer", "long-enough-pw", T0, None)
    wang = users.add("wang", "operator", "wang-password", T0, root)
    with pytest.raises(AuthError, match="may not add users"):
        users.add("y", "viewer", "long-enough-pw", T0, wang)
    with pytest.raises(Exception, match="too short"):
        users.add("z", "viewer", "short", T0, root)
    assert users.login("wang", "wang-password") == wang
    with pytest.raises(AuthError, match="wrong user name or password"):
        users.login("wang", "nope-nope-nope")
    with pytest.raises(AuthError, match="wrong user name or password"):
        users.login("nobody", "wang-password")
    token = users.new_token(wang, "cli", T0)
    assert users.by_token(token) == wang
    users.disable("wang", root)
    with pytest.raises(AuthError, match="disabled"):
        users.login("wang", "wang-password")
    with pytest.raises(AuthError, match="token is unknown"):
        users.by_token(token)
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        stored = db.execute("SELECT password FROM users WHERE name = 'wang'").fetchone()[0]
        assert stored.startswith("scrypt$") and "wang-password" not in stored
        assert db.execute("SELECT COUNT(*) FROM tokens WHERE digest = ?", (token,)).fetchone()[0] == 0
    assert check_password("abc", hash_password("abc")) and not check_password("abd", hash_password("abc"))


# -- audit -------------------------------------------------------------------------------------------


def test_every_change_is_audited_with_before_and_after(world) -> None:
    notices, _ = world
    n = draft(notices)
    notices.approve(LI, n.id)
    notices.publish(WANG, n.id)
    log = notices.audit_log(f"notice:{n.id}")
    assert [(e.actor, e.action) for e in log] == [("wang", "draft"), ("li", "approve"), ("wang", "publish")]
    assert '"state": "draft"' in log[1].before and '"state": "approved"' in log[1].after
    assert notices.verify_audit()[0] == []


def tamper(world, sql: str) -> list[str]:
    notices, _ = world
    for i in range(4):
        notices.approve(LI, draft(notices, text=f"第{i}条通知，请注意。").id)
    assert notices.verify_audit()[0] == []
    with sqlite3.connect(notices.path) as db:
        db.executescript(sql)
    return notices.verify_audit()[0]


def test_audit_verify_finds_an_edited_row(world) -> None:
    problems = tamper(world, "UPDATE audit SET actor = 'chen' WHERE seq = 3")
    assert problems == ["row 3 (draft notice:2 by chen at 2026-11-25T09:00:00+08:00): its content was edited"]


def test_audit_verify_finds_a_deleted_row(world) -> None:
    problems = tamper(world, "DELETE FROM audit WHERE seq = 4")
    assert "rows 4..4 are missing (deleted)" in problems


def test_audit_verify_finds_deleted_rows_at_the_end(world) -> None:
    problems = tamper(world, "DELETE FROM audit WHERE seq >= 7")
    assert problems[:2] == ["rows 7..8 at the end are missing (deleted)",
                            "fewer rows than anchored: the log ends at row 6, but it had row 8 at "
                            "2026-11-25T09:00:00+08:00: rows were deleted"]


def test_audit_verify_finds_an_inserted_row(world) -> None:
    tamper(
        world,
        "UPDATE audit SET seq = seq + 100 WHERE seq >= 5; UPDATE audit SET seq = seq - 99 WHERE seq >= 105",
    )
    notices, _ = world
    with open_db(notices.path, audit.SCHEMA) as db:
        db.execute(
            "INSERT INTO audit VALUES (5, '2026-11-25T09:00:00+08:00', 'mallory', 'approve', 'notice:9', "
            "'null', 'null', 'x', 'y')"
        )
    problems = notices.verify_audit()[0]
    assert any("row 5" in p and "edited" in p for p in problems)
    assert any("row 6: does not follow row 5" in p for p in problems)
