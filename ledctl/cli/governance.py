"""The governance commands: users, notices, CAP, audit and the disclosure report.

Every command that changes something acts as a user: `--as NAME` with the password
from $LEDCTL_PASSWORD or a prompt, or an API token in $LEDCTL_TOKEN. Roles are checked
by the workflow, not here, so the console and the CLI follow the same rules.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ledctl import config as config_mod
from ledctl.cli.common import UsageError, config_arg
from ledctl.clock import Clock
from ledctl.errors import LedctlError
from ledctl.notices.users import ROLES, AuthError, User, Users
from ledctl.notices.workflow import Notice, Notices


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    us = sub.add_parser("users", help="users and roles (viewer, operator, approver, admin), API tokens")
    us_sub = us.add_subparsers(dest="users_command", required=True)
    add = us_sub.add_parser("add", help="add a user (the first one needs no login and must be an admin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-file", type=Path, help="read the password from this file (else a prompt)")
    us_sub.add_parser("list", help="every user and role")
    dis = us_sub.add_parser("disable", help="disable a user (and their tokens)")
    dis.add_argument("name")
    tok = us_sub.add_parser("token", help="a new API token for the acting user (shown once)")
    tok.add_argument("--label", default="cli")
    for p in (add, dis, tok):
        config_arg(p)
    us.set_defaults(func=cmd_users)

    no = sub.add_parser("notice", help="urgent notices: draft, approve, publish, cancel, track")
    no_sub = no.add_subparsers(dest="notice_command", required=True)
    dr = no_sub.add_parser("draft", help="draft a notice (free text, or a template with --slot)")
    text = dr.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="the notice text (Chinese first)")
    text.add_argument("--template", metavar="ID", help="a pre-approved template from [notices.templates]")
    dr.add_argument("--title", help="the title (free text; templates bring their own)")
    dr.add_argument("--slot", action="append", default=[], metavar="NAME=VALUE", help="a template slot")
    dr.add_argument("--level", choices=("emergency", "normal"), help="default normal (templates: their own)")
    dr.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="T",
        help="all, group:<id>, board:<id> or a group id (repeatable)",
    )
    dr.add_argument("--start", metavar="T", help="from (default now): 2026-11-25T14:00, 14:00, +30m")
    dr.add_argument("--end", metavar="T", required=True, help="until (absolute, or +2h from the start)")
    dr.add_argument(
        "--mode",
        choices=("takeover", "share"),
        help="take the boards over (emergency default) or share the loop (normal default)",
    )
    dr.add_argument("--share", type=float, help="share of the loop, 0.1..0.9 (default from config)")
    dr.add_argument("--blink", action="store_true")
    for action in ("approve", "publish", "review", "show"):
        p = no_sub.add_parser(
            action,
            help={
                "approve": "sign off the next stage of a draft's review chain (the last one approves it)",
                "publish": "publish an approved notice (or a template draft)",
                "review": "review a notice published by emergency override",
                "show": "a notice, and each target board's confirmation",
            }[action],
        )
        p.add_argument("id", type=int)
        if action == "approve":
            p.add_argument("--confidentiality-checked", action="store_true",
                           help="the confidentiality review (保密审查) was done: a stage may ask for it")
        if action == "show":
            p.add_argument("--json", action="store_true")
            p.add_argument("--wait", type=float, metavar="S", help="wait up to S seconds until all confirm")
    for action in ("reject", "cancel", "override"):
        p = no_sub.add_parser(
            action,
            help={
                "reject": "reject a draft",
                "cancel": "withdraw a notice everywhere",
                "override": "emergency override: publish alone, flagged for review",
            }[action],
        )
        p.add_argument("id", type=int)
        p.add_argument("--reason", required=True)
    ed = no_sub.add_parser("edit", help="change a draft's title or text at a review stage that may edit "
                                        "(a new revision; the change is in the audit log)")
    ed.add_argument("id", type=int)
    ed.add_argument("--title")
    ed.add_argument("--text")
    ls = no_sub.add_parser("list", help="every notice with its state")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--needs-review", action="store_true", help="only overrides not reviewed yet")
    for p in no_sub.choices.values():
        config_arg(p)
    no.set_defaults(func=cmd_notice)

    cap = sub.add_parser("cap", help="CAP 1.2 alerts: import from a file or URL, export a notice")
    cap_sub = cap.add_subparsers(dest="cap_command", required=True)
    imp = cap_sub.add_parser("import", help="import a CAP alert or ATOM feed (file or http(s) URL)")
    imp.add_argument("source")
    exp = cap_sub.add_parser("export", help="a published notice as CAP 1.2 XML")
    exp.add_argument("id", type=int)
    for p in (imp, exp):
        config_arg(p)
    cap.set_defaults(func=cmd_cap)

    au = sub.add_parser("audit", help="the keyed, anchored audit log")
    au_sub = au.add_subparsers(dest="audit_command", required=True)
    ver = au_sub.add_parser("verify", help="check the chain, its key and its anchors: any edited, inserted "
                                           "or deleted row is named")
    ver.add_argument("--head", action="append", default=[], metavar="SEQ:HASH",
                     help="a head kept elsewhere (printed by an earlier verify): the log must still hold it")
    ver.add_argument("--json", action="store_true")
    seal = au_sub.add_parser("seal", help="key the log from now on with the audit key (admin; the first "
                                          "change made with a key does the same)")
    show = au_sub.add_parser("show", help="the log, oldest first")
    show.add_argument("--subject", help="only this subject, e.g. notice:3")
    show.add_argument("--json", action="store_true")
    for p in (ver, seal, show):
        config_arg(p)
    au.set_defaults(func=cmd_audit)

    rp = sub.add_parser("report", help="disclosure statistics and the period's air quality (HJ 663) "
                                        "for a month, a quarter or a year")
    config_arg(rp)
    when = rp.add_mutually_exclusive_group(required=True)
    # Strings, checked by the command: a bad value is one line naming the flag and the form it needs.
    when.add_argument("--month", metavar="YYYY-MM")
    when.add_argument("--quarter", metavar="YYYYQn", help="a calendar quarter, e.g. 2026Q4")
    when.add_argument("--year", metavar="YYYY")
    rp.add_argument("--format", choices=("text", "json", "csv"), default="text")
    rp.add_argument("--sample-data", action="store_true",
                    help="air quality from the sample data (synthetic, 示例数据) instead of the store")
    rp.set_defaults(func=cmd_report)


def _database(args: argparse.Namespace) -> Path:
    from ledctl.state import state_dir

    return state_dir(args.state) / "ledctl.sqlite"


def _notices(args: argparse.Namespace, db: Path, clock: Clock) -> tuple[config_mod.Deployment, Notices]:
    from ledctl.notices.items import notices_for  # rendering is only loaded for these commands

    dep = config_mod.load(args.config)
    return dep, notices_for(dep, db, clock)


# -- who acts, and users --------------------------------------------------------------------------

def acting_user(args: argparse.Namespace, users: Users) -> User:
    token = os.environ.get("LEDCTL_TOKEN")
    if token:
        return users.by_token(token)
    name = getattr(args, "as_user", None)
    if not name:
        raise AuthError(
            "say who you are: --as NAME (password from $LEDCTL_PASSWORD or a prompt), "
            "or an API token in $LEDCTL_TOKEN"
        )
    password = os.environ.get("LEDCTL_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            raise AuthError(f"no password for {name}: set $LEDCTL_PASSWORD or run in a terminal")
        password = getpass.getpass(f"password for {name}: ")
    return users.login(name, password)


def _password(args: argparse.Namespace, name: str) -> str:
    if args.password_file:
        from ledctl.config import secret_file_problem

        problem = secret_file_problem(args.password_file)
        if problem:
            raise UsageError(f"--password-file: {problem}")
        return args.password_file.read_text(encoding="utf-8").strip()
    if not sys.stdin.isatty():
        raise UsageError("give --password-file FILE (mode 0600), or run in a terminal to be asked")
    first = getpass.getpass(f"new password for {name}: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl.db import database
    from ledctl.notices import audit

    db = _database(args)
    users = Users(db)
    now = clock.now()

    if args.users_command == "list":
        for u in users.list():
            print(f"{u.name:<20} {u.role:<9} {'disabled' if u.disabled else ''}".rstrip())
        return 0
    seal = audit.Seal.of(config_mod.load(args.config).audit, db.parent)  # changes are audited: keyed

    def record(actor: str, action: str, subject: str, after: object):
        return lambda con: audit.append(con, now, actor, action, subject, None, after, seal=seal)

    try:
        return _change_users(args, users, now, record)
    finally:
        seal.anchor(database(db), now)


def _change_users(args: argparse.Namespace, users: Users, now: datetime, record: Any) -> int:
    if args.users_command == "add":
        by = None if users.empty() else acting_user(args, users)
        who = by.name if by else args.name
        user = users.add(
            args.name,
            args.role,
            _password(args, args.name),
            now,
            by,
            record(who, "user-add", f"user:{args.name}", {"role": args.role}),
        )
        print(f"user {user.name} added ({user.role})")
        return 0
    actor = acting_user(args, users)
    if args.users_command == "disable":
        users.disable(
            args.name, actor, record(actor.name, "user-disable", f"user:{args.name}", {"disabled": True})
        )
        print(f"user {args.name} disabled; their tokens no longer work")
        return 0
    token = users.new_token(
        actor, args.label, now, record(actor.name, "token-add", f"user:{actor.name}", {"label": args.label})
    )
    print(token)
    print(
        f"(an API token for {actor.name}; it is shown only now: keep it in a 0600 file or a secret store)",
        file=sys.stderr,
    )
    return 0


def parse_time(text: str, tz, base: datetime) -> datetime:  # type: ignore[no-untyped-def]
    """2026-11-25T14:00 (site time unless an offset is given), 14:00 (today), or +90m / +2h / +1d."""
    m = re.fullmatch(r"\+(\d+)([mhd])", text.strip())
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return base + timedelta(**{unit: int(m.group(1))})
    try:
        t = datetime.fromisoformat(text)
        return t if t.tzinfo else t.replace(tzinfo=tz)
    except ValueError:
        pass
    try:
        hh, mm = (int(x) for x in text.split(":"))
        return datetime.combine(base.astimezone(tz).date(), datetime.min.time(), tz).replace(
            hour=hh, minute=mm
        )
    except ValueError:
        raise UsageError(f"{text!r} is not a time: 2026-11-25T14:00, 14:00, +30m, +2h or +1d") from None


def _targets(dep: config_mod.Deployment, raw: list[str]) -> list[str]:
    out = []
    for t in raw or ["all"]:
        if t == "all" or ":" in t:
            out.append(t)
        elif t in dep.groups:
            out.append(f"group:{t}")
        elif any(b.id == t for b in dep.boards):
            out.append(f"board:{t}")
        else:
            raise UsageError(
                f"--target {t}: all, a group ({', '.join(dep.groups)}), a board id, group:<id> or board:<id>"
            )
    return out


# -- notices ------------------------------------------------------------------------------------

def cmd_notice(args: argparse.Namespace, clock: Clock) -> int:
    db = _database(args)
    users = Users(db)
    dep, notices = _notices(args, db, clock)
    cmd = args.notice_command
    now = clock.now()
    if cmd == "list":
        shown = notices.needs_review() if args.needs_review else notices.list()
        damaged = notices.damaged()
        if damaged:  # each is logged too; say here that the list is not the whole store
            print(f"ledctl: {len(damaged)} notice row(s) cannot be read and are left out "
                  f"(rows {', '.join(str(d.row) for d in damaged)}; ledctl doctor says why)", file=sys.stderr)
        if args.json:
            print(json.dumps([_summary(n, now, notices) for n in shown], ensure_ascii=False, indent=2))
            return 0
        for n in shown:
            flag = "  ⚑ needs review" if n.needs_review else ""
            standing = notices.standing(n)
            waiting = f"  → {standing.describe()}" if standing.next else ""
            print(
                f"#{n.id:<4} {n.state_at(now):<9} {n.level:<9} {n.origin:<8} "
                f"{n.start.astimezone(dep.tz):%m-%d %H:%M}–{n.end.astimezone(dep.tz):%m-%d %H:%M} "
                f"{','.join(n.targets):<24} {n.title}{flag}{waiting}"
            )
        if not shown:
            print("no notices")
        return 0
    if cmd == "show":
        return _show(args, clock, dep, notices)
    user = acting_user(args, users)
    if cmd == "draft":
        start = parse_time(args.start, dep.tz, now) if args.start else now
        end = parse_time(args.end, dep.tz, start)
        targets = _targets(dep, args.target)
        if args.template:
            slots = dict(_slot(s) for s in args.slot)
            n = notices.draft_from_template(
                user, args.template, slots, targets=targets, start=start, end=end, mode=args.mode
            )
        else:
            if args.slot:
                raise UsageError("--slot goes with --template")
            n = notices.draft(
                user,
                title=args.title or "通知",
                text=args.text,
                level=args.level or "normal",
                targets=targets,
                start=start,
                end=end,
                mode=args.mode,
                share=args.share,
                blink=args.blink,
            )
        standing = notices.standing(n)
        nxt = (
            "publish it (a template with typed slots needs no second person)"
            if n.preapproved
            else f"{standing.describe()} signs it off (ledctl notice approve {n.id}), then publish"
        )
        print(f"notice {n.id} drafted ({n.level}, {len(notices.boards_of(n.targets))} boards); next: {nxt}")
        return 0
    actions = {
        "approve": lambda: notices.approve(user, args.id,
                                           confidentiality_checked=args.confidentiality_checked),
        "edit": lambda: notices.edit(user, args.id, title=args.title, text=args.text),
        "publish": lambda: notices.publish(user, args.id),
        "review": lambda: notices.review(user, args.id),
        "reject": lambda: notices.reject(user, args.id, args.reason),
        "cancel": lambda: notices.cancel(user, args.id, args.reason),
        "override": lambda: notices.override(user, args.id, args.reason),
    }
    if cmd == "edit" and args.title is None and args.text is None:
        raise UsageError("notice edit: give --title, --text or both")
    n = actions[cmd]()
    print(f"notice {n.id}: {n.state_at(now)}" + (" (flagged: needs review)" if n.needs_review else "")
          + (f" (revision {n.revision})" if cmd == "edit" else ""))
    standing = notices.standing(n)
    if standing.next is not None:
        print(f"next: {standing.describe()}")
    if n.skipped:
        print(f"the override skipped the review stages {', '.join(n.skipped)}: the report counts it")
    if n.state == "published":
        print(
            f"the service sends it to {len(notices.boards_of(n.targets))} boards now; "
            f"follow it with: ledctl notice show {n.id} --wait 60"
        )
    return 0


def _slot(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"--slot {text!r}: NAME=VALUE")
    return name.strip(), value.strip()


def _summary(n: Notice, now: datetime, notices: Notices) -> dict[str, object]:
    return {
        "chain": notices.standing(n).as_json(),
        "revision": n.revision,
        "skipped": list(n.skipped),
        "id": n.id,
        "state": n.state_at(now),
        "level": n.level,
        "targets": list(n.targets),
        "start": n.start.isoformat(),
        "end": n.end.isoformat(),
        "author": n.author,
        "approver": n.approver,
        "origin": n.origin,
        "cap_identifier": n.cap_identifier,
        "title": n.title,
        "text": n.text,
        "mode": n.mode,
        "needs_review": n.needs_review,
        "published_at": n.published_at.isoformat() if n.published_at else None,
    }


def _show(args: argparse.Namespace, clock: Clock, dep: config_mod.Deployment, notices: Notices) -> int:
    from ledctl.notices.items import delivery_states

    n = notices.get(args.id)
    deadline = time.monotonic() + (args.wait or 0)
    while True:
        states = delivery_states(notices, n, notices.path, clock.now())
        done = all(s["state"] in ("confirmed", "sent") for s in states)
        if done or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
        n = notices.get(args.id)
    if args.json:
        doc = {**_summary(n, clock.now(), notices), "boards": states}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0 if done or not args.wait else 1
    now = clock.now()
    print(f"notice {n.id}: {n.title} [{n.state_at(now)}, {n.level}, {n.origin}]")
    print(f"  {n.text}")
    print(
        f"  window {n.start.astimezone(dep.tz):%Y-%m-%d %H:%M} – {n.end.astimezone(dep.tz):%Y-%m-%d %H:%M}, "
        f"{n.mode}, targets {', '.join(n.targets)}"
    )
    who = f"  author {n.author}, approver {n.approver or '—'}, published by {n.published_by or '—'}"
    print(who + (f"; override: {n.override_reason}" if n.override_reason else ""))
    if n.needs_review:
        print("  ⚑ published by emergency override: needs review by another approver")
    standing = notices.standing(n)
    if n.signoffs or standing.next is not None:
        print(f"  review chain (revision {n.revision}):")
        done = {so.stage: so for so in n.signoffs}
        for i, st in enumerate(standing.stages, 1):
            so = done.get(st.id)
            if so is not None:
                how = " by drafting" if so.drafted else ""
                check = ", 保密审查 confirmed" if so.confidentiality else ""
                print(f"    {i}. {st.name} ({st.id}): {so.by}{how}, "
                      f"{datetime.fromisoformat(so.at).astimezone(dep.tz):%Y-%m-%d %H:%M}{check}")
            elif st is standing.next:
                print(f"    {i}. {st.name} ({st.id}): next — {standing.describe().split(': ', 1)[1]}")
            elif n.state == "draft":
                print(f"    {i}. {st.name} ({st.id}): waiting")
    if n.skipped:
        print(f"  ⚑ the override skipped: {', '.join(n.skipped)}")
    confirmed = sum(1 for s in states if s["state"] == "confirmed")
    sent = sum(1 for s in states if s["state"] == "sent")
    print(f"  delivery: {confirmed}/{len(states)} boards confirmed"
          + (f", {sent} sent (they cannot acknowledge)" if sent else ""))
    for s in states:
        print(f"    {s['board']:<18} {s['state']:<10} {_local(str(s['detail']), dep.tz)}")
    return 0 if done or not args.wait else 1


# -- CAP, audit, report ----------------------------------------------------------------------------

def cmd_cap(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl.notices import cap_bridge

    db = _database(args)
    users = Users(db)
    dep, notices = _notices(args, db, clock)
    importer = None
    if args.cap_command == "import":  # an alert brought in by hand is a user's act: they are its author
        importer = acting_user(args, users)
        importer.require("operator", "import CAP alerts")

    if args.cap_command == "export":
        sys.stdout.write(cap_bridge.export(dep, notices.get(args.id)).decode("utf-8"))
        return 0
    source = args.source
    if source.startswith(("http://", "https://")):
        data = cap_bridge.fetch(source)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as e:
            raise UsageError(f"{source}: cannot be read ({e.strerror})") from None
    problems: list[str] = []
    alerts = cap_bridge.read_alerts(data, source, problems=problems)
    if not alerts and not problems:
        print(f"{source}: no CAP alerts in it")
    for problem in problems:
        print(f"refused: {problem}", file=sys.stderr)
    refused = len(problems)
    for alert in alerts:  # one refusal never stops the others
        try:
            result = cap_bridge.import_alert(dep, notices, alert, importer=importer)
        except LedctlError as e:
            refused += 1
            print(f"{alert.identifier} ({alert.status} {alert.msg_type}): refused: {e}", file=sys.stderr)
            continue
        print(f"{alert.identifier} ({alert.status} {alert.msg_type}): {result.message}")
    return 2 if refused else 0


def cmd_audit(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl.db import database
    from ledctl.notices import audit

    db = _database(args)
    if args.audit_command == "show":
        with database(db).read() as con:
            entries = audit.entries(con, args.subject)
    else:
        notices = Notices(config_mod.load(args.config), db, clock)
    if args.audit_command == "verify":
        check = notices.check_audit([_head(text) for text in args.head])
        if args.json:
            print(json.dumps({"intact": check.intact, "problems": check.problems, "warnings": check.warnings,
                              "rows": check.rows, "head": check.head, "keyed_from": check.keyed_from},
                             ensure_ascii=False, indent=2))
            return 0 if check.intact else 1
        for warning in check.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if check.problems:
            print(f"the audit log cannot be trusted ({len(check.problems)} problem(s)):")
            for p in check.problems:
                print(f"  {p}")
            return 1
        keyed = f", keyed from row {check.keyed_from}" if check.keyed_from else ", not keyed"
        print(f"audit log intact: {check.rows} rows{keyed}, head {check.rows}:{check.head}")
        print(f"(anchored in {notices.seal.anchors}; keep the head elsewhere too, and check against it "
              "later with --head)")
        return 0
    if args.audit_command == "seal":
        return _seal(args, notices, clock)
    if args.json:
        print(json.dumps([e.as_json() for e in entries], ensure_ascii=False, indent=2))
        return 0
    tz = _site_tz(args)
    for e in entries:  # times in the deployment's zone, as everywhere a person reads them
        print(f"{e.seq:>5} {_local(e.at, tz)} {e.actor:<22} {e.action:<16} {e.subject}")
    return 0


def _head(text: str):  # type: ignore[no-untyped-def]
    from ledctl.notices import audit

    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise UsageError(f"--head {text!r}: SEQ:HASH as audit verify prints it, e.g. 12:3f5a…(64 hex digits)")
    return audit.Anchor(int(seq), digest, "given with --head")


def _seal(args: argparse.Namespace, notices: Notices, clock: Clock) -> int:
    from ledctl.notices import audit

    user = acting_user(args, Users(notices.path))
    user.require("admin", "key the audit log")
    if notices.seal.problem:
        raise LedctlError(notices.seal.problem)
    if notices.seal.key is None:
        raise LedctlError(f"no audit key: set ${notices.dep.audit.key_env} or [audit] key_file (a file only "
                          "its owner can read), e.g. from: openssl rand -hex 32")
    with notices.db.write() as con:
        since = audit.keyed_from(con)
        if since is None:
            audit.append(con, clock.now(), user.name, "audit-seal", "audit", None,
                         {"key": notices.seal.source}, seal=notices.seal)
            since = audit.keyed_from(con)
    notices.seal.anchor(notices.db, clock.now())
    print(f"the audit log is keyed from row {since} (key in {notices.seal.source}); anchored in "
          f"{notices.seal.anchors}")
    return 0


def _site_tz(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The deployment's time zone (the config's), else the shipped one's."""
    try:
        return config_mod.load(getattr(args, "config", None)).tz
    except LedctlError:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")


