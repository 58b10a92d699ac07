"""Streaming downloads from the object store with HTTP Range (one range), ETag = the
content's SHA-256, and uploads read from werkzeug's spooled files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import quote

from flask import Response, request

from edms.errors import ClientError

from .context import system

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 256 * 1024


class StoredBlob(Protocol):
    """What a download needs of a stored file (:func:`edms.documents.open_file`)."""

    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def storage_key(self) -> str: ...
    @property
    def media_type(self) -> str: ...


class RangeNotSatisfiable(ClientError):
    status = 416
    title = "Range not satisfiable"
    type_slug = "range-not-satisfiable"


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None  # a malformed or multi-range header: the whole file (RFC 9110 §14.2)
    first, last = m.group(1), m.group(2)
    if first:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    else:
        start, end = max(size - int(last), 0), size - 1
    if start >= size or start > end:
        raise RangeNotSatisfiable(
            f"the range {header!r} is outside the file's {size} bytes", size=size
        )
    return start, end


def send_blob(blob: StoredBlob, filename: str) -> Response:
    etag = f'"{blob.sha256}"'
    if request.headers.get("If-None-Match") == etag:
        return Response(status=304, headers={"ETag": etag})
    size = blob.size
    span = _parse_range(request.headers.get("Range"), size)
    if request.headers.get("If-Range") not in (None, etag):
        span = None
    start, end = span if span else (0, size - 1)
    length = end - start + 1 if size else 0
    store = system().store

    def body() -> Iterator[bytes]:
        if length == 0:
            return
        with store.open(blob.storage_key, start=start, end=end) as f:
            while chunk := f.read(CHUNK):
                yield chunk

    headers = {
        "ETag": etag,
        "Accept-Ranges": "bytes",
        "Content-Length": str(length),
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
        "Cache-Control": "private, no-store",
    }
    if span:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return Response(
        body(),
        status=206 if span else 200,
        headers=headers,
        mimetype=blob.media_type,
        direct_passthrough=True,
    )


def file_argument() -> object:
    """The uploaded ``file`` part, or a 400 naming what is missing."""
    f = request.files.get("file")
    if f is None or not f.filename:
        raise ClientError("send the PDF as the multipart form field 'file'")
    return f
