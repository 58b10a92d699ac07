"""The signing authority of one document (Decree 30, Art. 13; Appendix I, II.7): in whose
name the competent person signs, chosen by the leader when signing.

* ``TM.`` (thay mặt): on behalf of a collective body (``TM. ỦY BAN NHÂN DÂN``), by its
  head; a deputy signing for the collective adds ``KT.`` under it.
* ``KT.`` (ký thay): a deputy signs in place of the head (``KT. CHỦ TỊCH`` / ``PHÓ CHỦ
  TỊCH``).
* ``Q.`` (quyền): the person acting as head (``Q. CHỦ TỊCH``; no title line of their own).
* ``TL.`` (thừa lệnh) and ``TUQ.`` (thừa ủy quyền): the head of a unit signs by the head's
  order or delegation (``TL. CHỦ TỊCH`` / ``CHÁNH VĂN PHÒNG``).
* No prefix: the head in their own title (``CHỦ TỊCH``).

Invariant: a choice is checked against the leader's position (their title): a head signs
``TM.`` or in their own title, a deputy ``KT.``, ``TM.`` + ``KT.`` or ``Q.``, someone acting
as head ``Q.``, the head of a unit ``TL.`` or ``TUQ.``. Anything else is refused before
anything is signed. The lines chosen go into the signature's appearance and, as
``SignerInfo/Competence``, into the exchange metadata.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from .errors import ClientError

CHOICES = {
    "CV": "ký tên theo chức vụ của mình (người đứng đầu)",
    "TM": "TM. — thay mặt tập thể",
    "TM_KT": "TM. và KT. — cấp phó ký thay mặt tập thể",
    "KT": "KT. — ký thay người đứng đầu",
    "Q": "Q. — quyền người đứng đầu",
    "TL": "TL. — thừa lệnh",
    "TUQ": "TUQ. — thừa ủy quyền",
}
PREFIX = {"TM": "TM.", "KT": "KT.", "Q": "Q.", "TL": "TL.", "TUQ": "TUQ."}
ALLOWED = {
    "head": ("CV", "TM"),
    "deputy": ("KT", "TM_KT", "Q"),
    "acting": ("Q", "TM"),
    "unit": ("TL", "TUQ"),
}
RANK_VI = {
    "head": "người đứng đầu",
    "deputy": "cấp phó",
    "acting": "quyền người đứng đầu",
    "unit": "người đứng đầu đơn vị",
}

# (start of the agency's name, the head's title, the collective body or None)
_HEADS = (
    ("ủy ban nhân dân", "CHỦ TỊCH", "ỦY BAN NHÂN DÂN"),
    ("uỷ ban nhân dân", "CHỦ TỊCH", "ỦY BAN NHÂN DÂN"),
    ("hội đồng nhân dân", "CHỦ TỊCH", "HỘI ĐỒNG NHÂN DÂN"),
    ("văn phòng chính phủ", "BỘ TRƯỞNG, CHỦ NHIỆM", None),
    ("bộ ", "BỘ TRƯỞNG", None),
    ("sở ", "GIÁM ĐỐC", None),
    ("cục ", "CỤC TRƯỞNG", None),
    ("tổng cục ", "TỔNG CỤC TRƯỞNG", None),
    ("ban ", "TRƯỞNG BAN", "BAN"),
    ("trường ", "HIỆU TRƯỞNG", None),
)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip().lower()


@dataclass(frozen=True)
class Agency:
    name: str
    head_title: str
    collective: str | None


def agency_facts(name: str) -> Agency:
    folded = _fold(name)
    for start, head, collective in _HEADS:
        if folded.startswith(start):
            return Agency(name, head, collective)
    return Agency(name, "THỦ TRƯỞNG CƠ QUAN", None)


def rank(title: str, head_title: str) -> str:
    """The leader's position from their title: head, deputy, acting or unit (head of a
    unit of the agency)."""
    t = _fold(title)
    if t.startswith("quyền"):
        return "acting"
    if t.startswith("phó"):
        return "deputy"
    if not t or t == _fold(head_title) or t.split(",")[0] == _fold(head_title).split(",")[0]:
        return "head"
    return "unit"


@dataclass(frozen=True)
class Authority:
    choice: str  # a key of CHOICES
    lines: tuple[str, ...]  # the authority lines above the title line
    title: str  # the signer's own title line ("" when the authority line replaces it)

    @property
    def text(self) -> str:
        """For the appearance: the authority lines, one per line."""
        return "\n".join(self.lines)

    @property
    def competence(self) -> str:
        """SignerInfo/Competence: the authority lines, or the title when there are none."""
        return (" ".join(self.lines) or self.title).upper()[:100]

    @property
    def prefix(self) -> str | None:
        return self.lines[-1].split(" ", 1)[0] if self.lines else None


def parse_choice(value: str) -> str:
    """A choice code (``KT``, ``TM_KT``, ``CV``...), or a written line ``KT. CHỦ TỊCH``,
    ``TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH``, to its code."""
    raw = unicodedata.normalize("NFC", value).strip().upper()
    if raw in CHOICES:
        return raw
    parts = [p.strip() for p in raw.replace("\n", "/").split("/") if p.strip()]
    prefixes = [p.split(" ", 1)[0] for p in parts]
    codes = [code for p in prefixes for code, pre in PREFIX.items() if p in (pre, code)]
    if codes == ["TM", "KT"]:
        return "TM_KT"
    if len(codes) == 1 and len(parts) == 1:
        return codes[0]
    raise ClientError(
        f'thẩm quyền ký "{value.strip()[:60]}" không hợp lệ: chọn một trong TM., KT., '
        "Q., TL., TUQ. (hoặc ký theo chức vụ)"
    )


def resolve(value: str | None, default: str, *, title: str, agency_name: str) -> Authority:
    """The authority for this signature: ``value`` as chosen by the leader (None or "":
    the one bound with their key, ``default``), checked against their position."""
    facts = agency_facts(agency_name)
    position = rank(title, facts.head_title)
    chosen = value if value and value.strip() else default
    choice = (
        parse_choice(chosen)
        if chosen and chosen.strip()
        else ("CV" if position == "head" else ALLOWED[position][0])
    )
    if choice not in ALLOWED[position]:
        allowed = ", ".join(CHOICES[c].split(" — ")[0] for c in ALLOWED[position])
        raise ClientError(
            f'thẩm quyền "{CHOICES[choice].split(" — ")[0]}" không phù hợp với chức vụ '
            f'"{title or "—"}" ({RANK_VI[position]}); được chọn: {allowed}',
            allowed=list(ALLOWED[position]),
        )
    head = facts.head_title
    own = unicodedata.normalize("NFC", title).strip().upper()
    if choice in ("TM", "TM_KT") and facts.collective is None:
        raise ClientError(
            f'"TM." chỉ dùng khi ký thay mặt tập thể; {agency_name} không '
            "phải cơ quan làm việc theo chế độ tập thể",
            allowed=[c for c in ALLOWED[position] if not c.startswith("TM")],
        )
    # a line written out ("KT. CHỦ TỊCH") is kept as written; a code is spelt out
    written = _written_lines(chosen) if chosen and chosen.strip().upper() not in CHOICES else None
    lines: tuple[str, ...]
    if choice == "CV":
        lines = ()
    elif choice == "TM":
        lines = (f"TM. {facts.collective}",)
    elif choice == "TM_KT":
        lines = (f"TM. {facts.collective}", f"KT. {head}")
    elif choice == "Q":
        return Authority(choice, written or (f"Q. {head}",), "")
    else:
        lines = (f"{PREFIX[choice]} {head}",)
    return Authority(choice, written or lines, own or head)


def _written_lines(value: str) -> tuple[str, ...]:
    raw = unicodedata.normalize("NFC", value).strip().upper()
    return tuple(p.strip() for p in raw.replace("\n", "/").split("/") if p.strip())


def options_for(title: str, agency_name: str) -> list[tuple[str, str]]:
    """The choices offered to this leader (web form): (code, label)."""
    facts = agency_facts(agency_name)
    position = rank(title, facts.head_title)
    return [
        (c, CHOICES[c])
        for c in ALLOWED[position]
        if not (c.startswith("TM") and facts.collective is None)
    ]
