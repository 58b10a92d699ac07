"""``edms procedure``, ``edms holiday``, ``edms desk`` and ``edms notices``: the one-stop
desk's procedures and citizens' dossiers, the working-day calendar, and the notices'
delivery (edms.procedures, edms.workdays, edms.reception, edms.notices)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .base import Context, as_user, parse_date, pass_ctx

# -- procedures -------------------------------------------------------------------------


@click.group()
def procedure() -> None:
    """Administrative procedures (thủ tục hành chính) dossiers are received for."""


@procedure.command("list")
@as_user
@pass_ctx
def procedure_list(ctx: Context, actor: str) -> None:
    from ..procedures import list_procedures, papers_of, time_vi

    for p in list_procedures(ctx.system, actor):
        click.echo(
            f"{p.code:12} {time_vi(p.days, p.day_kind):22} "
            f"{'' if p.active else '(inactive) '}{p.name}"
        )
        for paper in papers_of(p):
            click.echo(f"{'':12}   - {paper}")


@procedure.command("set")
@as_user
@click.argument("code")
@click.option("--name", required=True, help="The procedure's name.")
@click.option(
    "--days",
    type=click.IntRange(0, 366),
    required=True,
    help="Processing time (0: the same day).",
)
@click.option("--calendar-days", is_flag=True, help="Count calendar days rather than working days.")
@click.option("--field", default="", help="The field (lĩnh vực).")
@click.option("--paper", "papers", multiple=True, help="A paper to hand in (repeat).")
@click.option("--inactive", is_flag=True, help="No longer received.")
@pass_ctx
def procedure_set(
    ctx: Context,
    actor: str,
    code: str,
    name: str,
    days: int,
    calendar_days: bool,
    field: str,
    papers: tuple[str, ...],
    inactive: bool,
) -> None:
    """Add a procedure or change the one with CODE (administrators)."""
    from ..procedures import ProcedureSpec, save

    p = save(
        ctx.system,
        actor,
        ProcedureSpec(
            code,
            name,
            days,
            "calendar" if calendar_days else "working",
            field,
            papers,
            not inactive,
        ),
    )
    click.echo(f"procedure {p.code} saved")


# -- holidays -------------------------------------------------------------------------------


@click.group()
def holiday() -> None:
    """The working-day calendar: holidays, days off and weekend days worked."""


@holiday.command("list")
@click.argument("year", type=click.IntRange(1900, 2199))
@pass_ctx
def holiday_list(ctx: Context, year: int) -> None:
    """The year's days (seeded by the Labour Code's rules when first used)."""
    from ..workdays import KINDS_VI, year_view

    view = year_view(ctx.system, year)
    for h in view.days:
        click.echo(f"{h.day.isoformat()}  {KINDS_VI[h.kind]:12} {h.name}")
    state = (
        f"confirmed by {view.confirmed_by}"
        if view.confirmed_at
        else "not confirmed against the Government's announcement"
    )
    click.echo(f"{len(view.days)} days; {state}")


@holiday.command("seed")
@click.argument("first", type=click.IntRange(1900, 2199))
@click.argument("last", type=click.IntRange(1900, 2199), required=False)
@pass_ctx
def holiday_seed(ctx: Context, first: int, last: int | None) -> None:
    """Seed the years FIRST..LAST not seeded yet (a seeded year is left as it is)."""
    from ..db import transaction
    from ..workdays import ensure_seeded

    with transaction(ctx.system.sessions) as s:
        done = ensure_seeded(s, range(first, (last or first) + 1), "cli")
    click.echo(f"seeded: {', '.join(map(str, done)) or 'nothing (already seeded)'}")


@holiday.command("set")
@click.argument("day")
@click.argument("name")
@click.option("--work", is_flag=True, help="A weekend day worked (ngày làm bù).")
@pass_ctx
def holiday_set(ctx: Context, day: str, name: str, work: bool) -> None:
    """Make DAY (YYYY-MM-DD) a day off named NAME (or, with --work, a day worked)."""
    from ..workdays import set_day

    set_day(ctx.system, "cli", parse_date(day), "work" if work else "off", name)
    click.echo(f"{day} saved")


@holiday.command("remove")
@click.argument("day")
@pass_ctx
def holiday_remove(ctx: Context, day: str) -> None:
    from ..workdays import remove_day

    remove_day(ctx.system, "cli", parse_date(day))
    click.echo(f"{day} removed")


@holiday.command("confirm")
@click.argument("year", type=click.IntRange(1900, 2199))
@pass_ctx
def holiday_confirm(ctx: Context, year: int) -> None:
    """State that YEAR's days match the Government's announcement."""
    from ..workdays import confirm_year

    confirm_year(ctx.system, "cli", year)
    click.echo(f"{year} confirmed")


# -- the one-stop desk ------------------------------------------------------------------------


@click.group()
def desk() -> None:
    """The one-stop desk: citizens' dossiers (hồ sơ thủ tục hành chính)."""


