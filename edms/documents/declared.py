"""What a received PDF says about itself against what the clerk declared at reception: the
organisation on the signers' certificates against the declared sender, and the number and
symbol printed on the document against the declared ones.

Invariants: only warnings, never a refusal and never a claim of tampering (that is the
signature check's business, :func:`edms.documents.incoming.verify`); a file whose
signatures or text cannot be read gives no warning rather than an error; the signatures
are only read (certificates' subjects), not validated. Names are compared without case
and diacritics (Unicode-normalised), with the usual abbreviations of public bodies
("UBND" ~ "Ủy ban nhân dân").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

MAX_SIGNATURES = 20
# Abbreviations of public bodies, as words after folding (lower case, no diacritics).
ABBREVIATIONS = {
    "ubnd": "uy ban nhan dan",
    "hdnd": "hoi dong nhan dan",
    "ubmttq": "uy ban mat tran to quoc",
    "tp": "thanh pho",
    "tw": "trung uong",
    "vp": "van phong",
    "bhxh": "bao hiem xa hoi",
}
# "Số: 15/QĐ-UBND" near the top of the first page (Decree 30, Appendix I).
_NUMBER = re.compile(r"\bS[ốô]\s*:\s*(\d{1,7})\s*/\s*([\w][\w.\-]*)", re.UNICODE | re.IGNORECASE)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SignerNames:
    """The names on one signer's certificate: organisation (O), unit (OU), common name."""

    organization: str
    unit: str
    common_name: str

    @property
    def shown(self) -> str:
        return self.organization or self.unit or self.common_name


def fold(value: str) -> str:
    """Lower case, no diacritics (NFC or NFD alike), words only: ``Ủy ban`` → ``uy ban``."""
    value = unicodedata.normalize("NFC", value).replace("đ", "d").replace("Đ", "D")
    stripped = "".join(
        c for c in unicodedata.normalize("NFD", value) if unicodedata.category(c) != "Mn"
    )
    return " ".join(_WORD.findall(stripped.lower()))


def organisation_key(name: str) -> str:
    """A body's name for comparison: folded, abbreviations spelt out."""
    return " ".join(ABBREVIATIONS.get(w, w) for w in fold(name).split())


def same_organisation(a: str, b: str) -> bool:
    """Whether two names designate the same body: equal once normalised, or one names it
    more fully than the other (``Sở Nội vụ`` ~ ``Sở Nội vụ tỉnh Tuyên Quang``)."""
    ka, kb = organisation_key(a), organisation_key(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    short, long = sorted((ka, kb), key=len)
    return len(short.split()) >= 3 and f" {short} " in f" {long} "


def signer_names(path: Path) -> list[SignerNames]:
    """The subjects of the certificates that signed the PDF (read, not validated); empty
    when it has none or they cannot be read."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    found: list[SignerNames] = []
    try:
        with open(path, "rb") as f:
            reader = PdfFileReader(f, strict=False)
            for sig in reader.embedded_signatures[:MAX_SIGNATURES]:
                try:
                    subject = sig.signer_cert.subject.native
                except Exception:  # one unreadable signature hides nothing else
                    continue
                found.append(
                    SignerNames(
                        _text(subject.get("organization_name")),
                        _text(subject.get("organizational_unit_name")),
                        _text(subject.get("common_name")),
                    )
                )
    except Exception:  # a warning only: an unreadable file gives none
        return []
    return found


def _text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value if v)
    return str(value or "").strip()


def printed_number(text: str) -> tuple[int, str] | None:
    """The number and symbol printed on the document (``Số: 15/QĐ-UBND``), if readable."""
    m = _NUMBER.search(unicodedata.normalize("NFC", text[:5000]))
    if m is None:
        return None
    return int(m.group(1)), m.group(2).strip(".-")


def differences(
    signers: list[SignerNames], text: str, organ_name: str, code_number: str, code_notation: str
) -> list[str]:
    """Warnings, in Vietnamese, where the file disagrees with what was declared."""
    warnings: list[str] = []
    named = [s for s in signers if s.shown]
    if named and organ_name.strip():
        candidates = [n for s in named for n in (s.organization, s.unit, s.common_name) if n]
        if not any(same_organisation(c, organ_name) for c in candidates):
            shown = "; ".join(dict.fromkeys(s.shown for s in named))
            warnings.append(
                f"Tổ chức ký văn bản ({shown}) khác với cơ quan gửi đã khai "
                f"({organ_name.strip()}): đề nghị kiểm tra lại trước khi vào sổ."
            )
    printed = printed_number(text)
    declared = f"{code_number.strip()}/{code_notation.strip()}".strip("/")
    if printed is not None and declared:
        number, notation = printed
        same_number = code_number.strip().isdigit() and int(code_number.strip()) == number
        same_notation = fold(notation).replace(" ", "") == fold(code_notation).replace(" ", "")
        if not (same_number and same_notation):
            warnings.append(
                f"Số, ký hiệu trên văn bản ({number:02d}/{notation}) khác với số đã khai "
                f"({declared}): đề nghị kiểm tra lại."
            )
    return warnings


def check_declared(
    path: Path, text: str, organ_name: str, code_number: str, code_notation: str
) -> list[str]:
    """:func:`differences` for a received file."""
    return differences(signer_names(path), text, organ_name, code_number, code_notation)