def _local(text: str, tz) -> str:  # type: ignore[no-untyped-def]
    """ISO 8601 instants in a text, written in the deployment's time zone (2026-11-28 14:05:03)."""
    def one(m: re.Match[str]) -> str:
        try:
            return f"{datetime.fromisoformat(m.group(0)).astimezone(tz):%Y-%m-%d %H:%M:%S}"
        except ValueError:
            return m.group(0)

    return re.sub(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:\d{2}|Z)", one, text)


def cmd_report(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl import pipeline, report
    from ledctl.store import Store

    chosen = report.chosen_period(args.month, args.year, args.quarter)  # a bad flag fails first
    db = _database(args)
    dep, notices = _notices(args, db, clock)
    label, start, end = report.period(args.month, args.year, dep.tz, args.quarter)
    store = Store(db)
    r = report.build(store, notices.list(), [b.id for b in dep.boards], label, start, end)

    now = clock.now().astimezone(dep.tz)
    as_of = now.date() - timedelta(days=1)  # the last day that is over
    if args.sample_data:
        dep = dep.with_sample_data()
        got = pipeline.gather(dep)
        if got.problems:
            raise LedctlError("; ".join(got.problems))
        readings = report.readings_ended(got.readings, now)
        source = "sample data (示例数据: synthetic, not measured)"
    else:
        readings = store.readings()
        source = f"daily values kept in {db} (fetched by `ledctl data fetch` and the service)"
    r.air = report.air_quality(dep, readings, chosen, as_of, source)
    print(report.render(r, args.format))
    return 0
