"""The disclosure report: what was published in a month, a quarter or a year, from the store.

The bureau's annual report on government information disclosure counts bulletins
broadcast, notices by level and origin, how available the boards were, and the
confirmed deliveries (the proof of display). Every figure comes from the store.

Beside it, the period's air quality as HJ 663 evaluates it (`ledctl.standards.period`): for
the district and each air station, from the daily values kept in the store (or the sample
data), with the change against the same period a year earlier.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ledctl.config import Deployment
from ledctl.content.bulletin import validate
from ledctl.errors import LedctlError
from ledctl.model import Reading, StationKind
from ledctl.notices.workflow import Notice
from ledctl.standards import period as hj663
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
    # The review chain's shortcuts made visible: notices published by emergency override, those of them
    # that skipped stages of the chain (and which stages), and those still waiting for their review.
    overrides: int = 0
    shortcuts: int = 0
    skipped_stages: dict[str, int] = field(default_factory=dict)  # stage id -> overrides that skipped it
    overrides_unreviewed: int = 0
    notice_displays: int = 0  # board × notice confirmations
    deliveries_confirmed: int = 0
    deliveries_sent: int = 0  # to boards that cannot acknowledge: neither confirmed nor failed
    deliveries_failed: int = 0
    availability: dict[str, float | None] = field(default_factory=dict)  # board -> share of checks online
    air: AirQuality | None = None  # the period's air quality (HJ 663)
    # Items per channel, as the annual disclosure report counts them: "boards" (bulletins and notices
    # confirmed on at least one board), "feeds" (published: /feed.atom, /feed.json), and each webhook
    # (delivered, the receiver answered 2xx).
    channels: dict[str, int] = field(default_factory=dict)

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
            "overrides": self.overrides,
            "override_shortcuts": self.shortcuts,
            "overrides_unreviewed": self.overrides_unreviewed,
            "skipped_stages": self.skipped_stages,
            "notice_displays_confirmed": self.notice_displays,
            "deliveries_confirmed": self.deliveries_confirmed,
            "deliveries_sent_unconfirmed": self.deliveries_sent,
            "deliveries_failed": self.deliveries_failed,
            "fleet_availability": self.fleet_availability,
            "board_availability": self.availability,
            "items_per_channel": self.channels,
            **({"air_quality": self.air.as_dict()} if self.air else {}),
        }


def chosen_period(month: str | None = None, year: int | str | None = None,
                  quarter: str | None = None) -> hj663.Period:
    """The period a command asked for; a bad value names its flag and the form it needs."""
    try:
        if quarter:
            return hj663.parse_quarter(quarter)
        if month:
            return hj663.parse_month(month)
        if year is not None:
            return hj663.parse_year(str(year))
    except hj663.PeriodInputError as e:
        flag, value = ("--quarter", quarter) if quarter else ("--month", month) if month else ("--year", year)
        raise LedctlError(f"{flag} {str(value)!r}: give {e}") from None
    raise LedctlError("give --month YYYY-MM, --quarter YYYYQn or --year YYYY")


def period(month: str | None, year: int | str | None, tz: ZoneInfo,
           quarter: str | None = None) -> tuple[str, datetime, datetime]:
    """(label, start, end) of the period asked for, in the site's time zone."""
    chosen = chosen_period(month, year, quarter)
    after = chosen.last + timedelta(days=1)
    return chosen.label, datetime.combine(chosen.first, time(0), tz), datetime.combine(after, time(0), tz)


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
        if n.override_reason is not None and n.published_at is not None and inside(n.published_at):
            report.overrides += 1
            report.shortcuts += bool(n.skipped)
            report.overrides_unreviewed += n.needs_review
            for stage in n.skipped:
                report.skipped_stages[stage] = report.skipped_stages.get(stage, 0) + 1
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
    report.channels = {"boards": len({i for _, i in shown})}
    with store.db.read() as db:
        published = db.execute("SELECT published_at FROM publications").fetchall()
        pushed = db.execute("SELECT channel, sent_at FROM outbox WHERE status BETWEEN 200 AND 299").fetchall()
    report.channels["feeds"] = sum(1 for (at,) in published if inside(at))
    for channel, at in pushed:
        if inside(at):
            report.channels[channel] = report.channels.get(channel, 0) + 1
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
            if key in ("notices_published", "board_availability", "air_quality", "items_per_channel",
                       "skipped_stages"):
                continue
            writer.writerow([key, "" if value is None else value])
        for level, origins in sorted(report.notices.items()):
            for origin, count in sorted(origins.items()):
                writer.writerow([f"notices_published.{level}.{origin}", count])
        for board, share in report.availability.items():
            writer.writerow([f"board_availability.{board}", "" if share is None else f"{share:.4f}"])
        for channel, count in report.channels.items():
            writer.writerow([f"items_per_channel.{channel}", count])
        for stage, count in sorted(report.skipped_stages.items()):
            writer.writerow([f"skipped_stages.{stage}", count])
        if report.air:
            writer.writerows(_air_csv(report.air))
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
        f"  紧急发布 overrides / 跳过审核 shortcuts:    {report.overrides} / {report.shortcuts}"
        + (f" (skipped: {', '.join(f'{k} ×{v}' for k, v in sorted(report.skipped_stages.items()))})"
           if report.skipped_stages else "")
        + (f"; {report.overrides_unreviewed} not yet reviewed" if report.overrides_unreviewed else ""),
        f"  通知上屏确认 notice displays confirmed:    {report.notice_displays}",
        f"  确认送达 deliveries confirmed / failed:    {report.deliveries_confirmed} / "
        f"{report.deliveries_failed}",
    ]
    if report.deliveries_sent:
        lines.append(f"  送出未确认 sent, unconfirmed (cannot ack): {report.deliveries_sent}")
    if report.channels:
        per = "  ".join(f"{name} {count}" for name, count in report.channels.items())
        lines.append(f"  各渠道发布 items per channel:              {per}")
    fleet = report.fleet_availability
    lines.append("  屏幕可用率 fleet availability:             " + ("—" if fleet is None else f"{fleet:.2%}"))
    worst = sorted(((v, b) for b, v in report.availability.items() if v is not None))[:3]
    if worst and worst[0][0] < 1:
        lines.append("    lowest: " + ", ".join(f"{b} {v:.1%}" for v, b in worst))
    if report.air:
        lines += _air_text(report.air)
    return "\n".join(lines)


