"""The report's pictures as inline SVG (no script, no library): the phase timeline and the
watch window's charts, plus the formatting helpers every part of ``report.html`` shares.

Plain string building: the numbers are ours, every text is escaped by :func:`e`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from safeshift.secrets import redact

Series = tuple[str, Sequence[float | None], str]  # name, one value per tick (None: not measured), colour

_STATUS_FILL = {"ok": "#2da44e", "failed": "#cf222e", "blocked": "#bf8700", "skipped": "#8c959f"}
_ROLLBACK_FILL = "#8250df"


def e(value: object) -> str:
    """Masked and HTML-escaped: the only way a value reaches the page."""
    return html.escape(redact("" if value is None else str(value)), quote=True)


def secs(seconds: float | None) -> str:
    """Seconds as a person reads them: 79.0 ms, 5.3 s, 2 min 5.3 s."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)} min {rest:.1f} s"


def parse_time(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def is_rollback(name: str) -> bool:
    return name.startswith("rollback") or name == "prove"


def maintenance_spans(phases: Sequence[dict[str, Any]], finished: str) -> list[tuple[datetime, datetime]]:
    """Each stretch in maintenance mode: from a ``maintenance:on`` to the end of the ``off`` after it."""
    spans: list[tuple[datetime, datetime]] = []
    opened: datetime | None = None
    for p in phases:
        start = parse_time(p.get("started"))
        if start is None:
            continue
        if p.get("name") == "maintenance:on" and opened is None:
            opened = start
        elif p.get("name") == "maintenance:off" and opened is not None:
            end = start.timestamp() + float(p.get("seconds") or 0)
            spans.append((opened, datetime.fromtimestamp(end, tz=start.tzinfo)))
            opened = None
    if opened is not None and (end_time := parse_time(finished)) is not None:
        spans.append((opened, end_time))
    return spans


def timeline_svg(phases: Sequence[dict[str, Any]], started: str, finished: str) -> str:
    """One bar per phase on the run's clock; the maintenance window shaded, the rollback in its colour."""
    timed = [(p, t) for p in phases if (t := parse_time(p.get("started"))) is not None]
    if not timed:
        return ""
    t0 = parse_time(started) or min(t for _, t in timed)
    ends = [t.timestamp() + float(p.get("seconds") or 0) for p, t in timed]
    end = max([*ends, *([f.timestamp()] if (f := parse_time(finished)) else [])])
    total = max(end - t0.timestamp(), 1e-3)
    width, left, right, top, row = 1000, 170, 90, 40, 22
    plot = width - left - right
    height = top + row * len(timed) + 30

    def x(seconds: float) -> float:
        return left + max(0.0, seconds) / total * plot

    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="phase timeline" xmlns="http://www.w3.org/2000/svg" font-size="12">'
           "<title>phase timeline</title>"]
    for i in range(6):  # the clock
        at = total * i / 5
        px = x(at)
        out.append(f'<line x1="{px:.1f}" y1="{top - 8}" x2="{px:.1f}" y2="{height - 24}" stroke="#d1d9e0"/>')
        out.append(f'<text x="{px:.1f}" y="{height - 8}" text-anchor="middle" fill="#59636e">+{e(secs(at))}</text>')
    for on, off in maintenance_spans([p for p, _ in timed], finished):
        a, b = x(on.timestamp() - t0.timestamp()), x(off.timestamp() - t0.timestamp())
        out.append(f'<rect x="{a:.1f}" y="{top - 8}" width="{max(b - a, 2):.1f}" height="{row * len(timed) + 8}" '
                   'fill="#fff1c2" stroke="#d4a72c" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{a + 3:.1f}" y="{top - 14}" fill="#9a6700" font-weight="600">maintenance window '
                   f'{e(secs((off - on).total_seconds()))}</text>')
    rolled = [(i, p, t) for i, (p, t) in enumerate(timed) if is_rollback(str(p.get("name")))]
    if rolled:
        first, last = rolled[0], rolled[-1]
        a = x(first[2].timestamp() - t0.timestamp())
        b = x(last[2].timestamp() - t0.timestamp() + float(last[1].get("seconds") or 0))
        y = top + row * first[0] - 3
        out.append(f'<rect x="{a:.1f}" y="{y}" width="{max(b - a, 2):.1f}" height="{row * (last[0] - first[0] + 1) + 2}" '
                   f'fill="none" stroke="{_ROLLBACK_FILL}" stroke-width="1.5" rx="3"/>')
    for index, (p, t) in enumerate(timed):
        name = str(p.get("name"))
        status = str(p.get("status"))
        seconds = float(p.get("seconds") or 0)
        a = x(t.timestamp() - t0.timestamp())
        w = max(seconds / total * plot, 2.0)
        y = top + row * index
        fill = _ROLLBACK_FILL if is_rollback(name) and status == "ok" else _STATUS_FILL.get(status, "#8c959f")
        out.append(f'<text x="{left - 8}" y="{y + 13}" text-anchor="end" fill="#1f2328">{e(name)}</text>')
        out.append(f'<rect x="{a:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" rx="2" fill="{fill}">'
                   f"<title>{e(name)}: {e(status)}, {e(secs(seconds))}</title></rect>")
        label = secs(seconds) + ("" if status == "ok" else f" {status}")
        out.append(f'<text x="{min(a + w + 4, width - right + 4):.1f}" y="{y + 13}" fill="#59636e">{e(label)}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(
    title: str,
    ticks: Sequence[int],
    series: Sequence[Series],
    thresholds: Sequence[tuple[str, float]],
    fmt: Callable[[float | None], str],
    fired: set[int],
) -> str:
    """Values per watch tick against the trigger thresholds (dashed), the ticks that fired shaded red."""
    width, height, left, right, top, bottom = 540, 240, 70, 16, 30, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, vs, _ in series for v in vs if v is not None]
    peak = max([*values, *(t for _, t in thresholds), 0.0])
    ymax = peak * 1.15 if peak > 0 else 1.0
    n = len(ticks)
    step = plot_w / (n - 1) if n > 1 else plot_w

    def x(i: int) -> float:
        return left + (i * step if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return top + plot_h - v / ymax * plot_h

    out = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{e(title)}" xmlns="http://www.w3.org/2000/svg" font-size="11">',
           f"<title>{e(title)}</title>",
           f'<text x="{left}" y="16" font-size="13" font-weight="600" fill="#1f2328">{e(title)}</text>']
    legend_x = left + 8 + 7 * len(title)
    for name, _, colour in series:
        out.append(f'<rect x="{legend_x}" y="7" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{legend_x + 14}" y="16" fill="#59636e">{e(name)}</text>')
        legend_x += 24 + 7 * len(name)
    band = max(min(step, 40.0), 10.0)
    for i, tick in enumerate(ticks):
        if tick in fired:
            out.append(f'<rect x="{x(i) - band / 2:.1f}" y="{top}" width="{band:.1f}" height="{plot_h}" fill="#ffcecb"/>')
    if fired and ticks:
        last = max(i for i, t in enumerate(ticks) if t in fired) if any(t in fired for t in ticks) else n - 1
        out.append(f'<text x="{x(last):.1f}" y="{top - 4}" text-anchor="middle" fill="#cf222e" font-weight="600">fired</text>')
    for i in range(5):
        level = ymax * i / 4
        out.append(f'<line x1="{left}" y1="{y(level):.1f}" x2="{width - right}" y2="{y(level):.1f}" stroke="#eaeef2"/>'
                   f'<text x="{left - 6}" y="{y(level) + 4:.1f}" text-anchor="end" fill="#59636e">{e(fmt(level))}</text>')
    out.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#8c959f"/>')
    every = max(1, n // 12)
    for i, tick in enumerate(ticks):
        if i % every == 0 or i == n - 1:
            out.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 14}" text-anchor="middle" fill="#59636e">{tick}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" fill="#59636e">tick</text>')
    placed: list[float] = []  # label heights taken: two thresholds at one value must not print over each other
    for label, limit in thresholds:
        at = y(limit) - 4
        while any(abs(at - other) < 12 for other in placed):
            at -= 12
        placed.append(at)
        out.append(f'<line x1="{left}" y1="{y(limit):.1f}" x2="{width - right}" y2="{y(limit):.1f}" stroke="#cf222e" '
                   'stroke-dasharray="6 4" stroke-width="1.5"/>'
                   f'<text x="{width - right - 2}" y="{at:.1f}" text-anchor="end" fill="#cf222e">{e(label)}</text>')
    for name, vs, colour in series:
        run: list[str] = []
        for i, v in enumerate(vs):
            if v is None:
                if len(run) > 1:
                    out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>')
                run = []
                continue
            run.append(f"{x(i):.1f},{y(v):.1f}")
        if len(run) > 1:
            out.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in enumerate(vs):
            if v is None:
                continue
            hot = ticks[i] in fired
            ring = ' stroke="#cf222e" stroke-width="2"' if hot else ""
            out.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{4.5 if hot else 3}" fill="{colour}"{ring}>'
                       f"<title>tick {ticks[i]}: {e(name)} {e(fmt(v))}</title></circle>")
    out.append("</svg>")
    return "".join(out)
