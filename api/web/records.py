"""Registers (Appendix IV) and the follow-up of deadlines and handling statistics."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, render_template, request

from edms.errors import EdmsError

from ..context import system
from .views import bp, login_required, me

# -- registers, deadlines, statistics ----------------------------------------------------------


@bp.get("/so-dang-ky")
@login_required
def registers() -> Any:
    from edms import registers as regs

    kind = request.args.get("so", "outgoing")
    if kind not in ("outgoing", "incoming", "follow-up"):
        abort(404)
    today = date.today()
    try:
        start = date.fromisoformat(request.args.get("tu", f"{today.year}-01-01"))
        end = date.fromisoformat(request.args.get("den", today.isoformat()))
        export = regs.collect(system(), me(), kind, start, end)
    except ValueError:
        abort(400)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template(
        "web/registers.html", kind=kind, start=start, end=end, export=export, kinds=regs.LAYOUTS
    )


@bp.get("/theo-doi")
@login_required
def follow_up() -> Any:
    from edms import tracking

    try:
        near = tracking.deadlines(system(), me(), within_days=3)
        today = date.today()
        stats = tracking.handling_stats(system(), me(), date(today.year, 1, 1), today)
    except EdmsError as exc:
        return render_template("web/error.html", message=exc.message), exc.status
    return render_template("web/follow_up.html", near=near, stats=stats)
