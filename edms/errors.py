"""Errors the domain raises for people to act on. The API maps each to an RFC 7807 problem
(its ``status`` and ``title``); the CLI prints its message."""

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


class DisallowedFileType(EdmsError):
    status = 415
    title = "File type not allowed"
    type_slug = "file-type-not-allowed"


class UploadTooLarge(EdmsError):
    status = 413
    title = "Upload too large"
    type_slug = "upload-too-large"


class Forbidden(EdmsError):
    """The acting user's role does not allow the step."""

    status = 403
    title = "Not allowed"
    type_slug = "forbidden"


class InvalidTransition(EdmsError):
    """The step does not apply to the document in its current state."""

    status = 409
    title = "Step not allowed in this state"
    type_slug = "invalid-transition"


class NotFound(EdmsError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Conflict(EdmsError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class ServiceUnavailable(EdmsError):
    status = 503
    title = "Service unavailable"
    type_slug = "service-unavailable"
