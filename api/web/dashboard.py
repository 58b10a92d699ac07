"""The handling dashboard page (``/thong-ke``) and its CSV files, for leaders, clerks and
administrators; and the compact summary the leader's and clerk's home pages include.

Thin, as every page: the figures are :func:`edms.dashboard.compute` (the same numbers as
``edms stats``), the charts :mod:`edms.charts` (inline SVG: the page needs no script).
Filters are query parameters: ``tu``/``den`` (ISO dates, default the year to date) and
``don-vi`` (a unit's code); a bad date is a 400 page, an unknown unit a 404 page. Each
table's CSV holds exactly the rows the page shows (one definition,
:func:`edms.dashboard.table`)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, g, render_template, request
from markupsafe import Markup

from edms import charts
from edms import dashboard as dash
from edms.errors import EdmsError

from ..context import system
from .views import bp, has, login_required, me

READERS = dash.READERS
ONLY_READERS = "Trang thống kê dành cho lãnh đạo, văn thư và quản trị."


def _filters() -> tuple[date, date, str | None]:
    today = dash.vn_today()
    start = date.fromisoformat(request.args.get("tu") or f"{today.year}-01-01")
    end = date.fromisoformat(request.args.get("den") or today.isoformat())
    return start, end, request.args.get("don-vi") or None


def _charts(d: dash.Dashboard) -> dict[str, Markup]:
    def shares(label: str, f: dash.Figures) -> charts.Shares:
        return charts.Shares(label, f.early_rate, f.on_time_rate, f.late_rate, f.with_deadline)

    bars = [shares(f.label, f) for f in d.units]
    if bars:
        bars.append(shares("Tổng cộng", d.total))
    out = {
        "units": charts.stacked_shares(
            "bd-don-vi", "Tỷ lệ giải quyết văn bản đến trước hạn, đúng hạn, quá hạn", bars
        ),
        "months": charts.columns(
            "bd-thang",
            f"Tỷ lệ giải quyết văn bản đến đúng hạn (kể cả trước hạn) theo tháng, năm {d.year}",
            [f"T{m.start.month}" for m in d.months],
            [m.figures.in_time_rate if m.figures else None for m in d.months],
        ),
    }
    if d.has_dossiers:
        out["dossiers"] = charts.columns(
            "bd-ho-so",
            f"Tỷ lệ hồ sơ thủ tục hành chính giải quyết đúng hạn theo tháng, năm {d.year}",
            [f"T{m.start.month}" for m in d.dossiers],
            [m.in_time_rate for m in d.dossiers],
        )
    # The SVG is built from escaped text only (edms.charts' invariant).
    return {k: Markup(v) for k, v in out.items()}


def _refused(exc: EdmsError) -> tuple[str, int]:
    return render_template("web/error.html", message=exc.message), exc.status


@bp.get("/thong-ke")
@login_required
def dashboard() -> Any:
    if not has(*READERS):
        return render_template("web/error.html", message=ONLY_READERS), 403
    try:
        start, end, unit = _filters()
    except ValueError:
        return render_template("web/error.html", message="Ngày không hợp lệ (năm-tháng-ngày)."), 400
    try:
        d = dash.compute(system(), me(), start, end, unit)
    except EdmsError as exc:
        return _refused(exc)
    tables = {name: dash.table(d, name) for name in dash.TABLES}
    if not d.has_dossiers:
        del tables["ho-so"]
    query = {"tu": start.isoformat(), "den": end.isoformat()}
    if d.unit:
        query["don-vi"] = d.unit.code
    return render_template(
        "web/dashboard.html", d=d, tables=tables, charts=_charts(d), query=query, pct=charts.pct
    )


@bp.get("/thong-ke/<name>.csv")
@login_required
def dashboard_csv(name: str) -> Any:
    if not has(*READERS):
        return render_template("web/error.html", message=ONLY_READERS), 403
    if name not in dash.TABLES:
        return render_template("web/error.html", message="Không có bảng số liệu này."), 404
    try:
        start, end, unit = _filters()
    except ValueError:
        return render_template("web/error.html", message="Ngày không hợp lệ (năm-tháng-ngày)."), 400
    try:
        t = dash.table(dash.compute(system(), me(), start, end, unit), name)
    except EdmsError as exc:
        return _refused(exc)
    filename = f"thong-ke-{name}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        dash.to_csv(t),
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _home_summary() -> dict[str, Any] | None:
    """For the home page's include: the summary and its bar, or None for other roles (or
    when it cannot be read: the home page still shows)."""
    if getattr(g, "web_identity", None) is None or not has("leader", "clerk"):
        return None
    try:
        s = dash.summary(system(), me())
    except EdmsError:
        return None
    f = s.total
    bar = charts.stacked_shares(
        "bd-tom-tat",
        f"Văn bản đến giải quyết từ {s.start:%d/%m/%Y} đến {s.today:%d/%m/%Y}",
        [charts.Shares("Toàn cơ quan", f.early_rate, f.on_time_rate, f.late_rate, f.with_deadline)],
    )
    return {"s": s, "pct": charts.pct, "bar": Markup(bar)}


@bp.app_context_processor
def _dashboard_context() -> dict[str, Any]:
    # A callable: the figures are read only where the include is rendered.
    return {"dashboard_summary": _home_summary}
