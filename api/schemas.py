"""Request and response schemas of ``/api/v1`` (marshmallow, via APIFlask): requests are
validated against them, and the OpenAPI document is generated from them."""

from __future__ import annotations

from apiflask import Schema, fields
from apiflask.schemas import FileSchema
from apiflask.validators import Length, OneOf, Range
from marshmallow import EXCLUDE, INCLUDE

from edms.accounts import ROLES
from edms.auth import SCOPES

LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
# A file answered as it is (a PDF, a ZIP): `type: string, format: binary` in OpenAPI.
BINARY = FileSchema(type="string", format="binary")


class _In(Schema):
    class Meta:
        unknown = EXCLUDE


class Problem(Schema):
    """RFC 7807 problem details (extension members allowed, e.g. `limit`, `size`)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String()
    errors = fields.Dict(metadata={"description": "Per-field validation messages."})


# -- auth -------------------------------------------------------------------------------------


class LoginIn(_In):
    username = fields.String(required=True, validate=Length(1, 60))
    password = fields.String(required=True, validate=Length(1, 200))


class UserOut(Schema):
    username = fields.String(required=True)
    full_name = fields.String(required=True)
    title = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    agency = fields.String(required=True)
    unit = fields.String(allow_none=True)


class SessionOut(Schema):
    user = fields.Nested(UserOut, required=True)
    csrf_token = fields.String(required=True)
    expires_at = fields.String(required=True)


class TokenIn(_In):
    name = fields.String(required=True, validate=Length(1, 100))
    scopes = fields.List(
        fields.String(validate=OneOf(SCOPES)), required=True, validate=Length(1, len(SCOPES))
    )
    days = fields.Integer(load_default=90, validate=Range(1, 730))
    user = fields.String(
        validate=Length(1, 60), metadata={"description": "Admins: create it for this user."}
    )


class TokenOut(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    created_at = fields.String(required=True)
    expires_at = fields.String(required=True)
    revoked_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True)
    token = fields.String(metadata={"description": "Shown once, at creation."})


class TokenList(Schema):
    items = fields.List(fields.Nested(TokenOut), required=True)


# -- documents ----------------------------------------------------------------------------------


class RecipientSchema(_In):
    name = fields.String(required=True, validate=Length(1, 200))
    organ_id = fields.String(allow_none=True, validate=Length(0, 35))


class DocumentOut(Schema):
    id = fields.Integer(required=True)
    direction = fields.String(required=True)
    state = fields.String(required=True)
    state_vi = fields.String(required=True)
    version = fields.Integer(required=True)
    type = fields.String(required=True)
    subject = fields.String(required=True)
    description = fields.String(required=True)
    code_number = fields.String(allow_none=True)
    code_notation = fields.String(allow_none=True)
    number_and_symbol = fields.String(allow_none=True)
    issued_date = fields.String(allow_none=True)
    organ_id = fields.String(allow_none=True)
    organ_name = fields.String(required=True)
    signer = fields.Dict(required=True)
    recipients = fields.List(fields.Dict(), required=True)
    priority = fields.Integer(required=True)
    secrecy = fields.Integer(required=True)
    page_amount = fields.Integer(allow_none=True)
    issued_amount = fields.Integer(allow_none=True)
    due_date = fields.String(allow_none=True)
    arrival_number = fields.Integer(allow_none=True)
    arrival_at = fields.String(allow_none=True)
    completed_at = fields.String(allow_none=True)
    sent_at = fields.String(allow_none=True)
    frozen = fields.Boolean(required=True)
    frozen_reason = fields.String(allow_none=True)
    legal_hold = fields.Boolean(required=True)
    retain_until = fields.String(allow_none=True)
    replaces_id = fields.Integer(allow_none=True)
    response_for_id = fields.Integer(allow_none=True)
    dossier_id = fields.Integer(allow_none=True)
    designated_signer_id = fields.Integer(allow_none=True)
    approver_ids = fields.List(fields.Integer())
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    warnings = fields.List(fields.String())


class FileOut(Schema):
    id = fields.Integer(required=True)
    role = fields.String(required=True)
    stage = fields.String(required=True)
    name = fields.String(required=True)
    sha256 = fields.String(required=True)
    attachment_of = fields.Integer(allow_none=True)
    created_at = fields.String(required=True)


class DocumentView(DocumentOut):
    files = fields.List(fields.Nested(FileOut), required=True)
    signatures = fields.List(fields.Dict(), required=True)
    history = fields.List(fields.Dict(), required=True)
    assignment = fields.Dict(allow_none=True, required=True)
    digitized = fields.Dict(allow_none=True, required=True)
    validation = fields.Dict(allow_none=True, required=True)
    report = fields.Dict(metadata={"description": "Validation report of the step's result."})
    designated_signer = fields.Dict(
        allow_none=True,
        metadata={"description": "The leader who signs: id, full_name, title (null: any)."},
    )
    approvers = fields.List(
        fields.Dict(allow_none=True), metadata={"description": "Who approves first, in order."}
    )
    waiting_for = fields.Dict(
        allow_none=True, metadata={"description": "The person the draft waits for now."}
    )
    created_by = fields.Dict(allow_none=True)


class DocumentPage(Schema):
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    items = fields.List(fields.Nested(DocumentOut), required=True)


class _DraftFields(_In):
    """Metadata of an outgoing draft (Appendix VI), uploaded or from the template."""

    type = fields.String(required=True, validate=Length(1, 30))
    subject = fields.String(required=True, validate=Length(1, 500))
    drafting_unit = fields.String(validate=Length(1, 30))
    priority = fields.Integer(load_default=0, validate=Range(0, 3))
    secrecy = fields.Integer(load_default=0, validate=Range(0, 3))
    due_date = fields.Date()
    issued_amount = fields.Integer(validate=Range(1, 999))
    description = fields.String(load_default="", validate=Length(0, 500))
    response_for_id = fields.Integer(validate=Range(1, 2**31 - 1))
    designated_signer = fields.String(
        validate=Length(1, 60),
        metadata={"description": "The leader who signs (user name); only they may sign."},
    )
    approvers = fields.List(
        fields.String(validate=Length(1, 60)),
        load_default=list,
        validate=Length(0, 20),
        metadata={"description": "Who approves before the signer, in order (user names)."},
    )


class DraftForm(_DraftFields):
    to = fields.List(
        fields.String(validate=Length(1, 250)),
        load_default=list,
        metadata={"description": "Recipients: 'Name' or 'ORGANID=Name'."},
    )


class FileUpload(_In):
    file = fields.File(required=True, metadata={"description": "A PDF."})


class DraftUpload(DraftForm):
    file = fields.File(
        required=True,
        metadata={
            "description": (
                "The draft: a PDF (with or without the SoKyHieu/NgayThang fields), a Word .docx "
                "or an OpenDocument .odt file (converted to PDF). Without fields, the places of "
                "the number, the date and the signature are found from the text; a 422 names the "
                "missing line and `looked` where the System looked."
            )
        },
    )


class TemplateDraftIn(_DraftFields):
    body = fields.List(
        fields.String(validate=Length(1, 5000)),
        load_default=list,
        validate=Length(0, 200),
        metadata={"description": ("Paragraphs; 'Căn cứ ...' and 'Điều 1. ...' are recognised.")},
    )
    recipients = fields.List(fields.Nested(RecipientSchema), load_default=list)
    parent = fields.String(
        validate=Length(1, 200),
        metadata={"description": "The governing body above the issuer (cơ quan chủ quản)."},
    )
    authority_line = fields.String(
        validate=Length(0, 300),
        metadata={
            "description": "A decision's issuing authority, e.g. 'CHỦ TỊCH ỦY BAN NHÂN DÂN "
            "TỈNH TUYÊN QUANG' (default for a Quyết định: head and issuer)."
        },
    )
    bases = fields.List(
        fields.String(validate=Length(1, 2000)),
        load_default=list,
        validate=Length(0, 50),
        metadata={"description": "Căn cứ lines."},
    )
    articles = fields.List(
        fields.String(validate=Length(1, 5000)),
        load_default=list,
        validate=Length(0, 200),
        metadata={"description": "Articles; numbered 'Điều N.' if not."},
    )
    addressees = fields.List(
        fields.String(validate=Length(1, 250)),
        load_default=list,
        validate=Length(0, 50),
        metadata={"description": "Kính gửi (công văn); default: recipients."},
    )


class IncomingForm(_In):
    type = fields.String(required=True, validate=Length(1, 30))
    subject = fields.String(required=True, validate=Length(1, 500))
    organ_name = fields.String(required=True, validate=Length(1, 200))
    organ_id = fields.String(validate=Length(1, 35))
    number = fields.String(required=True, validate=Length(1, 11))
    notation = fields.String(required=True, validate=Length(1, 30))
    issued_date = fields.Date(required=True)
    due_date = fields.Date()
    priority = fields.Integer(load_default=0, validate=Range(0, 3))
    secrecy = fields.Integer(load_default=0, validate=Range(0, 3))
    signer_name = fields.String(load_default="", validate=Length(0, 50))
    signer_position = fields.String(load_default="", validate=Length(0, 100))
    to_places = fields.String(load_default="", validate=Length(0, 1000))


class IncomingUpload(IncomingForm):
    file = fields.File(required=True, metadata={"description": "The received PDF."})


class NoteIn(_In):
    note = fields.String(load_default="", validate=Length(0, 2000))


class ReasonIn(_In):
    reason = fields.String(required=True, validate=Length(1, 2000))


class RegisterStepIn(_In):
    note = fields.String(load_default="", validate=Length(0, 2000))
    holder = fields.String(load_default="", validate=Length(0, 200))


class SignIn(_In):
    authority = fields.String(
        validate=Length(0, 100),
        metadata={
            "description": (
                "sign: the signing authority for this document, checked against your position: "
                "TM, TM_KT, KT, Q, TL, TUQ, CV (own title), or the line itself ('KT. CHỦ TỊCH'). "
                "Default: what the draft's signature block prints, else the one bound with your "
                "key. seal: not used."
            )
        },
    )
    level = fields.String(validate=OneOf(LEVELS))
    pin = fields.String(
        validate=Length(1, 12),
        load_only=True,
        metadata={
            "description": "sign: the leader's signing PIN (required; wrong PINs make further "
            "attempts wait). seal: not used."
        },
    )


class SigningPinIn(_In):
    password = fields.String(
        required=True, validate=Length(1, 200), metadata={"description": "Your current password."}
    )
    pin = fields.String(
        required=True,
        validate=Length(6, 12),
        metadata={"description": "The new signing PIN: 6 to 12 digits."},
    )


class AssignIn(_In):
    lead_unit = fields.String(
        load_default="",
        validate=Length(0, 30),
        metadata={"description": "Lead unit code; may be left out when lead_user is given."},
    )
    co_units = fields.List(
        fields.String(validate=Length(1, 30)), load_default=list, validate=Length(0, 50)
    )
    lead_user = fields.String(
        load_default="",
        validate=Length(0, 60),
        metadata={"description": "The person in charge (user name); implies his unit."},
    )
    co_users = fields.List(
        fields.String(validate=Length(1, 60)),
        load_default=list,
        validate=Length(0, 50),
        metadata={"description": "Co-operating people (user names)."},
    )
    instruction = fields.String(load_default="", validate=Length(0, 2000))
    deadline = fields.Date()


class HoldIn(_In):
    on = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=Length(1, 2000))


class RemotePrepareIn(_In):
    certificate_chain = fields.List(
        fields.String(validate=Length(1, 20000)),
        required=True,
        validate=Length(1, 10),
        metadata={"description": "PEM certificates: the signer's first, then its CAs."},
    )
    authority = fields.String(validate=Length(0, 100))
    level = fields.String(validate=OneOf(LEVELS))


class RemotePrepareOut(Schema):
    session_id = fields.String(required=True)
    signed_attributes = fields.String(required=True, metadata={"description": "Base64 DER (CMS)."})
    digest = fields.String(
        required=True, metadata={"description": "Base64 SHA-256 of signed_attributes: sign this."}
    )
    digest_algorithm = fields.String(required=True)
    signature_algorithm = fields.String(required=True)
    expires_at = fields.String(required=True)


class RemoteFinalizeIn(_In):
    signature = fields.String(
        required=True, validate=Length(1, 4096), metadata={"description": "Base64 signature value."}
    )


class VerifyOut(Schema):
    valid = fields.Boolean(required=True)
    changed_after_signing = fields.Boolean(required=True)
    report = fields.Dict(required=True)


class DigitizeUpload(_In):
    files = fields.List(
        fields.File(),
        required=True,
        validate=Length(1, 500),
        metadata={
            "description": "The scans, in page order (PDF, JPEG, PNG, TIFF; a .zip is unpacked)."
        },
    )
    dossier_code = fields.String(required=True, validate=Length(1, 50))
    original_type = fields.String(required=True, validate=Length(1, 200))
    procedure_code = fields.String(load_default="", validate=Length(0, 50))
    result_code = fields.String(load_default="", validate=Length(0, 50))
    holder_name = fields.String(load_default="", validate=Length(0, 100))
    original_number = fields.String(load_default="", validate=Length(0, 50))
    original_date = fields.Date()
    subject = fields.String(load_default="", validate=Length(0, 500))
    copy_type = fields.String(
        load_default="SAO Y", validate=OneOf(("SAO Y", "SAO LỤC", "TRÍCH SAO"))
    )
    with_qr = fields.Boolean(load_default=True)


# -- lists, search, registers, dossiers, tracking -------------------------------------------------


class ListQuery(_In):
    direction = fields.String(validate=OneOf(("outgoing", "incoming")))
    state = fields.List(fields.String(validate=Length(1, 16)), load_default=list)
    page = fields.Integer(load_default=1, validate=Range(1, 100000))
    per_page = fields.Integer(load_default=20, validate=Range(1, 100))


class SearchQuery(_In):
    q = fields.String(load_default="", validate=Length(0, 500))
    type = fields.String(validate=Length(1, 30))
    register = fields.String(validate=OneOf(("outgoing", "incoming", "copies", "secret")))
    state = fields.String(validate=Length(1, 16))
    direction = fields.String(validate=OneOf(("outgoing", "incoming")))
    organ = fields.String(validate=Length(1, 200))
    since = fields.Date()
    until = fields.Date()
    page = fields.Integer(load_default=1, validate=Range(1, 100000))
    per_page = fields.Integer(load_default=20, validate=Range(1, 100))


class RegisterQuery(_In):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    format = fields.String(load_default="json", validate=OneOf(("json", "csv", "pdf")))


class RegisterOut(Schema):
    kind = fields.String(required=True)
    title = fields.String(required=True)
    columns = fields.List(fields.String(), required=True)
    rows = fields.List(fields.List(fields.String()), required=True)


class DeadlineQuery(_In):
    within = fields.Integer(load_default=3, validate=Range(0, 365))


class DeadlinesOut(Schema):
    today = fields.String(required=True)
    near = fields.List(fields.Dict(), required=True)
    overdue = fields.List(fields.Dict(), required=True)


class StatsQuery(_In):
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)


class StatsOut(Schema):
    units = fields.List(fields.Dict(), required=True)


class DossierIn(_In):
    file_code = fields.String(required=True, validate=Length(1, 60))
    title = fields.String(required=True, validate=Length(1, 500))
    retention_years = fields.Integer(allow_none=True, load_default=None, validate=Range(1, 200))
    description = fields.String(load_default="", validate=Length(0, 500))


class DossierOut(Schema):
    file_code = fields.String(required=True)
    title = fields.String(required=True)
    maintenance = fields.String(required=True)
    start_date = fields.String(allow_none=True)
    end_date = fields.String(allow_none=True)
    documents = fields.List(fields.Integer(), required=True)


class DossierAddIn(_In):
    document_ids = fields.List(
        fields.Integer(validate=Range(1, 2**31 - 1)), required=True, validate=Length(1, 1000)
    )


# -- admin, audit, agencies, jobs ---------------------------------------------------------------


class UserIn(_In):
    username = fields.String(required=True, validate=Length(1, 60))
    full_name = fields.String(required=True, validate=Length(1, 100))
    roles = fields.List(
        fields.String(validate=OneOf(ROLES)), required=True, validate=Length(1, len(ROLES))
    )
    title = fields.String(load_default="", validate=Length(0, 100))
    unit = fields.String(validate=Length(1, 30))
    password = fields.String(validate=Length(10, 200))


class UserList(Schema):
    items = fields.List(fields.Nested(UserOut), required=True)


class AgencyOut(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    abbreviation = fields.String(required=True)


class AgencyList(Schema):
    items = fields.List(fields.Nested(AgencyOut), required=True)


class AuditQuery(_In):
    object_type = fields.String(validate=Length(1, 40))
    object_id = fields.String(validate=Length(1, 80))
    page = fields.Integer(load_default=1, validate=Range(1, 100000))
    per_page = fields.Integer(load_default=50, validate=Range(1, 500))


class AuditEventOut(Schema):
    seq = fields.Integer(required=True)
    at = fields.String(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    object_type = fields.String(required=True)
    object_id = fields.String(required=True)
    details = fields.Dict(required=True)
    hash = fields.String(required=True)


class AuditPage(Schema):
    total = fields.Integer(required=True)
    items = fields.List(fields.Nested(AuditEventOut), required=True)


class BatchSignIn(_In):
    document_ids = fields.List(
        fields.Integer(validate=Range(1, 2**31 - 1)), required=True, validate=Length(1, 500)
    )
    authority = fields.String(validate=Length(0, 100))
    level = fields.String(validate=OneOf(LEVELS))
    pin = fields.String(
        validate=Length(1, 12),
        load_only=True,
        metadata={
            "description": "The leader's signing PIN, confirming these documents (required)."
        },
    )


class JobOut(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    state = fields.String(required=True)
    total = fields.Integer(required=True)
    done = fields.Integer(required=True)
    progress = fields.Float(required=True)
    result = fields.Dict(required=True)
    error = fields.String(allow_none=True)
    created_at = fields.String(required=True)
    finished_at = fields.String(allow_none=True)


class JobList(Schema):
    items = fields.List(fields.Nested(JobOut), required=True)
