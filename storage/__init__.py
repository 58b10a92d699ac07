"""Object storage for EDMS: one interface, an embedded filesystem store and an S3 store.

No Flask, no database, no signing here: the domain (``edms``) decides what to store and
records it; this package only keeps bytes safe.
"""

from .base import (
    CHUNK_SIZE,
    CONTENT_PREFIX,
    DigestIndex,
    Health,
    InvalidKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectRetained,
    ObjectStore,
    ObjectTooLarge,
    PutResult,
    Retention,
    RetentionMode,
    StorageError,
    StorageUnavailable,
    UnsupportedOperation,
    content_key,
    sha256_of_key,
)
from .local import LocalStore
from .s3 import S3Store

__all__ = [
    "CHUNK_SIZE",
    "CONTENT_PREFIX",
    "DigestIndex",
    "Health",
    "InvalidKey",
    "LocalStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectRetained",
    "ObjectStore",
    "ObjectTooLarge",
    "PutResult",
    "Retention",
    "RetentionMode",
    "S3Store",
    "StorageError",
    "StorageUnavailable",
    "UnsupportedOperation",
    "content_key",
    "sha256_of_key",
]