# -- the period's air quality (HJ 663) ------------------------------------------------------------

@dataclass
class AirQuality:
    """The HJ 663 block of the report: the district first, then each air station."""

    period: hj663.Period
    as_of: date  # the last day that had ended when the report was made
    source: str  # where the daily values came from, for the reader
    areas: list[hj663.AreaReport]
    refused: int = 0  # station-days whose reading was outside the plausible ranges

    def as_dict(self) -> dict[str, object]:
        first = self.areas[0].current if self.areas else None
        return {
            "period": self.period.label,
            "first": self.period.first.isoformat(),
            "last": self.period.last.isoformat(),
            "as_of": self.as_of.isoformat(),
            "over": first.over if first else self.as_of >= self.period.last,
            "source": self.source,
            "limits": first.index.limits.id if first else None,
            "readings_refused": self.refused,
            "areas": [_area_dict(a) for a in self.areas],
        }


def air_quality(dep: Deployment, readings: Iterable[Reading], chosen: hj663.Period, as_of: date,
                source: str) -> AirQuality:
    """The HJ 663 statistics of `chosen` and of the same period a year earlier, from daily readings.

    A station's figures for a day come from its own source, then its fallbacks in order, as in the
    bulletin; a reading outside the plausible ranges of [validation] is left out, as in the bulletin.
    """
    wanted = {chosen.first.year - 1, chosen.first.year}
    stations = {sid: st for sid, st in dep.stations.items() if st.kind is StationKind.AIR}
    rank = {sid: {src: i for i, src in enumerate(dep.source_chain(sid))} for sid in stations}
    best: dict[tuple[str, date], tuple[int, Reading]] = {}
    refused = 0
    for r in readings:
        if r.period != "24h" or r.station not in stations or r.source not in rank[r.station]:
            continue
        day = r.time.astimezone(dep.tz).date()
        if day.year not in wanted:
            continue
        if validate(r, dep.validation):
            refused += 1
            continue
        key, order = (r.station, day), rank[r.station][r.source]
        if key not in best or order < best[key][0]:
            best[key] = (order, r)
    series = []
    for sid, st in stations.items():
        days = [hj663.DailyValues(day, {p: v for p, v in r.values.items() if p in hj663.PARAMETERS})
                for (station, day), (_, r) in sorted(best.items()) if station == sid]
        series.append(hj663.StationSeries(sid, st.name, days))
    return AirQuality(chosen, as_of, source, hj663.period_report(chosen, series, as_of), refused)


def _number(value: Decimal | int | None) -> str | int | None:
    return str(value) if isinstance(value, Decimal) else value


def _stats_dict(s: hj663.AreaStats) -> dict[str, object]:
    return {
        "period": s.period.label,
        "over": s.over,
        "days_in_period": s.period.length,
        "days_ended": s.days_ended,
        "days_assessed": s.days_assessed,
        "good_days": s.good_days,
        "good_share_percent": _number(s.good_share),
        "days_by_level": {hj663.LEVEL_NAMES[i]: n for i, n in enumerate(s.by_level)},
        "days_not_assessed": [{"day": d.isoformat(), "why": why} for d, why in s.not_assessed],
        "hj633_editions": list(s.editions),
        "figures": {f.name: {"statistic": f.statistic, "value": _number(f.value),
                             "unit": hj663.FIGURE[f.name].unit, "daily_values": f.n,
                             "withheld": f.withheld or None}
                    for f in s.figures.values()},
        "comprehensive_index": {"value": _number(s.index.value), "limits": s.index.limits.id,
                                "parts": {k: str(v) for k, v in s.index.parts.items()},
                                "withheld": s.index.withheld or None},
    }


