"""A picture of a finished load: one row per file with its phases over time, and throughput under it.

Drawn as SVG by hand (a few rectangles and lines per file), so it needs no plotting library and
shows wherever a notebook's HTML does. Every span carries a <title>: hovering names the file,
the phase and its seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from html import escape

from .model import PHASES, TimelineData
from .views.text import shorten

COLOURS = {
    "compress": "#8e24aa",
    "upload": "#1e88e5",
    "copy": "#43a047",
    "retry": "#ef9a9a",
    "wait": "#e0e0e0",
}
LANES = {"compress": 0, "upload": 1, "copy": 2}  # each phase has its own thin lane in a file's row
MAX_ROWS = 200  # files drawn; the rest are counted in a note
_LABEL_W, _PLOT_W, _ROW_H, _LANE_H = 190, 640, 16, 4
_CHART_H, _AXIS_H = 90, 18


class Timeline:
    """`result.timeline()`: renders in a notebook, `.to_svg()` gives the SVG text, `.save(path)` writes it."""

    def __init__(self, data: TimelineData | None) -> None:
        self.data = data

    def _repr_html_(self) -> str:
        return self.to_svg()

    def save(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as out:
            out.write(self.to_svg())

    def to_svg(self, max_rows: int = MAX_ROWS) -> str:
        """The picture; files past `max_rows` are counted in a note (a saved record draws fewer)."""
        data = self.data
        if data is None:
            return _svg(_LABEL_W + _PLOT_W, 24, ['<text x="4" y="16" font-size="12">no timeline recorded</text>'])
        names = data.names[:max_rows]
        seconds = max(data.seconds, 1e-3)
        scale = _PLOT_W / seconds

        def x(t: float) -> float:
            return _LABEL_W + max(0.0, min(seconds, t)) * scale

        parts: list[str] = []
        top = 40
        parts.append(
            f'<text x="4" y="14" font-size="12" font-weight="600">{escape(data.table)}: '
            f"{len(data.names):,} {data.unit}s in {data.seconds:.1f} s</text>"
        )
        parts += _legend(4, 32)
        for row, name in enumerate(names):
            y = top + row * _ROW_H
            parts.append(f'<g class="file"><text x="4" y="{y + 12}" font-size="11">{escape(shorten(name, 30))}</text>')
            for span in data.spans[row]:
                title = f"<title>{escape(name)} · {span.kind} · {span.end - span.start:.2f} s</title>"
                x0, width = x(span.start), max(1.0, (min(span.end, seconds) - span.start) * scale)
                if span.kind in LANES:
                    lane_y = y + 2 + LANES[span.kind] * (_LANE_H + 1)
                    height = _LANE_H
                else:
                    lane_y, height = y + 1, _ROW_H - 2
                parts.append(
                    f'<rect class="span {span.kind}" x="{x0:.1f}" y="{lane_y}" width="{width:.1f}" '
                    f'height="{height}" fill="{COLOURS[span.kind]}">{title}</rect>'
                )
            parts.append("</g>")
        y = top + len(names) * _ROW_H
        if len(data.names) > len(names):
            parts.append(f'<text x="4" y="{y + 12}" font-size="11">… and {len(data.names) - len(names):,} more</text>')
            y += _ROW_H
        parts += _axis(y, seconds, x)
        y += _AXIS_H + 4
        parts += _throughput(data, y, seconds, x)
        return _svg(_LABEL_W + _PLOT_W + 10, y + _CHART_H + _AXIS_H + 4, parts)


def _svg(width: float, height: float, parts: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="snowload-timeline" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif">'
        + "".join(parts)
        + "</svg>"
    )


def _legend(left: float, y: float) -> list[str]:
    parts = []
    for k, (kind, colour) in enumerate(COLOURS.items()):
        at = left + k * 80
        parts.append(f'<rect x="{at}" y="{y - 9}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{at + 14}" y="{y}" font-size="11">{kind}</text>')
    return parts


def _axis(y: float, seconds: float, x: Callable[[float], float]) -> list[str]:
    step = _nice_step(seconds / 8)
    parts = [f'<line x1="{_LABEL_W}" y1="{y}" x2="{_LABEL_W + _PLOT_W}" y2="{y}" stroke="#999"/>']
    t = 0.0
    while t <= seconds + 1e-9:
        parts.append(f'<line x1="{x(t):.1f}" y1="{y}" x2="{x(t):.1f}" y2="{y + 4}" stroke="#999"/>')
        parts.append(f'<text x="{x(t):.1f}" y="{y + 15}" font-size="10" text-anchor="middle">{t:g} s</text>')
        t += step
    return parts


def _throughput(data: TimelineData, y: float, seconds: float, x: Callable[[float], float]) -> list[str]:
    """MB/s per phase over time (kB/s when no phase reached 1 MB/s, as sizes switch units
    everywhere), one stepped line each, over a common scale."""
    per_second = {phase: data.throughput.get(phase, (1.0, ())) for phase in PHASES}
    top = max((b / width for width, buckets in per_second.values() for b in buckets), default=0.0)
    unit, scale = ("MB/s", 1e6) if top >= 1e6 else ("kB/s", 1e3)
    series = {phase: (width, [b / width / scale for b in buckets]) for phase, (width, buckets) in per_second.items()}
    peak = max((v for _, values in series.values() for v in values), default=0.0) or 1.0
    bottom = y + _CHART_H

    def level(v: float) -> float:
        return bottom - v / peak * (_CHART_H - 4)

    top_label = f"{peak:,.{1 if peak < 10 else 0}f}"
    parts = [
        f'<text x="4" y="{y + 12}" font-size="11">throughput ({unit})</text>',
        f'<text x="{_LABEL_W - 4}" y="{y + 10}" font-size="10" text-anchor="end">{top_label}</text>',
        f'<text x="{_LABEL_W - 4}" y="{bottom}" font-size="10" text-anchor="end">0</text>',
        f'<line x1="{_LABEL_W}" y1="{bottom}" x2="{_LABEL_W + _PLOT_W}" y2="{bottom}" stroke="#999"/>',
    ]
    for phase, (width, values) in series.items():
        if not values:
            continue
        coords = [f"{x(0):.1f},{bottom:.1f}"]
        drawn = None  # a run of buckets at one level is one step: fewer points, the same line
        for k, v in enumerate(values):
            y_v = f"{level(v):.1f}"
            if y_v != drawn:
                if drawn is not None:
                    coords.append(f"{x(k * width):.1f},{drawn}")
                coords.append(f"{x(k * width):.1f},{y_v}")
                drawn = y_v
        coords += [f"{x(len(values) * width):.1f},{drawn}", f"{x(len(values) * width):.1f},{bottom:.1f}"]
        parts.append(
            f'<polyline class="throughput {phase.value}" fill="none" stroke="{COLOURS[phase.value]}" '
            f'stroke-width="1.5" points="{" ".join(coords)}"><title>{phase.value} {unit}</title></polyline>'
        )
    return parts


def _nice_step(raw: float) -> float:
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if step >= raw:
            return float(step)
    return 7200.0
