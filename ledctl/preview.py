"""Previews people can look at: the exact 1:1 bitmap, an LED-look picture, and one HTML page."""

from __future__ import annotations

import html
import shutil
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from ledctl.model import Board, Bulletin, Program
from ledctl.pipeline import BoardResult
from ledctl.render.effects import program_frames

UNLIT = (28, 28, 28)  # an LED that is off still shows as a dark dot


def led_scale(board: Board) -> int:
    """Pixels per LED in the LED-look picture: about 768 px wide, 3..10 px per LED."""
    return max(3, min(10, 768 // board.size.width))


def led_look(image: Image.Image, scale: int) -> Image.Image:
    """Round dots on black, one per LED, unlit LEDs dark grey."""
    rgb = image.convert("RGB")
    lit = rgb.convert("L").point(lambda v: 255 if v else 0)
    base = Image.composite(rgb, Image.new("RGB", rgb.size, UNLIT), lit)
    big = base.resize((rgb.width * scale, rgb.height * scale), Image.Resampling.NEAREST)
    dot = Image.new("L", (scale, scale), 0)
    if scale >= 4:
        ImageDraw.Draw(dot).ellipse((0, 0, scale - 2, scale - 2), fill=255)
    else:  # too small to be round: a square dot with a one-pixel gap
        ImageDraw.Draw(dot).rectangle((0, 0, scale - 2, scale - 2), fill=255)
    row = Image.new("L", (big.width, scale), 0)
    for x in range(0, big.width, scale):
        row.paste(dot, (x, 0))
    mask = Image.new("L", big.size, 0)
    for y in range(0, big.height, scale):
        mask.paste(row, (0, y))
    out = Image.new("RGB", big.size, (0, 0, 0))
    out.paste(big, (0, 0), mask)
    return out


def write_board(out: Path, result: BoardResult, gifs: dict[str, Path] | None = None) -> list[tuple[str, str]]:
    """Write one board's pages and its loop as a GIF; returns (1:1 file, LED-look file) per page.

    `gifs` remembers GIFs already made by program content, so identical loops are encoded once.
    """
    files: list[tuple[str, str]] = []
    if result.program is None:
        return files
    folder = out / result.board.id
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()
    for i, page in enumerate(result.program.pages, start=1):
        exact = folder / f"{i:02d}-{page.name}.png"
        look = folder / f"{i:02d}-{page.name}.led.png"
        page.image.save(exact, optimize=True)
        led_look(page.image, led_scale(result.board)).save(look, optimize=True)
        files.append((exact.relative_to(out).as_posix(), look.relative_to(out).as_posix()))
    gif = folder / "loop.gif"
    key = _content_key(result)
    if gifs is not None and key in gifs:
        shutil.copyfile(gifs[key], gif)
    else:
        write_gif(gif, result.program, result.board)
        if gifs is not None:
            gifs[key] = gif
    return files


def _content_key(result: BoardResult) -> str:
    """What decides the GIF's pixels: the pages and the board's size, not the board's id."""
    assert result.program is not None
    anonymous = Program(board="", pages=result.program.pages)
    return f"{anonymous.content_hash()}@{result.board.size}"


GIF_FPS = 12.5


def write_gif(path: Path, program: Program, board: Board) -> None:
    """The program loop as an animated LED-look GIF, with its effects and dwell times."""
    scale = max(2, led_scale(board) // 2)
    frames: list[Image.Image] = []
    durations: list[int] = []
    previous: Image.Image | None = None
    for frame in program_frames(program, board.size, fps=GIF_FPS):
        ms = max(20, round(frame.duration_s * 1000))
        if previous is not None and frame.image is previous:
            durations[-1] += ms  # the same frame again (a blink's repeat): just show it longer
            continue
        frames.append(led_look(frame.image, scale))
        durations.append(ms)
        previous = frame.image
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)


def write_index(out: Path, title: str, bulletin: Bulletin, results: Sequence[BoardResult],
                files: dict[str, list[tuple[str, str]]]) -> Path:
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{e(title)} — 预览 preview</title>",
        "<style>",
        "body{background:#111;color:#ddd;font-family:sans-serif;margin:1.5em}a{color:#8cf}",
        "h1{font-size:1.4em}h2{border-bottom:1px solid #444;padding-bottom:.2em}",
        ".boards{display:flex;flex-wrap:wrap;gap:1.2em}",
        ".board{background:#1b1b1b;padding:.6em;border-radius:6px}",
        ".board img{display:block;margin:.3em 0;max-width:100%}",
        ".pages{display:flex;flex-wrap:wrap;gap:.5em}",
        ".exact{image-rendering:pixelated}",
        ".meta{font-size:.8em;color:#999}.err{color:#f66;white-space:pre-wrap}",
        "table{border-collapse:collapse}td,th{padding:.2em .6em;border-bottom:1px solid #333}",
        "</style></head><body>",
        f"<h1>{e(title)} — 播出预览 <small>(preview of the broadcast at "
        f"{e(bulletin.issued.isoformat())})</small></h1>",
        "<h2>数据 Data</h2><table><tr><th>站点 station</th><th>日期 day</th><th>AQI</th>"
        "<th>级别 level</th><th>首要污染物 primary</th><th>标准 standard</th><th>状态 state</th></tr>",
    ]
    for sb in bulletin.stations.values():
        a = sb.assessment
        swatch = f'<span style="color:{a.colour}">■</span> ' if a else ""
        parts.append(
            f"<tr><td>{e(sb.station_name)} <span class=meta>{e(sb.station)}</span></td>"
            f"<td>{sb.day or '—'}</td><td>{swatch}{e(a.display) if a else '—'}</td>"
            f"<td>{e(a.category) if a else '—'}</td><td>{e(' '.join(a.primary)) if a else '—'}</td>"
            f"<td>{e(a.standard) if a else '—'}</td>"
            f"<td>{'数据更新中: ' + e(sb.problem) if sb.updating else 'OK'}</td></tr>"
        )
    parts.append("</table>")
    areas: dict[str, list[BoardResult]] = {}
    for r in results:
        areas.setdefault(r.board.area or "—", []).append(r)
    for area, members in areas.items():
        parts.append(f"<h2>{e(area)} <small>({len(members)})</small></h2><div class=boards>")
        for r in members:
            b = r.board
            parts.append(
                f'<div class=board id="{e(b.id)}"><b>{e(b.name)}</b>'
                f"<div class=meta>{e(b.id)} · {b.size} · {e(b.colour)} · {e(b.driver)} · "
                f"{e(b.link)}{f' #{b.address}' if b.address is not None else ''}</div>"
            )
            if r.error:
                parts.append(f"<div class=err>{e(r.error)}</div>")
            shown = max(256, min(512, b.size.width * 3))  # on-screen width of one page
            parts.append("<div class=pages>")
            for exact, look in files.get(b.id, []):
                parts.append(f'<a href="{e(exact)}"><img src="{e(look)}" alt="{e(exact)}" '
                             f'style="width:{shown}px"></a>')
            parts.append("</div>")
            if files.get(b.id):
                parts.append(f'<div class=meta><a href="{e(b.id)}/loop.gif">'
                             "▶ 播放循环 play the loop (GIF)</a></div>")
            parts.append("</div>")
        parts.append("</div>")
    parts.append("</body></html>")
    index = out / "index.html"
    index.write_text("\n".join(parts), encoding="utf-8")
    return index