def _area_dict(a: hj663.AreaReport) -> dict[str, object]:
    return {
        "area": a.current.area,
        "name": a.current.name,
        **({"stations": list(a.stations)} if a.stations else {}),
        **_stats_dict(a.current),
        "previous_year": _stats_dict(a.previous),
        "change": {name: {"value": _number(c.change), "unit": c.unit, "withheld": c.withheld or None}
                   for name, c in a.changes.items()},
    }


def _signed(value: Decimal | int | None, unit: str) -> str:
    if value is None:
        return "—"
    text = ("+" if value > 0 else "") + str(value)  # a fall carries its own minus sign
    return text + {"%": " %", "percentage points": " 个百分点", "days": " 天"}[unit]


def _air_text(air: AirQuality) -> list[str]:
    p = air.period
    limits = air.areas[0].current.index.limits.name if air.areas else "—"
    lines = ["", f"环境空气质量统计 / air quality (HJ 663) {p.label_zh} {p.label} ({p.first} – {p.last}), "
                 f"限值 {limits}; data: {air.source}"]
    if air.as_of < p.last:
        lines.append(f"  the period is not over: data up to {air.as_of}; its statistics come when it is")
    if air.refused:
        lines.append(f"  {air.refused} daily reading(s) outside the plausible ranges were left out")
    for a in air.areas:
        s, c = a.current, a.changes
        members = f" ({len(a.stations)} stations)" if a.stations else ""
        share = "—" if s.good_share is None else f"{s.good_share} %"
        levels = "  ".join(f"{name} {n}" for name, n in zip(hj663.LEVEL_NAMES, s.by_level, strict=True))
        lines += [
            f"  {s.name}{members}",
            f"    {_pad('评价天数 days assessed:', 30)}{s.days_assessed} of {s.days_ended} days ended "
            f"({s.period.length} in the period)",
            f"    {_pad('优良天数 good days:', 30)}{s.good_days} ({share})"
            + _versus(c["good_days"], c["good_share"]),
            f"    {_pad('各级天数 days per level:', 30)}{levels}",
        ]
        for spec in hj663.FIGURES:
            f = s.figures[spec.name]
            value = f"{f.value} {spec.unit}" if f.value is not None else "—"
            why = f"   ({f.withheld})" if f.withheld and s.over else ""  # not over: said once above
            lines.append(f"    {_pad(TEXT_LABELS[spec.name], 30)}{value}{_versus(c[spec.name])}{why}")
        index = "—" if s.index.value is None else str(s.index.value)
        why = f"   ({s.index.withheld})" if s.index.withheld and s.over else ""
        lines.append(f"    {_pad('综合指数 comprehensive index:', 30)}{index}{_versus(c['index'])}{why}")
        if s.over and c["index"].withheld and not s.index.withheld:
            lines.append(f"    同比 not given: {c['pm25'].withheld or c['index'].withheld}")
    return lines


TEXT_LABELS = {
    "pm25": "PM2.5 平均 mean:", "pm10": "PM10 平均 mean:", "so2": "SO2 平均 mean:", "no2": "NO2 平均 mean:",
    "co": "CO 第95百分位 P95 (daily):", "o3": "O3 第90百分位 P90 (8-h max):",
}


def _pad(label: str, width: int) -> str:
    """`label` padded to `width` terminal columns (a CJK character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in label)
    return label + " " * max(1, width - used)


def _versus(*changes: hj663.Change) -> str:
    """"   同比 −5.9 %" for the changes that could be given, "" when none could."""
    given = [_signed(c.change, c.unit) for c in changes if c.change is not None]
    return f"   同比 {', '.join(given)}" if given else ""


def _air_csv(air: AirQuality) -> list[list[object]]:
    rows: list[list[object]] = [["air.period", air.period.label], ["air.as_of", air.as_of.isoformat()],
                                ["air.source", air.source]]
    for a in air.areas:
        area = f"air.{a.current.area}"
        for prefix, s in ((area, a.current), (f"{area}.previous_year", a.previous)):
            rows += [[f"{prefix}.days_assessed", s.days_assessed], [f"{prefix}.good_days", s.good_days],
                     [f"{prefix}.good_share_percent", _number(s.good_share) or ""]]
            rows += [[f"{prefix}.days_level{i + 1}", n] for i, n in enumerate(s.by_level)]
            for f in s.figures.values():
                rows.append([f"{prefix}.{f.name}", "" if f.value is None else f.value])
                if f.withheld:
                    rows.append([f"{prefix}.{f.name}.withheld", f.withheld])
            rows.append([f"{prefix}.index", "" if s.index.value is None else s.index.value])
            if s.index.withheld:
                rows.append([f"{prefix}.index.withheld", s.index.withheld])
        for name, c in a.changes.items():
            rows.append([f"{area}.change.{name}", "" if c.change is None else c.change])
    return rows


def readings_ended(readings: Sequence[Reading], now: datetime) -> list[Reading]:
    """Only days that are over: a file dated ahead (the sample data) must not report the future."""
    return [r for r in readings if r.time + timedelta(hours=24 if r.period == "24h" else 1) <= now]
