"""The disclosure report: what was published in a month or a year, from the store.

The bureau's annual report on government information disclosure counts bulletins
broadcast, notices by level and origin, how available the boards were, and the
confirmed deliveries (the proof of display). Every figure comes from the store.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from ledctl.errors import LedctlError
from ledctl.notices.workflow import Notice
from ledctl.store import Store


@dataclass
class Report:
    period: str
    start: datetime
    end: datetime
    bulletins: int = 0  # distinct bulletins (broadcasts) that boards confirmed
    bulletin_displays: int = 0  # board × bulletin confirmations
    notices: dict[str, dict[str, int]] = field(default_factory=dict)  # level -> origin -> published
    notices_cancelled: int = 0
    notices_rejected: int = 0
    notice_displays: int = 0  # board × notice confirmations
    deliveries_confirmed: int = 0
    deliveries_sent: int = 0  # to boards that cannot acknowledge: neither confirmed nor failed
    deliveries_failed: int = 0
    availability: dict[str, float | None] = field(default_factory=dict)  # board -> share of checks online

    @property
    def fleet_availability(self) -> float | None:
        known = [v for v in self.availability.values() if v is not None]
        return sum(known) / len(known) if known else None

    def as_dict(self) -> dict[str, object]:
        return {
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "bulletins_broadcast": self.bulletins,
            "bulletin_displays_confirmed": self.bulletin_displays,
            "notices_published": self.notices,
            "notices_published_total": sum(sum(v.values()) for v in self.notices.values()),
            "notices_cancelled": self.notices_cancelled,
            "notices_rejected": self.notices_rejected,
            "notice_displays_confirmed": self.notice_displays,
            "deliveries_confirmed": self.deliveries_confirmed,
            "deliveries_sent_unconfirmed": self.deliveries_sent,
            "deliveries_failed": self.deliveries_failed,
            "fleet_availability": self.fleet_availability,
            "board_availability": self.availability,
        }


def period(month: str | None, year: int | None, tz: ZoneInfo) -> tuple[str, datetime, datetime]:
    if month:
        try:
            first = date.fromisoformat(f"{month}-01")
            after = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        except ValueError:
            raise LedctlError(f"--month {month!r}: a month like 2026-11") from None
        label = month
    elif year:
        if not 2000 <= year <= 2999:
            raise LedctlError(f"--year {year}: a year like 2026")
        first, after, label = date(year, 1, 1), date(year + 1, 1, 1), str(year)
    else:
        raise LedctlError("give --month YYYY-MM or --year YYYY")
    return label, datetime.combine(first, time(0), tz), datetime.combine(after, time(0), tz)


def build(
    store: Store, notices: list[Notice], boards: list[str], label: str, start: datetime, end: datetime
) -> Report:
    report = Report(label, start, end)

    def inside(text: str | datetime | None) -> bool:
        if text is None:
            return False
        t = datetime.fromisoformat(text) if isinstance(text, str) else text
        return start <= t < end

    # Each (board, item) once: a bulletin shown before and after a notice is one display, not two.
    shown: set[tuple[str, str]] = set()
    for d in store.displays():
        if inside(d.first_at):
            shown.update((d.board, i) for i in d.items)
    report.bulletins = len({i for _, i in shown if i.startswith("bulletin@")})
    report.bulletin_displays = sum(1 for _, i in shown if i.startswith("bulletin@"))
    report.notice_displays = sum(1 for _, i in shown if i.startswith("notice:"))
    for n in notices:
        if n.published_at is not None and inside(n.published_at):
            report.notices.setdefault(n.level, {}).setdefault(n.origin, 0)
            report.notices[n.level][n.origin] += 1
        if n.state == "cancelled" and inside(n.closed_at):
            report.notices_cancelled += 1
        if n.state == "rejected" and inside(n.closed_at):
            report.notices_rejected += 1
    with store.db.read() as db:  # one snapshot of both tables
        rows = db.execute("SELECT at, ok, outcome FROM deliveries").fetchall()
        checks = db.execute("SELECT board, at, online FROM health_checks").fetchall()
    for at, ok, outcome in rows:
        if inside(at):
            if ok:
                report.deliveries_confirmed += 1
            elif outcome == "sent":
                report.deliveries_sent += 1
            else:
                report.deliveries_failed += 1
    seen: dict[str, list[int]] = {b: [0, 0] for b in boards}
    for board, at, online in checks:
        if board in seen and inside(at):
            seen[board][0] += online
            seen[board][1] += 1
    report.availability = {b: (up / total if total else None) for b, (up, total) in seen.items()}
    return report


def render(report: Report, fmt: str) -> str:
    data = report.as_dict()
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["figure", "value"])
        for key, value in data.items():
            if key in ("notices_published", "board_availability"):
                continue
            writer.writerow([key, "" if value is None else value])
        for level, origins in sorted(report.notices.items()):
            for origin, count in sorted(origins.items()):
                writer.writerow([f"notices_published.{level}.{origin}", count])
        for board, share in report.availability.items():
            writer.writerow([f"board_availability.{board}", "" if share is None else f"{share:.4f}"])
        return out.getvalue()
    lines = [
        f"信息公开统计 / disclosure report {report.period} ({report.start:%Y-%m-%d} – {report.end:%Y-%m-%d})",
        f"  环境公报发布 bulletins broadcast:           {report.bulletins}",
        f"  公报上屏确认 bulletin displays confirmed:   {report.bulletin_displays}",
    ]
    total = sum(sum(v.values()) for v in report.notices.values())
    lines.append(f"  紧急通知发布 notices published:            {total}")
    for level, origins in sorted(report.notices.items()):
        for origin, count in sorted(origins.items()):
            lines.append(f"    {level:<10} {origin:<9} {count}")
    lines += [
        f"  撤销 cancelled / 驳回 rejected:            {report.notices_cancelled} / "
        f"{report.notices_rejected}",
        f"  通知上屏确认 notice displays confirmed:    {report.notice_displays}",
        f"  确认送达 deliveries confirmed / failed:    {report.deliveries_confirmed} / "
        f"{report.deliveries_failed}",
    ]
    if report.deliveries_sent:
        lines.append(f"  送出未确认 sent, unconfirmed (cannot ack): {report.deliveries_sent}")
    fleet = report.fleet_availability
    lines.append("  屏幕可用率 fleet availability:             " + ("—" if fleet is None else f"{fleet:.2%}"))
    worst = sorted(((v, b) for b, v in report.availability.items() if v is not None))[:3]
    if worst and worst[0][0] < 1:
        lines.append("    lowest: " + ", ".join(f"{b} {v:.1%}" for v, b in worst))
    return "\n".join(lines)
