"""Keeping signed documents verifiable for decades: archive status and timestamp renewal.

A signature stays verifiable long after its certificates expire only through PAdES-LTA
(ETSI EN 319 142-1): validation data for everything, then a document timestamp over the
whole file, renewed before that timestamp's TSA certificate expires or the algorithms it
rests on weaken. This module watches every kept document and renews what is due.

The renewal policy lives here and nowhere else (:class:`Policy`, documented in
docs/archive.md): a document is *due* ``EDMS_ARCHIVE_RENEW_DAYS`` (default 180) days before
the first of

* the expiry of the TSA certificate of the timestamp that currently protects it (its last
  document timestamp; without one, each signature's own timestamp);
* for a B-T file (no validation data embedded), the expiry of a signing certificate;
* the sunset date of an algorithm its proof rests on (:data:`DIGEST_SUNSET`,
  :func:`key_sunset`): SHA-1 and RSA below 2048 bits are already past theirs.

Invariants:

* renewing adds a new stored version (role unchanged, stage ``renewed``) of each signed
  current file of the document; the previous bytes stay stored and recorded;
* the versions and the audit event ``document.archive_renew`` are committed together, and
  only if the document's current files are still those that were renewed; an object put
  for a failed renewal is removed again;
* a renewed file is checked offline before it is stored: every signature B-LTA, every
  document timestamp intact;
* nothing is renewed with a TSA whose own certificate or algorithms would not protect the
  document longer than it already is; ``dry_run`` writes nothing at all.

Only *kept* documents are renewed: outgoing ones once registered (and later issued,
revoked or replaced), every incoming document and every digitized copy. Documents still
in their signing workflow are left to it.

Modules: :mod:`.policy` (the policy), :mod:`.facts` (what a file's proof rests on),
:mod:`.survey` (the status of every kept document), :mod:`.renewal` (renewing); every
name is re-exported here.
"""

from __future__ import annotations

from .facts import (
    analyse_file,
    current_files,
    facts_for,
)
from .policy import (
    DIGEST_SUNSET,
    KEPT_OUTGOING,
    RENEW_ACTION,
    RENEWED_STAGE,
    Limit,
    Policy,
    _iso,
    is_kept,
    key_sunset,
    policy_for,
    sunset,
)
from .renewal import (
    RenewOutcome,
    RenewReport,
    clear_refusals,
    renew,
    renew_document,
    renewal_history,
)
from .survey import (
    ArchiveStatus,
    DocumentStatus,
    status,
)

__all__ = [
    "DIGEST_SUNSET",
    "KEPT_OUTGOING",
    "RENEWED_STAGE",
    "RENEW_ACTION",
    "ArchiveStatus",
    "DocumentStatus",
    "Limit",
    "Policy",
    "RenewOutcome",
    "RenewReport",
    "_iso",
    "analyse_file",
    "clear_refusals",
    "current_files",
    "facts_for",
    "is_kept",
    "key_sunset",
    "policy_for",
    "renew",
    "renew_document",
    "renewal_history",
    "status",
    "sunset",
]
