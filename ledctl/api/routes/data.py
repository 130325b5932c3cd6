"""The figures of the bulletin the service last made: AQI per station, water classes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ledctl.api.deps import ERRORS, Console, ConsoleDep, Viewer

router = APIRouter()


@router.get("/api/data", responses=ERRORS)
def data(user: Viewer, console: ConsoleDep) -> dict[str, Any]:
    return bulletin_figures(console)


def bulletin_figures(console: Console) -> dict[str, Any]:
    service = console.service
    bulletin = service.bulletin if service is not None else None
    if bulletin is None:
        return {"issued": None, "stations": [], "water": []}
    stations = []
    for sid, sb in bulletin.stations.items():
        a = sb.assessment
        stations.append(
            {
                "station": sid,
                "name": sb.station_name,
                "day": str(sb.day) if sb.day else None,
                "aqi": a.display if a else None,
                "level": a.level if a else None,
                "category": a.category if a else None,
                "colour": a.colour if a else None,
                "primary": list(a.primary) if a else [],
                "standard": a.standard if a else None,
                "problem": sb.problem,
            }
        )
    water = [
        {
            "station": wid,
            "name": w.station_name,
            "day": str(w.day) if w.day else None,
            "class": w.label or None,
            "category": w.category or None,
            "colour": w.colour or None,
            "limiting": list(w.limiting),
            "problem": w.problem,
        }
        for wid, w in bulletin.water.items()
    ]
    return {"issued": bulletin.issued.astimezone(console.dep.tz).isoformat(), "stations": stations,
            "water": water}
