"""A System seeded with the development agency (units, a leader, a deputy, a clerk, an
officer, an admin, bound keys), and helpers to compare everything stored before and after
a refused step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from edms import devseed
from edms.config import Settings
from edms.db import Base
from edms.documents import DraftMeta, Recipient
from edms.system import System

FOREIGN_AGENCY = "000.00.00.G22"


def dev_env(data_dir: Path, pki_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a development installation keeping its data in ``data_dir``,
    with the development PKI in ``pki_dir`` and no default retention; ``extra`` adds or
    overrides variables."""
    return {
        "EDMS_DATA_DIR": str(data_dir),
        "EDMS_RETENTION_DEFAULT_YEARS": "0",
        "EDMS_PKI_DIR": str(pki_dir),
        "EDMS_ENV": "development",
        **extra,
    }


def seeded(env: dict[str, str]) -> System:
    """A System for ``env``, initialised and seeded with the development agency (the
    caller closes it)."""
    system = System(Settings.from_env(env))
    system.init()
    devseed.seed_development(system)
    return system


def draft_meta(**kw: Any) -> DraftMeta:
    base: dict[str, Any] = {
        "type_code": "quyet-dinh",
        "subject": "Về việc phê duyệt Kế hoạch chuyển đổi số năm 2027",
        "recipients": (Recipient("Sở Khoa học và Công nghệ", "000.00.01.H41"),),
    }
    base.update(kw)
    return DraftMeta(**base)


BODY = [
    "Căn cứ Luật Tổ chức chính quyền địa phương ngày 16 tháng 6 năm 2025;",
    "Theo đề nghị của Giám đốc Sở Khoa học và Công nghệ.",
    "Điều 1. Phê duyệt Kế hoạch chuyển đổi số năm 2027 kèm theo Quyết định này.",
    "Điều 2. Giao Sở Khoa học và Công nghệ chủ trì, phối hợp với các sở, ngành "
    "hướng dẫn, kiểm tra việc thực hiện; báo cáo kết quả trước ngày 15 tháng 12.",
]


def snapshot(system: System) -> dict[str, Any]:
    """Row counts of every table (and the search index) and every stored object key."""
    counts: dict[str, Any] = {}
    with system.sessions() as s:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = s.scalar(select(func.count()).select_from(table))
        name = "document_fts" if s.get_bind().dialect.name == "sqlite" else "document_search"
        counts[name] = s.scalar(text(f"SELECT count(*) FROM {name}"))
        counts["audit_head"] = tuple(s.execute(text("SELECT seq, hash FROM audit_head")).one())
        counts["versions"] = tuple(
            s.execute(text("SELECT id, state, version FROM documents ORDER BY id")).all()
        )
    counts["objects"] = sorted(o.key for o in system.store.list())
    return counts


def tmp_files(system: System) -> list[Path]:
    base = system.settings.data_dir / "tmp"
    return sorted(base.rglob("*")) if base.exists() else []


def sign(system: System, actor: str, doc_id: int, **kw: Any) -> Any:
    """``documents.sign`` with the development leaders' signing PIN, as the command line
    gives it (``edms doc sign`` with ``EDMS_SIGNING_PIN``)."""
    from edms.auth import DEV_SIGNING_PIN, PinConfirmation
    from edms.documents import sign as sign_step

    return sign_step(system, actor, doc_id, confirm=PinConfirmation(DEV_SIGNING_PIN), **kw)
