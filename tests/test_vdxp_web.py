"""The axis page of the web admin (/quan-tri/truc-lien-thong): installation admins connect
a system (its secret shown once, on that page), suspend it and give it a new secret; the
page lists the systems and the packages through the axis; anyone else is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from api import create_app
from edms import devseed
from edms.axis import systems
from edms.config import Settings
from edms.system import System
from tests.test_security import last_event, web_login


def test_installation_admins_manage_the_axis_from_the_web(tmp_path: Path, dev_pki: Any) -> None:
    system = System(
        Settings.from_env(
            {
                "EDMS_DATA_DIR": str(tmp_path / "data"),
                "EDMS_PKI_DIR": str(dev_pki.directory),
                "EDMS_ENV": "development",
                "EDMS_INSTALLATION_ADMINS": "quantri",
                "EDMS_AXIS_HUB": "true",
            }
        )
    )
    system.init()
    devseed.seed_development(system)
    app = create_app(system)
    clerk, _ = web_login(app, "vanthu")
    assert clerk.get("/quan-tri/truc-lien-thong").status_code == 403
    admin, _ = web_login(app, "quantri")
    page = admin.get("/quan-tri/truc-lien-thong").get_data(as_text=True)
    assert "Địa chỉ kết nối" in page and "/vdxp" in page and "0 hệ thống" in page
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    csrf = token.group(1)
    r = admin.post(
        "/quan-tri/truc-lien-thong",
        data={
            "csrf": csrf,
            "action": "add",
            "code": "xa-tan-quang",
            "name": "UBND xã Tân Quang",
            "agency": "H41.20.05",
            "agency_name": "Ủy ban nhân dân xã Tân Quang",
        },
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Đã kết nối hệ thống xa-tan-quang" in page
    secret = re.search(r'<code class="fingerprint">([^<]+)</code>', page)
    assert secret and len(secret.group(1)) >= 32
    (view,) = systems.list_systems(system)
    assert view.agencies == (("H41.20.05", "Ủy ban nhân dân xã Tân Quang"),)
    assert systems.open_secret(system.settings, _row(system, "xa-tan-quang")) == secret.group(1)
    assert last_event(system, "axis.system.add").actor == "quantri"
    assert secret.group(1) not in admin.get("/quan-tri/truc-lien-thong").get_data(as_text=True)

    r = admin.post(
        "/quan-tri/truc-lien-thong",
        data={"csrf": csrf, "action": "disable", "code": "xa-tan-quang"},
    )
    assert "đã tạm ngừng" in r.get_data(as_text=True)
    assert not systems.list_systems(system)[0].active
    r = admin.post(
        "/quan-tri/truc-lien-thong", data={"csrf": csrf, "action": "rotate", "code": "xa-tan-quang"}
    )
    rotated = re.search(r'<code class="fingerprint">([^<]+)</code>', r.get_data(as_text=True))
    assert rotated and rotated.group(1) != secret.group(1)
    # refused with the reason, nothing changed; a forged form (no CSRF) is refused
    r = admin.post(
        "/quan-tri/truc-lien-thong",
        data={"csrf": csrf, "action": "add", "code": "xa-tan-quang", "name": "x"},
    )
    assert r.status_code == 409 and "already connected" in r.get_data(as_text=True)
    assert (
        admin.post(
            "/quan-tri/truc-lien-thong", data={"action": "disable", "code": "xa-tan-quang"}
        ).status_code
        == 403
    )
    assert len(systems.list_systems(system)) == 1
    system.close()


def _row(system: System, code: str) -> Any:
    from sqlalchemy import select

    from edms.models import AxisSystem

    with system.sessions() as s:
        return s.scalars(select(AxisSystem).where(AxisSystem.code == code)).one()
