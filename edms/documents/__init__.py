"""Official documents and their lifecycles (Decree 30, Art. 10–24).

Outgoing (văn bản đi)::

    draft → submitted → approved → signed → numbered → sealed → registered → issued
      ↑________ reject _____|                                       revoke → revoked
                                                    (a replacing document → replaced)

Incoming (văn bản đến)::

    received → verified → registered → assigned → in_progress → completed
           ↘________↘ returned      ↖__ handback __↙
                     (to the sender, with the reason)

Every step is one function here, used by the CLI, the API and the web UI alike. Each one
checks, in this order, that the document belongs to the actor's agency (else: not found),
that the actor's role allows the step (403), that the document is not frozen and is in a
state the step applies to (409), and only then does its work. The work of a step (new
file versions, signature records, the state change, the status history, the audit event,
the search index) is committed in one database transaction; objects put in the store
before a failure are removed again. A refused step therefore changes nothing anywhere.
Concurrent steps on the same document are serialised by the document's ``version``
(optimistic locking): the second one is refused, not applied twice.

The package: :mod:`.labels` (names people read), :mod:`.lifecycle` (the steps table,
checks, state change and its announcement), :mod:`.transaction`, :mod:`.files`,
:mod:`.outgoing` (with :mod:`.templated` and :mod:`.designation`: who approves and
signs), :mod:`.signing`, :mod:`.issuing`, :mod:`.incoming`, :mod:`.keeping`,
:mod:`.queries`, :mod:`.serialize`, :mod:`.steps` (``perform``); :mod:`.instructions`
(the leader's queue, work assigned to people, the handling sheet), :mod:`.release` (the
clerk's one-action release) and :mod:`.declared` (reception warnings). Submodules import
their siblings directly, never this package; this module only re-exports the public API.
"""

from __future__ import annotations

from ..numbering import VN_TZ
from .files import (
    attachments_of,
    export_file,
    index_document,
    main_file,
    pdf_facts,
    problems,
    record_file,
    signature_record,
    spool_pdf,
    spool_upload,
    validate_own,
    workdir,
)
from .incoming import (
    IncomingMeta,
    assign,
    complete,
    hand_back,
    latest_validation,
    receive,
    register_incoming,
    return_to_sender,
    start_progress,
    verify,
    verify_current,
)
from .issuing import issue, number, register_outgoing, replace, revoke, seal
from .keeping import apply_document_retention, set_legal_hold
from .labels import (
    INCOMING,
    OUTGOING,
    PRIORITY_VI,
    SECRECY_VI,
    STATE_NAMES_VI,
    date_line,
    month_text,
    now_utc,
    vn_today,
)
from .lifecycle import STEPS, Step, StepResult
from .outgoing import (
    DraftMeta,
    Recipient,
    add_attachment,
    approve,
    create_draft,
    discard_draft,
    reject,
    revise_draft,
    submit,
)
from .queries import (
    Colleague,
    DocumentView,
    download,
    drafting_people,
    get_document,
    list_documents,
    open_file,
    search_documents,
    signing_key_of,
    waiting_for_me,
)
from .serialize import document_json, view_json
from .signing import (
    PersonalLayout,
    RemoteSession,
    personal_layout,
    remote_finalize,
    remote_prepare,
    sign,
)
from .steps import perform, register
from .templated import create_from_template, revise_from_template, template_text
from .transaction import run_in_transaction

__all__ = [
    "INCOMING",
    "OUTGOING",
    "PRIORITY_VI",
    "SECRECY_VI",
    "STATE_NAMES_VI",
    "STEPS",
    "VN_TZ",
    "Colleague",
    "DocumentView",
    "DraftMeta",
    "IncomingMeta",
    "PersonalLayout",
    "Recipient",
    "RemoteSession",
    "Step",
    "StepResult",
    "add_attachment",
    "apply_document_retention",
    "approve",
    "assign",
    "attachments_of",
    "complete",
    "create_draft",
    "create_from_template",
    "date_line",
    "discard_draft",
    "document_json",
    "download",
    "drafting_people",
    "export_file",
    "get_document",
    "hand_back",
    "index_document",
    "issue",
    "latest_validation",
    "list_documents",
    "main_file",
    "month_text",
    "now_utc",
    "number",
    "open_file",
    "pdf_facts",
    "perform",
    "personal_layout",
    "problems",
    "receive",
    "record_file",
    "register",
    "register_incoming",
    "register_outgoing",
    "reject",
    "remote_finalize",
    "remote_prepare",
    "replace",
    "return_to_sender",
    "revise_draft",
    "revise_from_template",
    "revoke",
    "run_in_transaction",
    "seal",
    "search_documents",
    "set_legal_hold",
    "sign",
    "signature_record",
    "signing_key_of",
    "spool_pdf",
    "spool_upload",
    "start_progress",
    "submit",
    "template_text",
    "validate_own",
    "verify",
    "verify_current",
    "view_json",
    "vn_today",
    "waiting_for_me",
    "workdir",
]
