"""The look and the words of the pages: what every template may use to show a person plain
Vietnamese instead of the codes the services speak.

Invariants:

* Nothing here changes what a view passes to its template; these are template filters and
  one context processor that adds names (``site_name``, ``asset``) the templates read.
* Every filter takes what the services give (a signature level such as ``B-LT``, a
  bilingual message ``"tiếng Việt / English"``, an exchange status code ``"01"``) and
  returns Vietnamese only; an unknown value is returned as it came (never dropped), so a
  new code shows up on the page rather than vanishing.
* The header shows the signed-in person's agency; for anonymous visitors the agency that
  runs the site (the one agency with user accounts), else a plain description. The name is
  read at most once a minute per process.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from flask import current_app, g, url_for

from edms import accounts
from edms.exchange.edxml import STATUS_CODES

from ..context import system
from .views import bp

# The signature levels of ETSI EN 319 142 (PAdES), said as what they mean for the reader.
LEVEL_VI = {
    "B-B": "chữ ký cơ bản",
    "B-T": "có dấu thời gian",
    "B-LT": "có dữ liệu kiểm tra dài hạn",
    "B-LTA": "có dữ liệu kiểm tra dài hạn và dấu thời gian lưu trữ",
}
GENERIC_SITE = "Hệ thống quản lý văn bản và hồ sơ công việc"

# "VIỆT / ENGLISH: rest" (a headline in both languages, then the reason)
_HEADLINE = re.compile(r"^(?P<vi>[^/:]+?) / (?P<en>[A-Za-z][A-Za-z ,'()-]*): (?P<rest>.*)$", re.S)
_CODE = re.compile(r"^(?:PAdES-)?(B-(?:B|T|LT|LTA))$")


def _sentence(text: str) -> str:
    """An all-capitals headline ("ĐÃ BỊ THAY ĐỔI SAU KHI KÝ") as a sentence."""
    if text.isupper():
        return text[:1] + text[1:].lower()
    return text


@bp.app_template_filter("vi")
def vietnamese(message: Any) -> str:
    """The Vietnamese part of a bilingual message (``"tiếng Việt / English"``), the
    headline said once: ``"ĐÃ BỊ THAY ĐỔI SAU KHI KÝ / CHANGED AFTER SIGNING: lý do / why"``
    → ``"Đã bị thay đổi sau khi ký: lý do"``."""
    if message is None:
        return ""
    text = str(message)
    m = _HEADLINE.match(text)
    if m:
        rest = vietnamese(m.group("rest"))
        return f"{_sentence(m.group('vi').strip())}: {rest}" if rest else _sentence(m["vi"])
    head = text.split(" / ")[0].strip()
    return _sentence(head) if " / " in text else head


# Letters only Vietnamese has: a message without any is taken as English (the services'
# refusals are English; what a person reads is not).
_VI_LETTERS = re.compile(
    r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]", re.I
)
_ENGLISH_WORDS = re.compile(r"[A-Za-z]{2,}")
_PLAIN = (
    (
        ("not found", "no such", "unknown "),
        "Không tìm thấy nội dung bạn yêu cầu, hoặc bạn không có quyền xem.",
    ),
    (
        ("may not", "not allowed", "forbidden", "permission", "not permitted", "needs the"),
        "Bạn không có quyền thực hiện việc này.",
    ),
    (("too large", "too big", "too many pages"), "Tệp quá lớn để xử lý."),
    (
        ("timed out", "unavailable", "could not reach", "connection"),
        "Dịch vụ liên quan tạm thời không trả lời; vui lòng thử lại sau.",
    ),
    (
        ("already", "state", "cannot", "can't", "no longer"),
        "Việc này không thực hiện được ở tình trạng hiện tại của văn bản, hồ sơ.",
    ),
    (
        ("invalid", "must", "required", "missing", "not a ", "expected"),
        "Thông tin nhập vào chưa đúng; vui lòng kiểm tra lại.",
    ),
)


def _english(text: str) -> bool:
    return not _VI_LETTERS.search(text) and len(_ENGLISH_WORDS.findall(text)) >= 2


@bp.app_template_filter("said")
def said(message: Any) -> str:
    """A message for a person: its Vietnamese part, or, for a message the services left in
    English, a plain Vietnamese sentence of what happened (the original is
    :func:`said_detail`, shown folded as the technical detail)."""
    text = vietnamese(message)
    if not _english(text):
        return text
    low = text.lower()
    for needles, sentence in _PLAIN:
        if any(n in low for n in needles):
            return sentence
    return "Không thực hiện được yêu cầu."


@bp.app_template_filter("said_detail")
def said_detail(message: Any) -> str:
    """The original of a message :func:`said` replaced (else empty)."""
    text = vietnamese(message)
    return str(message) if _english(text) else ""


@bp.app_template_filter("level_vi")
def level_vi(level: Any) -> str:
    """``B-LT`` (or ``PAdES-B-LT``) → ``có dữ liệu kiểm tra dài hạn``."""
    m = _CODE.match(str(level or "").strip())
    return LEVEL_VI[m.group(1)] if m else str(level or "")


@bp.app_template_filter("exchange_status")
def exchange_status(code: Any) -> str:
    """An exchange status code (edXML ``StatusCode``, ``"01"``…) as what it says."""
    key = str(code or "").strip()
    return STATUS_CODES.get(key, key)


_TONES = {
    "ok": (
        "issued",
        "completed",
        "registered",
        "sealed",
        "signed",
        "verified",
        "result_ready",
        "returned_result",
        "done",
    ),
    "bad": ("revoked", "returned", "rejected", "refused", "failed", "replaced"),
    "warn": ("submitted", "approved", "numbered", "received", "assigned", "in_progress"),
}


@bp.app_template_filter("tone")
def tone(state: Any) -> str:
    """The badge colour of a state: ``ok`` (done), ``bad`` (stopped), ``warn`` (waiting for
    someone), ``info`` otherwise."""
    key = str(state or "")
    for name, states in _TONES.items():
        if key in states:
            return name
    return "info"


_site_cache: dict[str, tuple[float, str]] = {}


def _hosting_agency() -> str:
    """The agency that runs this site (:func:`edms.accounts.hosting_agency`), read at most
    once a minute per process."""
    key = str(id(current_app))
    hit = _site_cache.get(key)
    now = time.monotonic()
    if hit and now - hit[0] < 60:
        return hit[1]
    try:
        name = accounts.hosting_agency(system()) or GENERIC_SITE
    except Exception:  # the header never breaks a page (an error page included)
        name = GENERIC_SITE
    _site_cache[key] = (now, name)
    return name


_STATIC = Path(__file__).resolve().parent / "static"


def asset(filename: str) -> str:
    """The URL of a static file of the look, with its modification time as version (so a
    new style reaches browsers at once; the files themselves may be cached)."""
    path = _STATIC / filename
    version = int(path.stat().st_mtime) if path.exists() else 0
    return url_for("web.static", filename=filename, v=version)


@bp.app_context_processor
def _look() -> dict[str, Any]:
    user = getattr(g, "user", None)
    site = str(user["agency"]) if user and user.get("agency") else _hosting_agency()
    return {"site_name": site, "asset": asset, "LEVEL_VI": LEVEL_VI}
