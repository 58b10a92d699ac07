"""What an edXML package says, as typed dataclasses (documents, status packets, our
receipts), with the namespaces, codes and identifier formats of QCVN 102:2016.

Invariants: the dataclasses hold only what the writer can write and the reader can read
back (a document written and parsed again compares equal); :class:`PackageRefused` and
:class:`PackageTooLarge` are the only errors the reader raises for a package.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TypeAlias

from ...errors import ClientError

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"


XLINK_NS = "http://www.w3.org/1999/xlink"


RECEIPT_NS = "urn:edms:exchange:receipt:1"


TRACE_ACTOR = "http://schemas.xmlsoap.org/soap/actor/next"


NSMAP = {"edXML": NS}


BUSINESS_TYPES = {0: "new", 1: "revoke", 2: "update", 3: "replace"}


BUSINESS_REASONS = {
    0: "Văn bản điện tử mới",
    1: "Thu hồi văn bản điện tử",
    2: "Cập nhật văn bản điện tử",
    3: "Văn bản thay thế",
}


STATUS_CODES = {
    "01": "Đã đến",
    "02": "Từ chối tiếp nhận",
    "03": "Đã tiếp nhận, vào sổ",
    "04": "Đã phân công xử lý",
    "05": "Đang xử lý",
    "06": "Hoàn thành",
    "13": "Đề nghị thu hồi",
    "15": "Đồng ý thu hồi/cập nhật",
    "16": "Từ chối thu hồi/cập nhật",
}


# DocumentType/Type: the category (1 legal normative, 2 administrative); TypeDetail: the
# Decree-30 type's number; TypeName: its name (what receivers match on).
TYPE_ADMINISTRATIVE = 2


QCVN_CODE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")


DECISION20_CODE = re.compile(r"^[A-Z]\d{2}(\.[A-Z0-9]{1,10})*$")


DOCUMENT_ID = re.compile(
    r"^(?P<organ>[A-Z0-9.]{1,35}),(?P<date>\d{4}/\d{2}/\d{2}),"
    r"(?P<number>[^,/]{1,11})/(?P<symbol>[^,]{1,30})$"
)


class PackageRefused(ClientError):
    """The package cannot be taken: malformed, hostile, unsigned or not for us."""

    status = 422
    title = "Package refused"
    type_slug = "package-refused"


class PackageTooLarge(PackageRefused):
    status = 413
    title = "Package too large"
    type_slug = "package-too-large"


def valid_agency_code(code: str) -> bool:
    """Either form (§7): QCVN 102 ``000.00.00.H41`` or Decision 20 ``H37.02.02``."""
    return len(code) <= 35 and bool(QCVN_CODE.match(code) or DECISION20_CODE.match(code))


def document_id(organ_id: str, issued: date, number: str, symbol: str) -> str:
    return f"{organ_id},{issued:%Y/%m/%d},{number}/{symbol}"


@dataclass(frozen=True)
class Organ:
    """An agency as in ``From`` / ``To``."""

    organ_id: str
    organ_name: str
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    website: str = ""  # its public website, never an internal address
    fax: str = ""
    in_charge: str = ""  # OrganizationInCharge: the governing body


@dataclass(frozen=True)
class Attachment:
    content_id: str  # without "cid:"
    name: str
    content_type: str
    data: bytes
    description: str = ""

    @property
    def cid(self) -> str:
        return f"cid:{self.content_id}"


@dataclass(frozen=True)
class ResponseFor:
    """The document a reply or a status packet answers."""

    organ_id: str
    code: str  # "Số/KýHiệu"
    document_key: str  # its DocumentId
    promulgation_date: date | None = None


@dataclass(frozen=True)
class StaffInfo:
    department: str = ""
    staff: str = ""
    email: str = ""
    mobile: str = ""


@dataclass(frozen=True)
class TraceHeader:
    organ_id: str
    timestamp: datetime


@dataclass(frozen=True)
class Receiver:
    organ_id: str
    receiver_type: int  # VNPT: 0 removed from, 1 added to the recipients (update)


@dataclass(frozen=True)
class DocumentInfo:
    """BussinessDocumentInfo of an update: what changed."""

    document_info: str = "0"  # "1": the metadata changed
    document_receiver: str = "0"  # "1": the recipients changed
    receivers: tuple[Receiver, ...] = ()


@dataclass(frozen=True)
class Replacement:
    document_key: str  # the DocumentId replaced
    organ_ids: tuple[str, ...] = ()  # the recipients it is replaced for


@dataclass(frozen=True)
class Business:
    doc_type: int = 0  # BUSINESS_TYPES
    reason: str = ""
    document_key: str = ""  # Bussiness/DocumentId (the document an update concerns)
    paper: int = 0  # 1: a paper copy follows
    staff: StaffInfo | None = None
    document_info: DocumentInfo | None = None
    replacements: tuple[Replacement, ...] = ()


@dataclass(frozen=True)
class DocumentPackage:
    sender: Organ
    to: tuple[Organ, ...]
    document_key: str  # DocumentId
    code_number: str
    code_notation: str
    place: str
    promulgation_date: date
    type_name: str
    subject: str
    type_code: int = TYPE_ADMINISTRATIVE
    type_detail: int = 0
    content: str = ""
    signer_competence: str = ""  # TM. / KT. / Q. / TL. / TUQ. line, or the title line
    signer_position: str = ""
    signer_name: str = ""
    due_date: date | None = None
    priority: int = 0
    sphere: str = ""  # SphereOfPromulgation
    typer_notation: str = ""
    promulgation_amount: int = 0
    page_amount: int = 0
    direction: bool = False
    appendixes: tuple[str, ...] = ()
    response_for: tuple[ResponseFor, ...] = ()
    steering_type: int = 0
    to_places: tuple[str, ...] = ()
    traces: tuple[TraceHeader, ...] = ()
    business: Business = field(default_factory=Business)
    attachments: tuple[Attachment, ...] = ()

    kind = "document"

    @property
    def business_type(self) -> int:
        return self.business.doc_type

    @property
    def replaces_key(self) -> str | None:
        return self.business.replacements[0].document_key if self.business.replacements else None

    @property
    def sent_at(self) -> datetime:
        """When the sender sent it: its own trace, else the last one."""
        own = [t for t in self.traces if t.organ_id == self.sender.organ_id]
        chosen = own or list(self.traces)
        return chosen[-1].timestamp if chosen else datetime.now(UTC)


@dataclass(frozen=True)
class StatusPacket:
    sender: Organ  # who reports the status
    response_for: ResponseFor  # the document it is about
    status_code: str
    description: str = ""
    staff: StaffInfo = field(default_factory=StaffInfo)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    kind = "status"

    @property
    def document_key(self) -> str:
        return self.response_for.document_key

    @property
    def issuer(self) -> str:
        """The agency that issued the document, from its DocumentId (authoritative; a
        ResponseFor/OrganId that disagrees is a note, see :func:`notes`)."""
        m = DOCUMENT_ID.match(self.document_key)
        return m["organ"] if m else self.response_for.organ_id


Packet: TypeAlias = DocumentPackage | StatusPacket


@dataclass(frozen=True)
class Receipt:
    receiver: str
    sender: str
    document_key: str
    package_sha256: str
    received_at: datetime
    result: str  # accepted


@dataclass(frozen=True)
class Routing:
    """What the header says before the signature is checked: enough to find the
    addressee's directory entry for the sender. Never trusted beyond that."""

    kind: str
    sender: str
    to: tuple[str, ...]  # documents
    document_key: str  # DocumentId (document) or ResponseFor/DocumentId (status)
    status_code: str = ""
