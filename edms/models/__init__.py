"""The database model (SQLAlchemy 2.0, typed), one module per domain area. Each change
comes with an Alembic migration in ``edms/migrations/versions``; a test checks that the two
agree on every backend.

Every model is re-exported here, so ``from edms.models import Document`` is the import to
use; importing this package registers every table on ``Base.metadata`` (Alembic relies on
it).
"""

from __future__ import annotations

from .axis import (
    AxisAgency,
    AxisDelivery,
    AxisNonce,
    AxisPackage,
    AxisSystem,
)
from .citizens import (
    DossierCounter,
    DossierLookup,
    Holiday,
    HolidayYear,
    Notice,
    NoticeAttempt,
    NoticePreference,
    NoticeSettings,
    NoticeTemplate,
    NoticeWebhook,
    Procedure,
    ProcedureDossier,
    ProcedureDossierDocument,
    ProcedureDossierStep,
)
from .core import (
    Agency,
    AuditEvent,
    AuditHead,
    Blob,
    Register,
)
from .documents import (
    Assignment,
    DigitizedCopy,
    DocType,
    Document,
    DocumentFile,
    Dossier,
    SignatureRecord,
    StatusEvent,
    ValidationRecord,
)
from .exchange import (
    DirectoryEntry,
    ExchangeMessage,
    ExchangePoll,
    ExchangeProfile,
)
from .maintenance import (
    ArchiveFile,
    Job,
    ScheduledTask,
    TrustAnchorSetting,
)
from .people import (
    ROLES,
    ApiToken,
    LoginAttempt,
    OrgUnit,
    SigningKey,
    User,
    WebSession,
)

__all__ = [
    "ROLES",
    "Agency",
    "ApiToken",
    "ArchiveFile",
    "Assignment",
    "AuditEvent",
    "AuditHead",
    "AxisAgency",
    "AxisDelivery",
    "AxisNonce",
    "AxisPackage",
    "AxisSystem",
    "Blob",
    "DigitizedCopy",
    "DirectoryEntry",
    "DocType",
    "Document",
    "DocumentFile",
    "Dossier",
    "DossierCounter",
    "DossierLookup",
    "ExchangeMessage",
    "ExchangePoll",
    "ExchangeProfile",
    "Holiday",
    "HolidayYear",
    "Job",
    "LoginAttempt",
    "Notice",
    "NoticeAttempt",
    "NoticePreference",
    "NoticeSettings",
    "NoticeTemplate",
    "NoticeWebhook",
    "OrgUnit",
    "Procedure",
    "ProcedureDossier",
    "ProcedureDossierDocument",
    "ProcedureDossierStep",
    "Register",
    "ScheduledTask",
    "SignatureRecord",
    "SigningKey",
    "StatusEvent",
    "TrustAnchorSetting",
    "User",
    "ValidationRecord",
    "WebSession",
]

# Domain events raised from rows other modules write (a refusal recorded by the exchange)
# are watched by edms.events, registered with the models so every process has them.
from .. import events as _events  # noqa: F401
