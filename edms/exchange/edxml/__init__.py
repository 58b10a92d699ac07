"""edXML packages (QCVN 102:2016) as the national and provincial exchange axes write and read
them: one builder (:func:`build`) and one parser (:func:`parse`) over typed dataclasses, for
documents (business types 0 new, 1 revoke, 2 update, 3 replace) and status packets (codes
01–06, 13, 15, 16); plus our signed receipts.

**The writer follows the VNPT EdXML102 library** (the software of the national axis), whose
packages are in ``/work/shared/corpus/edxml``: namespace ``http://www.mic.gov.vn/TBT/QCVN_102_2016``
with the ``edXML`` prefix on every element, UTF-8, and the library's element order::

    edXML
      edXMLEnvelope
        edXMLHeader
          MessageHeader        document: From, To*, DocumentId, Code, PromulgationInfo,
                               DocumentType{Type, TypeDetail, TypeName}, Subject, Content,
                               SignerInfo{Competence, Position, FullName}, DueDate,
                               OtherInfo{..., Direction, Appendixes}, ResponseFor*,
                               SteeringType, ToPlaces
                               status: From, ResponseFor, StaffInfo, StatusCode,
                               Description, Timestamp
          TraceHeaderList      (documents; attributes id, version, mustUnderstand, actor)
            TraceHeader*, Bussiness
          ds:Signature         (XML-DSig over the whole package, added by the caller)
        edXMLBody              (documents only: a status packet has no body)
          edXMLManifest version="1.0"
            Reference xlink:href="cid:X" {ContentId "cid:X", ContentType, Description,
                                          AttachmentName}
      AttachmentEncoded
        Attachment {ContentId "cid:X", AttachmentName, Description, ContentType,
                    ContentTransferEncoded (base64)}

**The reader is liberal in what it accepts and exact in what it refuses.** It does not depend
on prefixes (elements in the QCVN namespace or in none), nor on element order; it takes the
VNPT and Bkav spellings alike (``Bussiness``/``Business``, ``OrganizationInCharge``/
``OrganInCharge``); it tells a status packet from a document by what its ``MessageHeader``
holds (``StatusCode``, or ``ResponseFor`` without ``To``/``Code``), and also reads the
``Status`` header older EDMS versions wrote; a manifest reference names its attachment by its
``ContentId`` child (or, failing that, its ``xlink:href``), with or without ``cid:``. What
cannot be represented is refused with a :class:`PackageRefused` naming the element: a
missing required field, a date that is not a date, an unknown status code, attachments that
do not match the manifest or are not base64. Whether a well-formed package is *acceptable*
(identifier formats, the DocumentId naming the sender, reasons for 02/16, …) is a separate
question answered by :func:`refusals`; :func:`notes` lists tolerated inconsistencies.

Before any tree is built, :func:`screen` refuses packages over the size limit and any DTD
(hence external entities and entity-expansion bombs), and names what is malformed.

Modules: :mod:`.model` (the dataclasses, codes and formats), :mod:`.writer`,
:mod:`.reading` (screening and field readers), :mod:`.parsing` (parse, routing,
acceptability); every name is re-exported here.
"""

from __future__ import annotations

from .model import (
    BUSINESS_REASONS,
    BUSINESS_TYPES,
    DECISION20_CODE,
    DOCUMENT_ID,
    NS,
    NSMAP,
    QCVN_CODE,
    RECEIPT_NS,
    STATUS_CODES,
    TRACE_ACTOR,
    TYPE_ADMINISTRATIVE,
    XLINK_NS,
    Attachment,
    Business,
    DocumentInfo,
    DocumentPackage,
    Organ,
    PackageRefused,
    PackageTooLarge,
    Packet,
    Receipt,
    Receiver,
    Replacement,
    ResponseFor,
    Routing,
    StaffInfo,
    StatusPacket,
    TraceHeader,
    document_id,
    valid_agency_code,
)
from .parsing import (
    check_document_key,
    notes,
    parse,
    refusals,
    routing,
)
from .reading import (
    header_of,
    read_receipt,
    screen,
)
from .writer import (
    build,
    build_receipt,
    serialize,
)

__all__ = [
    "BUSINESS_REASONS",
    "BUSINESS_TYPES",
    "DECISION20_CODE",
    "DOCUMENT_ID",
    "NS",
    "NSMAP",
    "QCVN_CODE",
    "RECEIPT_NS",
    "STATUS_CODES",
    "TRACE_ACTOR",
    "TYPE_ADMINISTRATIVE",
    "XLINK_NS",
    "Attachment",
    "Business",
    "DocumentInfo",
    "DocumentPackage",
    "Organ",
    "PackageRefused",
    "PackageTooLarge",
    "Packet",
    "Receipt",
    "Receiver",
    "Replacement",
    "ResponseFor",
    "Routing",
    "StaffInfo",
    "StatusPacket",
    "TraceHeader",
    "build",
    "build_receipt",
    "check_document_key",
    "document_id",
    "header_of",
    "notes",
    "parse",
    "read_receipt",
    "refusals",
    "routing",
    "screen",
    "serialize",
    "valid_agency_code",
]
