"""Errors the domain raises for people to act on. The API maps each to an RFC 7807 problem
(its ``status`` and ``title``); the CLI prints its message.

Every error has a *kind*, and code raises the kind, never the root :class:`EdmsError`
(a test walks the tree for ``raise EdmsError(``):

* :class:`ClientError` (4xx) — the request is wrong and the caller can fix it: bad input
  (400), :class:`Forbidden` (403), :class:`NotFound` (404), :class:`Conflict` and
  :class:`InvalidTransition` (409), :class:`UploadTooLarge` (413),
  :class:`DisallowedFileType` (415).
* :class:`UpstreamUnavailable` (502) — a service we depend on outside this process (a
  time-stamp authority, OCSP/CRL responder, the exchange axis, a partner, a signing
  device) did not answer or answered wrongly; trying later may work.
* :class:`ServiceUnavailable` (503) — our own object store or database is down; the API
  adds ``Retry-After``.
* :class:`InternalError` (500) — our own failure (a step that should have worked did
  not); the message says so in words, the cause goes to the log.

A server-side failure is therefore never a 400: nothing the caller changes in the request
would make it work.
"""

from __future__ import annotations

from typing import Any


class EdmsError(Exception):
    status = 400
    title = "Bad request"
    type_slug = "bad-request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class ClientError(EdmsError):
    """The request is wrong and the caller can fix it (bad input: 400; subclasses 4xx)."""


class DisallowedFileType(ClientError):
    status = 415
    title = "File type not allowed"
    type_slug = "file-type-not-allowed"


class UploadTooLarge(ClientError):
    status = 413
    title = "Upload too large"
    type_slug = "upload-too-large"


class Forbidden(ClientError):
    """The acting user's role does not allow the step."""

    status = 403
    title = "Not allowed"
    type_slug = "forbidden"


class InvalidTransition(ClientError):
    """The step does not apply to the document in its current state."""

    status = 409
    title = "Step not allowed in this state"
    type_slug = "invalid-transition"


class NotFound(ClientError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(ClientError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class UpstreamUnavailable(EdmsError):
    """A service outside this process (TSA, OCSP/CRL, the axis, a partner, a signing device)
    failed or did not answer; trying later may work."""

    status = 502
    title = "Upstream service unavailable"
    type_slug = "upstream-unavailable"


class InternalError(EdmsError):
    """Our own failure: a step that should have worked did not (cause in the log)."""

    status = 500
    title = "Internal error"
    type_slug = "internal-error"


class ServiceUnavailable(EdmsError):
    """Our own object store or database is down (the API adds ``Retry-After``)."""

    status = 503
    title = "Service unavailable"
    type_slug = "service-unavailable"