@desk.command("receive")
@as_user
@click.option("--procedure", "procedure_code", required=True)
@click.option("--name", required=True, help="The applicant's full name.")
@click.option("--id-number", default="", help="CCCD or tax code.")
@click.option("--address", default="")
@click.option("--phone", default="")
@click.option("--email", default="")
@click.option(
    "--notify",
    "channels",
    multiple=True,
    type=click.Choice(["email", "sms", "zalo"]),
    help="Repeat for several.",
)
@click.option(
    "--paper",
    "papers",
    multiple=True,
    help="NAME or NAME:FORM:COUNT (FORM: original, copy, certified).",
)
@click.option(
    "--receipt",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the receipt (PDF) here.",
)
@click.option("--paper-size", type=click.Choice(["A4", "A5"]), default="A4")
@pass_ctx
def desk_receive(
    ctx: Context,
    actor: str,
    procedure_code: str,
    name: str,
    id_number: str,
    address: str,
    phone: str,
    email: str,
    channels: tuple[str, ...],
    papers: tuple[str, ...],
    receipt: Path,
    paper_size: str,
) -> None:
    """Receive a dossier and write its receipt; the look-up secret is printed on it
    (and here), and kept nowhere."""
    from .. import receipts
    from ..reception import Application, Paper, receive

    items = []
    for p in papers:
        parts = p.rsplit(":", 2)
        if len(parts) == 3 and parts[2].isdigit():
            items.append(Paper(parts[0], parts[1], int(parts[2])))
        else:
            items.append(Paper(p))
    r = receive(
        ctx.system,
        actor,
        Application(procedure_code, name, id_number, address, phone, email, channels, tuple(items)),
    )
    receipt.write_bytes(receipts.render(r, paper_size))
    click.echo(
        f"dossier {r.code}: promised for {r.promised_date:%d/%m/%Y}; look-up "
        f"secret {r.secret}; receipt {receipt}"
    )


@desk.command("list")
@as_user
@click.option("--late", is_flag=True, help="Only open dossiers past their date.")
@click.option("--status", default=None)
@pass_ctx
def desk_list(ctx: Context, actor: str, late: bool, status: str | None) -> None:
    from ..reception import STATUS_VI, is_late, list_dossiers

    for d, name in list_dossiers(ctx.system, actor, status=status, late_only=late):
        flag = " QUÁ HẠN" if is_late(d) else ""
        click.echo(
            f"{d.code}  {d.promised_date:%d/%m/%Y}  {STATUS_VI[d.status]}{flag}  "
            f"{d.applicant_name} — {name}"
        )


def _step(name: str, doc: str) -> None:
    @desk.command(name, help=doc)
    @as_user
    @click.argument("code")
    @click.option("--note", default="", help="A note (for refuse: the reason).")
    @pass_ctx
    def step(ctx: Context, actor: str, code: str, note: str) -> None:
        from .. import reception

        steps: dict[str, Callable[[Any, str, str, str], Any]] = {
            "start": reception.start,
            "deliver": reception.deliver,
            "refuse": reception.refuse,
        }
        fn = steps[name]
        d = fn(ctx.system, actor, code, note)
        click.echo(f"dossier {d.code}: {reception.STATUS_VI[d.status]}")


