"""The handling dashboard (/thong-ke): on a seeded set of incoming documents handled early,
on time, late, without a deadline, still open in time and overdue, its figures — the HTML
tables and the CSV files — equal `edms stats --json` run as a separate process for the
same period; the charts are accessible SVG; filters, refusals and the home-page summary."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from api import create_app
from edms import charts
from edms import dashboard as dash
from edms import documents as docs
from edms.devseed import DEV_USER_PASSWORD
from edms.numbering import VN_TZ
from edms.system import System
from tests.support.agency import dev_env, seeded
from tests.test_registers import receive_registered
from tests.test_registers import signed_pdf as signed_pdf

KT, VX = "Phòng Kinh tế", "Phòng Văn hóa - Xã hội"
COUNTS = ("early", "on_time", "late", "no_deadline", "open_on_time", "open_overdue")


@pytest.fixture
def site(tmp_path: Path, dev_pki: Any) -> Iterator[tuple[System, Any]]:
    system = seeded(dev_env(tmp_path / "data", dev_pki.directory))
    yield system, create_app(system)
    system.close()


def login(app: Any, username: str) -> FlaskClient:
    client = app.test_client()
    client.get("/dang-nhap")
    with client.session_transaction() as sess:
        token = sess["login_csrf"]
    got = client.post(
        "/dang-nhap",
        data={"username": username, "csrf": token, "password": DEV_USER_PASSWORD, "next": "/"},
    )
    assert got.status_code == 303
    return client


def _set(system: System, sql: str, **params: Any) -> None:
    with system.engine.begin() as conn:
        conn.execute(text(sql), params)


def seed(system: System, pdf: Path) -> dict[str, int]:
    """Documents handled early, on time, late, without a deadline, still open in time,
    overdue, and one handled early last month (the data is set where the domain refuses
    a past deadline or date)."""
    today = docs.vn_today()
    ids = {k: receive_registered(system, pdf, i, f"Việc {k}") for i, k in enumerate("abcdefg")}
    plan = {
        "a": ("KT", 5),  # completed early
        "b": ("KT", 0),  # completed on the deadline day
        "c": ("VX", 1),  # completed, deadline moved three days back: late
        "d": ("VX", 2),  # open, due in two days
        "e": ("KT", 1),  # open, deadline moved two days back: overdue
        "f": ("KT", None),  # completed, no deadline
        "g": ("VX", 3),  # completed early, 35 days ago
    }
    for k, (unit, days) in plan.items():
        due = None if days is None else today + timedelta(days=days)
        docs.assign(system, "chutich", ids[k], unit, deadline=due)
    for k in "abcfg":
        docs.complete(system, "vanthu", ids[k])
    back = "UPDATE assignments SET deadline = :d WHERE document_id = :id"
    _set(system, back, d=today - timedelta(days=3), id=ids["c"])
    _set(system, back, d=today - timedelta(days=2), id=ids["e"])
    then = datetime.combine(today - timedelta(days=35), time(9), VN_TZ)
    _set(
        system,
        "UPDATE documents SET completed_at = :t, arrival_at = :t WHERE id = :id",
        t=then,
        id=ids["g"],
    )
    _set(system, back, d=(then + timedelta(days=3)).date(), id=ids["g"])
    return ids


def cli_stats(system: System, start: date, end: date) -> dict[str, tuple[int, ...]]:
    env = {**os.environ, **dev_env(system.settings.data_dir, system.settings.pki_dir)}
    args = ["stats", "--json", "--from", start.isoformat(), "--to", end.isoformat()]
    r = subprocess.run(
        [sys.executable, "-m", "edms.cli", *args, "--as", "vanthu"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    got = json.loads(r.stdout)
    assert (got["from"], got["to"]) == (start.isoformat(), end.isoformat())
    return {u["unit"]: tuple(u[k] for k in COUNTS) for u in got["units"]}


def table_rows(page: str, name: str) -> list[list[str]]:
    found = re.search(
        rf'<table class="figures no-cards" id="bang-{name}">(.*?)</table>', page, re.S
    )
    assert found, name
    body = found.group(1).split("<tbody>")[1]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def csv_rows(data: bytes) -> tuple[str, list[str], list[list[str]]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM: spreadsheets read Vietnamese
    caption, head, *rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    return caption[0], head, rows


def as_counts(rows: list[list[str]]) -> dict[str, tuple[int, ...]]:
    return {r[0]: tuple(int(c) for c in r[1:7]) for r in rows}


def test_dashboard_figures_equal_edms_stats(
    site: tuple[System, Any],
    signed_pdf: Path,
) -> None:
    system, app = site
    ids = seed(system, signed_pdf)
    today = docs.vn_today()
    start, end = today - timedelta(days=40), today
    expected = cli_stats(system, start, end)
    # The seeded cases, as the CLI counts them.
    assert expected[KT] == (1, 1, 0, 1, 0, 1)
    assert expected[VX] == (1, 0, 1, 0, 1, 0)

    d = dash.compute(system, "vanthu", start, end)
    assert {f.label: tuple(getattr(f, k) for k in COUNTS) for f in d.units} == expected
    assert d.total.in_time_rate == round(100 * 3 / 4, 1)

    clerk = login(app, "vanthu")
    query = f"tu={start.isoformat()}&den={end.isoformat()}"
    got = clerk.get(f"/thong-ke?{query}")
    assert got.status_code == 200
    page = got.get_data(as_text=True)
    rows = table_rows(page, "don-vi")
    assert as_counts(rows[:-1]) == expected
    assert rows[-1][0] == "Tổng cộng"
    totals = tuple(map(sum, zip(*expected.values(), strict=True)))
    assert tuple(int(c) for c in rows[-1][1:7]) == totals
    assert rows[[r[0] for r in rows].index(KT)][7:] == ["50 %", "50 %", "0 %"]
    caption, head, csv_units = csv_rows(clerk.get(f"/thong-ke/don-vi.csv?{query}").data)
    assert head[0] == "Đơn vị chủ trì" and "từ" in caption
    assert csv_units == rows  # the same rows, to the cell

    # The month under way equals `edms stats` from its first day to today.
    lo, _hi = dash.month_bounds(today.year, today.month)
    month = cli_stats(system, lo, today)
    months = table_rows(page, "thang")
    assert len(months) == 12
    mine = months[today.month - 1]
    assert tuple(int(c) for c in mine[1:7]) == tuple(map(sum, zip(*month.values(), strict=True)))
    assert csv_rows(clerk.get(f"/thong-ke/thang.csv?{query}").data)[2] == months
    if today.month < 12:
        assert months[-1][-1] == "chưa đến"

    # Overdue and due soon: e is overdue by two days, d is due in two days.
    han = table_rows(page, "han")
    assert [(r[0], r[2], r[5]) for r in han] == [
        ("Quá hạn", "Việc e", "quá 2 ngày"),
        ("Sắp đến hạn", "Việc d", "còn 2 ngày"),
    ]
    assert f'href="/van-ban/{ids["e"]}"' in page

    # The charts: images with a title, a description, the percentages written on them.
    svgs = re.findall(r"<svg .*?</svg>", page, re.S)
    assert len(svgs) >= 2
    for svg in svgs:
        assert 'role="img"' in svg and "<title " in svg and "<desc " in svg
    assert "50 %" in svgs[0] and "trước hạn 50 %" in svgs[0]
    # Nothing the Content-Security-Policy would block: no inline script, no style attribute.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert not any(" style=" in svg for svg in svgs)

    # One unit: only its row, the same figures.
    kt = table_rows(clerk.get(f"/thong-ke?{query}&don-vi=KT").get_data(as_text=True), "don-vi")
    assert as_counts(kt[:-1]) == {KT: expected[KT]}


def test_dashboard_refusals_and_home_summary(
    site: tuple[System, Any],
    signed_pdf: Path,
) -> None:
    system, app = site
    seed(system, signed_pdf)
    officer = login(app, "chuyenvien")
    assert officer.get("/thong-ke").status_code == 403
    assert officer.get("/thong-ke/don-vi.csv").status_code == 403
    assert "tom-tat-thong-ke" not in officer.get("/").get_data(as_text=True)
    clerk = login(app, "vanthu")
    assert clerk.get("/thong-ke?tu=2026-13-01").status_code == 400
    assert clerk.get("/thong-ke?tu=2026-05-01&den=2026-04-01").status_code == 400
    assert clerk.get("/thong-ke?don-vi=KHONG-CO").status_code == 404
    assert clerk.get("/thong-ke/khong-co.csv").status_code == 404
    home = clerk.get("/").get_data(as_text=True)
    assert 'id="tom-tat-thong-ke"' in home and 'role="img"' in home
    leader = login(app, "chutich").get("/").get_data(as_text=True)
    assert 'id="tom-tat-thong-ke"' in leader
    s = dash.summary(system, "chutich")
    assert (s.overdue, s.near) == (1, 1)
    assert charts.pct(s.total.in_time_rate) in leader


def test_charts_escape_and_say_everything() -> None:
    svg = charts.stacked_shares("x", "Tỷ lệ", [charts.Shares("<Phòng & Ban>", 12.5, 80.0, 7.5, 40)])
    assert "&lt;Phòng &amp; Ban&gt;" in svg and "<Phòng" not in svg
    assert "trước hạn 12,5 %" in svg and "quá hạn 7,5 %" in svg
    empty = charts.columns("y", "Xu hướng", ["T1", "T2"], [None, 100.0])
    assert "—" in empty and "100 %" in empty
    assert charts.pct(None) == "—" and charts.pct(99.5) == "99,5 %"
