"""The audit log attacked by someone who can write the store (issue 17, item 4): rows deleted and the
head rewound, the whole log deleted, both tables dropped, a row edited and the chain recomputed — by
someone without the audit key, and by an insider with it — and a keyed log made unkeyed again. Each
must fail `ledctl audit verify` (exit 1, the problem named, never a traceback). Also: an existing
unkeyed log is carried over into a keyed one, and the key appears in no output, log or file."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sqlite3
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import cli, config
from ledctl.clock import FixedClock
from ledctl.notices.users import User
from ledctl.notices.workflow import Notices

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "zhenhai.toml"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
KEY = "k3y-for-the-audit-log-0123456789abcdef"
WANG, LI = User("wang", "operator"), User("li", "approver")


def two_person_rule() -> config.Deployment:
    """The shipped config with the two-person rule alone (no three-stage chain): each notice of a busy
    day is three audit rows (draft, approve, publish), which the row numbers below count on."""
    return replace(config.load(CONFIG), governance=config.Governance())


def busy_day(notices: Notices, count: int = 3) -> None:
    for i in range(count):
        n = notices.draft(WANG, title="停水通知", text=f"第{i}条通知，请注意。", level="normal",
                          targets=["group:community"], end=T0 + timedelta(hours=3))
        notices.approve(LI, n.id)
        notices.publish(WANG, n.id)


def verify(state: Path, capsys, *extra: str) -> tuple[int, str]:
    argv = ["--state", str(state), "audit", "verify", *extra, "-c", str(CONFIG)]
    code = cli.main(argv, clock=FixedClock(T0))
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return code, out.out + out.err


@pytest.fixture
def keyed(tmp_path, monkeypatch) -> Notices:
    monkeypatch.setenv("LEDCTL_AUDIT_KEY", KEY)
    notices = Notices(two_person_rule(), tmp_path / "ledctl.sqlite", FixedClock(T0))
    busy_day(notices)
    return notices


def sql(notices: Notices, script: str) -> None:
    notices.db.close()
    with sqlite3.connect(notices.path) as raw:
        raw.executescript(script)


def rows(notices: Notices) -> list[list]:
    with sqlite3.connect(notices.path) as raw:
        return [list(r) for r in raw.execute(
            "SELECT seq, at, actor, action, subject, before, after, prev, hash FROM audit ORDER BY seq")]


def recompute(notices: Notices, edited: list[list], key: bytes | None = None) -> None:
    """What an attacker who read ledctl's source does after editing rows: the chain made anew (SHA-256,
    or HMAC with the key if they have it), and the head to match."""
    prev = "0" * 64
    for row in edited:
        row[7] = prev
        body = json.dumps(row[:8], ensure_ascii=False).encode()
        row[8] = (hmac.new(key, body, hashlib.sha256) if key else hashlib.sha256(body)).hexdigest()
        prev = row[8]
    sql(notices, "DELETE FROM audit; DELETE FROM audit_head;")
    with sqlite3.connect(notices.path) as raw:
        raw.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", edited)
        if edited:
            raw.execute("INSERT INTO audit_head VALUES (1, ?, ?)", (edited[-1][0], prev))


def test_the_untouched_log_verifies(keyed, capsys) -> None:
    code, out = verify(keyed.path.parent, capsys)
    assert code == 0 and "audit log intact: 10 rows, keyed from row 1" in out, out


def test_deleting_the_newest_rows_and_rewinding_the_head(keyed, capsys) -> None:
    kept = rows(keyed)[:-3]
    sql(keyed, f"DELETE FROM audit WHERE seq > {kept[-1][0]}; "
               f"UPDATE audit_head SET seq = {kept[-1][0]}, hash = '{kept[-1][8]}';")
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "fewer rows than anchored: the log ends at row 7, but it had row 10" in out, out


def test_deleting_the_whole_log(keyed, capsys) -> None:
    sql(keyed, "DELETE FROM audit; DELETE FROM audit_head;")
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "fewer rows than anchored: the log ends at row 0" in out
    assert "notice(s) 1, 2, 3: no row in the audit log" in out


def test_dropping_both_tables(keyed, capsys) -> None:
    sql(keyed, "DROP TABLE audit; DROP TABLE audit_head;")
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "no audit table: audit and audit_head is missing" in out
    assert "the anchors saw row 10" in out
    # A change now is refused with the reason: nothing unaudited is ever written.
    with pytest.raises(Exception, match="a table is missing"):
        busy_day(keyed, 1)


def test_editing_a_row_and_recomputing_the_chain_without_the_key(keyed, capsys) -> None:
    edited = rows(keyed)
    edited[2][2] = "chen"  # row 3, li's approval, now says chen approved
    recompute(keyed, edited)
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "no keyed row (from row 1) verifies with the audit key" in out, out


def test_editing_one_row_and_recomputing_the_rest_with_the_key(keyed, capsys) -> None:
    # An insider with the key: the chain verifies, the anchors written at the time do not.
    edited = rows(keyed)
    edited[2][2] = "chen"
    recompute(keyed, edited, KEY.encode())
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "row 3 is not the row anchored at 2026-11-25T09:00:00+08:00" in out, out


def test_making_a_keyed_log_unkeyed_again(keyed, capsys, monkeypatch) -> None:
    edited = [r for r in rows(keyed) if r[3] != "audit-keyed"]  # the marker gone …
    for seq, row in enumerate(edited, 1):
        row[0] = seq
    recompute(keyed, edited)  # … and every row re-hashed without a key
    monkeypatch.delenv("LEDCTL_AUDIT_KEY")  # and the key taken away from the checker too
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "is not the row anchored" in out and "fewer rows than anchored" in out, out


def test_deleting_the_anchors_of_a_keyed_log_is_seen(keyed, capsys) -> None:
    (keyed.path.parent / "audit-anchors").unlink()
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "has no anchor since: the anchors were deleted or moved" in out


def test_a_head_kept_elsewhere_is_checked(keyed, capsys) -> None:
    seq, digest = keyed.verify_audit()[1]
    assert verify(keyed.path.parent, capsys, "--head", f"{seq}:{digest}")[0] == 0
    (keyed.path.parent / "audit-anchors").write_text("")  # the anchors rewritten too …
    kept = rows(keyed)[:-1]
    sql(keyed, f"DELETE FROM audit WHERE seq = {seq}; UPDATE audit_head SET seq = {kept[-1][0]}, "
               f"hash = '{kept[-1][8]}';")
    code, out = verify(keyed.path.parent, capsys, "--head", f"{seq}:{digest}")
    assert code == 1 and f"it had row {seq} at given with --head" in out  # … but not the head kept away


def test_without_the_key_a_keyed_log_is_neither_verified_nor_written(keyed, capsys, monkeypatch) -> None:
    monkeypatch.delenv("LEDCTL_AUDIT_KEY")
    code, out = verify(keyed.path.parent, capsys)
    assert code == 1 and "rows 1..10 are keyed: give the audit key ($LEDCTL_AUDIT_KEY" in out
    unkeyed = Notices(two_person_rule(), keyed.path, FixedClock(T0))
    with pytest.raises(Exception, match="keyed since row 1, and this ledctl has no audit key"):
        busy_day(unkeyed, 1)
    monkeypatch.setenv("LEDCTL_AUDIT_KEY", "another-key-of-enough-length-0000")
    other = Notices(two_person_rule(), keyed.path, FixedClock(T0))
    with pytest.raises(Exception, match="not the one that wrote the log's last row"):
        busy_day(other, 1)
    assert verify(keyed.path.parent, capsys)[0] == 1
    assert len(rows(keyed)) == 10  # nothing was written with the wrong key, or none


def test_an_unkeyed_log_is_carried_over(tmp_path, capsys, monkeypatch) -> None:
    old = Notices(two_person_rule(), tmp_path / "ledctl.sqlite", FixedClock(T0))
    busy_day(old, 2)  # written before the bureau had a key: SHA-256 rows
    code, out = verify(tmp_path, capsys)
    assert code == 0 and "not keyed" in out and "the log is not keyed: whoever can write the store" in out
    monkeypatch.setenv("LEDCTL_AUDIT_KEY", KEY)
    keyed = Notices(two_person_rule(), tmp_path / "ledctl.sqlite", FixedClock(T0))
    busy_day(keyed, 1)  # the first change with the key: the keyed chain starts at row 7
    [mark] = [r for r in rows(keyed) if r[3] == "audit-keyed"]
    assert mark[0] == 7 and json.loads(mark[6])["unkeyed_rows"] == 6
    code, out = verify(tmp_path, capsys)
    assert code == 0 and "keyed from row 7" in out
    # The old rows are now vouched for by the keyed ones: edit one, recompute the unkeyed part …
    edited = rows(keyed)
    edited[1][2] = "chen"
    recompute(keyed, edited[:6])
    with sqlite3.connect(keyed.path) as raw:
        raw.executemany("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows_after(edited, 6))
        raw.execute("UPDATE audit_head SET seq = ?, hash = ?", (edited[-1][0], edited[-1][8]))
    code, out = verify(tmp_path, capsys)
    assert code == 1 and "row 7: does not follow row 6" in out, out  # … and the keyed row 7 says no


def rows_after(all_rows: list[list], seq: int) -> list[list]:
    return [r for r in all_rows if r[0] > seq]


def test_audit_seal_keys_the_log_at_once(tmp_path, capsys, monkeypatch) -> None:
    from ledctl.notices.users import Users

    old = Notices(two_person_rule(), tmp_path / "ledctl.sqlite", FixedClock(T0))
    busy_day(old, 1)
    Users(old.path).add("root", "admin", "root-password", T0, None)
    monkeypatch.setenv("LEDCTL_AUDIT_KEY", KEY)
    monkeypatch.setenv("LEDCTL_PASSWORD", "root-password")
    argv = ["--state", str(tmp_path), "--as", "root", "audit", "seal", "-c", str(CONFIG)]
    assert cli.main(argv, clock=FixedClock(T0)) == 0
    assert "keyed from row 4" in capsys.readouterr().out
    code, out = verify(tmp_path, capsys)
    assert code == 0 and "keyed from row 4" in out


def test_the_key_is_in_no_output_log_or_file(keyed, capsys, caplog, monkeypatch) -> None:
    with caplog.at_level(logging.DEBUG):
        verify(keyed.path.parent, capsys)
        sql(keyed, "DELETE FROM audit WHERE seq = 10")
        code, out = verify(keyed.path.parent, capsys)
        monkeypatch.setenv("LEDCTL_AUDIT_KEY", "short")
        code, short = verify(keyed.path.parent, capsys)
    assert code == 1 and "shorter than 16 bytes" in short and "short" not in short.replace("shorter", "")
    seen = out + short + caplog.text
    for name in ("ledctl.sqlite", "ledctl.sqlite-wal", "audit-anchors"):
        path = keyed.path.parent / name
        if path.exists():
            seen += path.read_bytes().decode("utf-8", "replace")
    assert KEY not in seen


def test_the_key_never_goes_in_the_config(tmp_path) -> None:
    text = CONFIG.read_text(encoding="utf-8").replace('"sample-data/', f'"{REPO}/config/sample-data/')
    text = text.replace('key_env = "LEDCTL_AUDIT_KEY"', f'key = "{KEY}"\nkey_file = "audit.key"')
    (tmp_path / "k.toml").write_text(text, encoding="utf-8")
    (tmp_path / "audit.key").write_text(KEY)
    (tmp_path / "audit.key").chmod(0o644)
    with pytest.raises(config.ConfigError) as e:
        config.load(tmp_path / "k.toml")
    problems = "\n".join(e.value.problems)
    assert "audit.key: the audit key never goes in the config" in problems
    assert "audit.key_file" in problems and "chmod 600" in problems and KEY not in problems