_step("start", "Handling starts.")
_step("deliver", "The result was handed to the citizen.")
_step("refuse", "The dossier cannot be handled (--note: the reason).")


@desk.command("link")
@as_user
@click.argument("code")
@click.argument("document_id", type=int)
@click.option("--result", is_flag=True, help="The dossier's result (ready when issued).")
@pass_ctx
def desk_link(ctx: Context, actor: str, code: str, document_id: int, result: bool) -> None:
    from ..reception import STATUS_VI, link_document

    d = link_document(ctx.system, actor, code, document_id, "result" if result else "handled")
    click.echo(f"dossier {d.code}: {STATUS_VI[d.status]}")


@desk.command("reprint")
@as_user
@click.argument("code")
@click.option("--receipt", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--paper-size", type=click.Choice(["A4", "A5"]), default="A4")
@pass_ctx
def desk_reprint(ctx: Context, actor: str, code: str, receipt: Path, paper_size: str) -> None:
    """A new receipt with a new look-up secret (the old one stops working)."""
    from .. import receipts
    from ..reception import reissue_receipt

    r = reissue_receipt(ctx.system, actor, code)
    receipt.write_bytes(receipts.render(r, paper_size))
    click.echo(f"dossier {r.code}: new look-up secret {r.secret}; receipt {receipt}")


# -- notices ------------------------------------------------------------------------------


@click.group()
def notices() -> None:
    """Notices by e-mail and webhooks: delivery, the daily checks, the log."""


@notices.command("deliver")
@click.option("--loop", "forever", is_flag=True, help="Keep delivering until stopped.")
@pass_ctx
def notices_deliver(ctx: Context, forever: bool) -> None:
    """Deliver the notices due (the worker and the service do it by themselves)."""
    from ..notices.delivery import deliver_due

    while True:
        r = deliver_due(ctx.system)
        if r.delivered or r.retried or r.failed or not forever:
            click.echo(f"delivered {r.delivered}, to retry {r.retried}, failed {r.failed}")
        if not forever:
            return
        time.sleep(ctx.system.settings.notice_poll_seconds)


@notices.command("check")
@pass_ctx
def notices_check(ctx: Context) -> None:
    """The daily checks now: documents due or overdue, dossiers late."""
    from ..notices.daily import run

    click.echo(json.dumps(run(ctx.system), ensure_ascii=False))


@notices.command("log")
@as_user
@click.option("--state", type=click.Choice(["pending", "delivered", "failed"]))
@pass_ctx
def notices_log(ctx: Context, actor: str, state: str | None) -> None:
    from ..notices.admin import log

    total, rows = log(ctx.system, actor, state=state)
    for n in rows:
        click.echo(
            f"{n.id:6} {n.state:9} {n.event:28} {n.channel:7} {n.address or '-':30} "
            f"{n.attempts} {(n.last_error or '')[:60]}"
        )
    click.echo(f"{total} notices")


@notices.command("replay")
@as_user
@click.argument("notice_id", type=int)
@pass_ctx
def notices_replay(ctx: Context, actor: str, notice_id: int) -> None:
    """Queue a notice again (same delivery id)."""
    from ..notices.delivery import replay

    replay(ctx.system, actor, notice_id)
    click.echo(f"notice {notice_id} queued again")


@notices.command("test")
@as_user
@click.argument("address")
@pass_ctx
def notices_test(ctx: Context, actor: str, address: str) -> None:
    """Queue a test e-mail to ADDRESS; `edms notices deliver` sends it."""
    from ..notices.admin import send_test

    send_test(ctx.system, actor, address)
    click.echo(f"test e-mail to {address} queued")
