"""The trust page of the web admin: every admin sees the anchors with their fingerprints
and where to confirm them; only an installation admin (EDMS_INSTALLATION_ADMINS) changes
them, and each change is audited."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api import create_app
from edms import devseed, trust
from edms.config import Settings
from edms.models import AuditEvent
from edms.system import System
from tests.test_security import web_login

G2_ROOT = "F04BA4B459A7"  # RootCA chuyên dùng Chính phủ G2 (shipped), fingerprint prefix


def _system(tmp_path: Path, dev_pki: Any, admins: str) -> System:
    system = System(
        Settings.from_env(
            {
                "EDMS_DATA_DIR": str(tmp_path / "data"),
                "EDMS_PKI_DIR": str(dev_pki.directory),
                "EDMS_ENV": "development",
                "EDMS_INSTALLATION_ADMINS": admins,
            }
        )
    )
    system.init()
    devseed.seed_development(system)
    return system


def test_agency_admin_reads_installation_admin_changes(tmp_path: Path, dev_pki: Any) -> None:
    system = _system(tmp_path, dev_pki, admins="")
    app = create_app(system)
    clerk, _ = web_login(app, "vanthu")
    assert clerk.get("/quan-tri/tin-cay").status_code == 403
    admin, _ = web_login(app, "quantri")
    page = admin.get("/quan-tri/tin-cay").get_data(as_text=True)
    assert "RootCA chuyên dùng Chính phủ G2" in page and "https://ca.gov.vn" in page
    assert "Chứng thực chữ ký số công cộng (NEAC)" in page
    assert "F04BA4B459A7" in page and "Ngừng tin cậy" not in page  # read-only for them
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    fp = next(
        a.fingerprint for a in trust.anchors(system.settings) if a.fingerprint.startswith(G2_ROOT)
    )
    r = admin.post(f"/quan-tri/tin-cay/{fp}", data={"csrf": token.group(1), "action": "disable"})
    assert r.status_code == 403
    assert trust.find(system.settings, fp).enabled  # nothing changed

    system.close()
    system = _system(tmp_path, dev_pki, admins="quantri")
    app = create_app(system)
    admin, _ = web_login(app, "quantri")
    page = admin.get("/quan-tri/tin-cay").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token and "Ngừng tin cậy" in page
    r = admin.post(
        f"/quan-tri/tin-cay/{fp}", data={"csrf": token.group(1), "action": "disable", "note": "thử"}
    )
    assert r.status_code in (302, 303)
    assert not trust.find(system.settings, fp).enabled
    assert fp not in {trust.fingerprint(c) for c in trust.effective(system.settings).roots}
    with system.sessions() as s:
        e = s.scalars(select(AuditEvent).where(AuditEvent.action == "trust.disable")).one()
        assert e.actor == "quantri" and e.object_id == fp and '"before": true' in e.details
    system.close()
