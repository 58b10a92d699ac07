"""Gap-free yearly numbering and the hash-chained audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from edms import db
from edms.audit import record, verify_chain
from edms.models import Agency
from edms.numbering import format_number, register_for, register_year, take_number


def setup(url: str) -> tuple[object, int]:
    engine = db.make_engine(url)
    db.upgrade(engine)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        agency = Agency(
            code="000.00.00.H41", name="Ủy ban nhân dân tỉnh Hà Giang", abbreviation="UBND"
        )
        s.add(agency)
        s.flush()
        agency_id = agency.id
    return sessions, agency_id


def test_numbers_restart_each_vietnamese_year(db_url: str) -> None:
    sessions, agency = setup(db_url)
    with db.transaction(sessions) as s:  # type: ignore[arg-type]
        reg = register_for(s, agency, "outgoing", date(2026, 3, 1))
        assert [take_number(s, reg.id) for _ in range(3)] == [1, 2, 3]
    # a rolled-back transaction gives its number back: no gap
    with pytest.raises(RuntimeError), db.transaction(sessions) as s:  # type: ignore[arg-type]
        assert take_number(s, register_for(s, agency, "outgoing", date(2026, 3, 2)).id) == 4
        raise RuntimeError("the document could not be numbered")
    with db.transaction(sessions) as s:  # type: ignore[arg-type]
        assert take_number(s, register_for(s, agency, "outgoing", date(2026, 3, 2)).id) == 4
        # 31 Dec 17:30 UTC is already 1 January in Hà Nội: a new series starts at 01
        new_year = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
        assert register_year(new_year) == 2027
        reg27 = register_for(s, agency, "outgoing", new_year)
        assert format_number(take_number(s, reg27.id)) == "01"
        # other kinds keep their own series
        assert take_number(s, register_for(s, agency, "incoming", new_year).id) == 1


def _allocate(url: str, register_id: int, count: int, out: multiprocessing.Queue) -> None:
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    got = []
    for _ in range(count):
        with db.transaction(sessions) as s:
            got.append(take_number(s, register_id))
    out.put(got)
    engine.dispose()


def test_concurrent_allocation_on_postgresql(pg_url: str) -> None:
    sessions, agency = setup(pg_url)
    with db.transaction(sessions) as s:  # type: ignore[arg-type]
        reg_id = register_for(s, agency, "outgoing", date(2026, 5, 1)).id
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(pg_url, reg_id, 50, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    numbers = [n for _ in procs for n in queue.get(timeout=120)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(numbers) == list(range(1, 201))


def test_audit_chain_detects_edits_and_deletions(db_url: str, tmp_path: Path) -> None:
    sessions, _ = setup(db_url)
    for i in range(6):
        with db.transaction(sessions) as s:  # type: ignore[arg-type]
            record(
                s,
                "vanthu@h41",
                "document.register",
                "document",
                str(i),
                {"so_den": i + 1, "ghi_chu": "Đã vào sổ"},
            )
    with sessions() as s:  # type: ignore[operator]
        assert verify_chain(s) == (6, [])
    env = {**os.environ, "EDMS_DATABASE_URL": db_url, "EDMS_DATA_DIR": str(tmp_path)}
    ok = subprocess.run(
        [sys.executable, "-m", "edms.cli", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and "intact: 6 events" in ok.stdout

    engine = db.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3"))
    bad = subprocess.run(
        [sys.executable, "-m", "edms.cli", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "EVENT 3: its content was edited" in bad.stdout

    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    with sessions() as s:  # type: ignore[operator]
        _, problems = verify_chain(s)
    assert {p.seq for p in problems} >= {3, 5, 6}
    assert any("missing" in p.detail for p in problems)

    with engine.begin() as conn:  # deleting the newest event is caught by the head
        conn.execute(text("DELETE FROM audit_events WHERE seq = 6"))
    with sessions() as s:  # type: ignore[operator]
        _, problems = verify_chain(s)
    assert any("events were removed" in p.detail for p in problems)
    engine.dispose()
