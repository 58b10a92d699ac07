"""Charts drawn on the server as inline SVG: no script, no style attribute (the pages'
Content-Security-Policy allows neither), so they show in any browser and in print.

Invariants:

* **Readable without colour.** Every chart is ``role="img"`` with a ``<title>`` and a
  ``<desc>`` that states its figures in words; every bar carries its percentage as text;
  the three shares of a bar also differ by pattern (plain, dotted, hatched) and are named
  in a legend. Colours are presentation attributes with a class name, so a stylesheet may
  restyle them.
* **Escaped.** Every text that comes from data (unit names) is XML-escaped; the output is
  a fragment safe to insert into HTML as it is.
* Figures come in; nothing is computed here but geometry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

EARLY_COLOUR = "#1b6e3a"  # dark green
ON_TIME_COLOUR = "#3a7bd5"  # blue
LATE_COLOUR = "#b3261e"  # dark red
BAR_COLOUR = "#1f5fa8"
TEXT_COLOUR = "#1a1a1a"


def pct(value: float | None) -> str:
    """``95,5 %`` (Vietnamese decimal comma), or ``—`` when there is no figure."""
    if value is None:
        return "—"
    value = round(value, 1)
    text = str(int(value)) if value == int(value) else f"{value:.1f}".replace(".", ",")
    return text + " %"


@dataclass(frozen=True)
class Shares:
    """One bar of the stacked chart: a label and the three shares (percentages)."""

    label: str
    early: float | None
    on_time: float | None
    late: float | None
    count: int  # documents completed with a deadline


def _defs(uid: str) -> str:
    return (
        "<defs>"
        f'<pattern id="{uid}-dots" width="6" height="6" patternUnits="userSpaceOnUse">'
        f'<rect width="6" height="6" fill="{ON_TIME_COLOUR}"/>'
        '<circle cx="3" cy="3" r="1.2" fill="#ffffff"/></pattern>'
        f'<pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="{LATE_COLOUR}"/>'
        '<rect width="2" height="6" fill="#ffffff"/></pattern>'
        "</defs>"
    )


def _open(uid: str, width: int, height: int, title: str, desc: str, css: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" role="img" '
        f'viewBox="0 0 {width} {height}" aria-labelledby="{uid}-t {uid}-d" '
        f'font-family="inherit" font-size="13" fill="{TEXT_COLOUR}">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
    )


def _legend(uid: str, y: int) -> str:
    items = (
        ("Trước hạn", EARLY_COLOUR, "early"),
        ("Đúng hạn", f"url(#{uid}-dots)", "on-time"),
        ("Quá hạn", f"url(#{uid}-hatch)", "late"),
    )
    out, x = [], 0
    for name, fill, css in items:
        out.append(
            f'<rect class="seg-{css}" x="{x}" y="{y}" width="14" height="14" fill="{fill}" '
            f'stroke="{TEXT_COLOUR}" stroke-width="0.5"/>'
            f'<text x="{x + 20}" y="{y + 12}">{name}</text>'
        )
        x += 120
    return f'<g class="legend" aria-hidden="true">{"".join(out)}</g>'


def stacked_shares(uid: str, title: str, bars: Sequence[Shares]) -> str:
    """Horizontal bars, one per unit: early, on time and late as shares of 100 %. Above
    each bar its unit and how many documents it counts; under it the three percentages in
    words (also written inside a segment wide enough)."""
    bar_w, row_h, top = 440, 66, 30
    width = bar_w
    height = top + row_h * max(len(bars), 1)
    lines = []
    for b in bars:
        lines.append(
            f"{b.label}: trước hạn {pct(b.early)}, đúng hạn {pct(b.on_time)}, "
            f"quá hạn {pct(b.late)} ({b.count} văn bản có hạn đã giải quyết)"
        )
    desc = "; ".join(lines) if lines else "Chưa có văn bản nào được giải quyết trong kỳ."
    out = [_open(uid, width, height, title, desc, "chart-shares"), _defs(uid), _legend(uid, 0)]
    if not bars:
        out.append(f'<text x="0" y="{top + 16}">Chưa có số liệu trong kỳ.</text>')
    for i, b in enumerate(bars):
        y = top + i * row_h
        name = b.label if len(b.label) <= 44 else b.label[:43] + "…"
        out.append(
            f'<g class="bar"><text x="0" y="{y + 14}" font-weight="bold">{escape(name)}</text>'
            f'<text x="{bar_w}" y="{y + 14}" text-anchor="end">{b.count} văn bản</text>'
        )
        x = 0.0
        segments = (
            (b.early, EARLY_COLOUR, "early"),
            (b.on_time, f"url(#{uid}-dots)", "on-time"),
            (b.late, f"url(#{uid}-hatch)", "late"),
        )
        if b.count == 0:
            out.append(
                f'<rect x="0" y="{y + 20}" width="{bar_w}" height="22" fill="#eeeeee"/>'
                f'<text x="8" y="{y + 36}">chưa có văn bản có hạn đã giải quyết</text>'
            )
        for share, fill, css in segments:
            if not share:
                continue
            w = bar_w * share / 100
            out.append(
                f'<rect class="seg-{css}" x="{x:.1f}" y="{y + 20}" width="{w:.1f}" '
                f'height="22" fill="{fill}"/>'
            )
            if w >= 48:  # the label fits inside the segment, on a solid backing
                out.append(
                    f'<rect x="{x + w / 2 - 23:.1f}" y="{y + 23}" width="46" height="16" '
                    f'fill="{TEXT_COLOUR}" fill-opacity="0.8"/>'
                    f'<text x="{x + w / 2:.1f}" y="{y + 35}" text-anchor="middle" '
                    f'fill="#ffffff" font-size="12">{pct(share)}</text>'
                )
            x += w
        if b.count:
            words = f"Trước hạn {pct(b.early)} · Đúng hạn {pct(b.on_time)} · Quá hạn {pct(b.late)}"
            out.append(f'<text x="0" y="{y + 58}">{words}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def _sum(a: float | None, b: float | None) -> float | None:
    if a is None and b is None:
        return None
    return round((a or 0) + (b or 0), 1)


def columns(uid: str, title: str, labels: Sequence[str], values: Sequence[float | None]) -> str:
    """Vertical columns of percentages (0–100), one per label, each with its value written
    above it; a missing value is drawn as "—" with no column."""
    col_w, gap, top, plot_h, left = 28, 8, 24, 150, 30
    width = left + len(labels) * (col_w + gap)
    height = top + plot_h + 30
    desc = "; ".join(f"{lab}: {pct(v)}" for lab, v in zip(labels, values, strict=True))
    out = [_open(uid, width, height, title, desc, "chart-columns")]
    for tick in (0, 50, 100):
        y = top + plot_h - plot_h * tick / 100
        out.append(
            f'<line x1="{left - 4}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#999999" stroke-width="0.5" stroke-dasharray="3 3"/>'
            f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{tick}</text>"
        )
    for i, (lab, v) in enumerate(zip(labels, values, strict=True)):
        x = left + i * (col_w + gap) + gap / 2
        cx = x + col_w / 2
        if v is not None:
            h = plot_h * v / 100
            y = top + plot_h - h
            out.append(
                f'<rect class="col" x="{x:.1f}" y="{y:.1f}" width="{col_w}" height="{h:.1f}" '
                f'fill="{BAR_COLOUR}"/>'
            )
            label_y = y - 5
        else:
            label_y = top + plot_h - 5
        out.append(
            f'<text x="{cx:.1f}" y="{label_y:.1f}" text-anchor="middle" font-size="11">'
            f"{pct(v)}</text>"
            f'<text x="{cx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" font-size="12">'
            f"{escape(lab)}</text>"
        )
    out.append("</svg>")
    return "".join(out)
