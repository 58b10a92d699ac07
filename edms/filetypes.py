"""What a file really is, from its content (python-magic), never from its name."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import PurePath
from typing import Protocol

import magic

from .errors import DisallowedFileType

HEAD_SIZE = 64 * 1024

# Plain-language names for what people commonly upload by mistake or in disguise.
_NAMES = {
    "application/pdf": "a PDF document",
    "image/png": "a PNG image",
    "image/jpeg": "a JPEG image",
    "image/tiff": "a TIFF image",
    "application/xml": "an XML document",
    "text/xml": "an XML document",
    "application/zip": "a ZIP archive",
    "application/x-zip-compressed": "a ZIP archive",
    "application/gzip": "a gzip archive",
    "application/x-tar": "a tar archive",
    "application/x-rar": "a RAR archive",
    "application/vnd.rar": "a RAR archive",
    "application/x-7z-compressed": "a 7-Zip archive",
    "text/html": "an HTML page",
    "text/plain": "plain text",
    "image/gif": "a GIF image",
    "image/webp": "a WebP image",
    "image/svg+xml": "an SVG image",
    "image/bmp": "a BMP image",
    "application/msword": "a Word 97-2003 document",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (
        "a Word document (DOCX)"
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "an Excel workbook (XLSX)",
    "application/vnd.ms-excel": "an Excel 97-2003 workbook",
    "application/x-dosexec": "a Windows executable",
    "application/x-msdownload": "a Windows executable",
    "application/x-executable": "a Linux executable",
    "application/x-pie-executable": "a Linux executable",
    "application/x-sharedlib": "a Linux shared library",
    "text/x-shellscript": "a shell script",
    "text/javascript": "a JavaScript file",
    "application/javascript": "a JavaScript file",
    "application/json": "a JSON document",
    "inode/x-empty": "an empty file",
    "application/x-empty": "an empty file",
    "application/octet-stream": "unrecognised binary data",
}

# Short names for listing the allowed types in a message.
_SHORT = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/tiff": "TIFF",
    "application/xml": "XML",
    "text/xml": "XML",
}


@dataclass(frozen=True)
class DetectedType:
    mime: str
    description: str  # libmagic's own words

    @property
    def name(self) -> str:
        """A plain-language name: 'a ZIP archive', 'an HTML page', ..."""
        if self.mime in _NAMES:
            return _NAMES[self.mime]
        if self.mime.startswith(("video/", "audio/")):
            return f"a {self.mime.split('/')[0]} file ({self.mime})"
        return f"{self.description} ({self.mime})"


def detect(head: bytes) -> DetectedType:
    """Detect a type from the first bytes of a file (64 KiB is plenty)."""
    if not head:
        return DetectedType("inode/x-empty", "empty")
    mime = magic.from_buffer(head, mime=True) or "application/octet-stream"
    description = magic.from_buffer(head) or "data"
    return DetectedType(mime.lower(), description)


def describe_allowed(allowed: tuple[str, ...]) -> str:
    names: list[str] = []
    for m in allowed:
        short = _SHORT.get(m, m)
        if short not in names:
            names.append(short)
    return ", ".join(names)


def ensure_allowed(
    detected: DetectedType, allowed: tuple[str, ...], filename: str | None = None
) -> None:
    """Refuse content whose real type is not allowed, naming what it really is."""
    if detected.mime in allowed:
        return
    label = f"'{PurePath(filename).name}'" if filename else "the upload"
    claimed = PurePath(filename).suffix.lower() if filename else ""
    disguise = f" despite its {claimed} name" if claimed else ""
    raise DisallowedFileType(
        f"{label} is {detected.name}{disguise}, not an allowed type "
        f"({describe_allowed(allowed)}); nothing was stored",
        detected_mime=detected.mime,
        detected_name=detected.name,
    )


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class PeekedStream:
    """A stream whose first bytes were read for detection, replayed before the rest."""

    def __init__(self, stream: _Readable, head: bytes) -> None:
        self._head = io.BytesIO(head)
        self._stream = stream
        self.head = head

    def read(self, n: int = -1, /) -> bytes:
        data = self._head.read(n)
        if n is None or n < 0:
            return data + self._stream.read()
        if len(data) < n:
            data += self._stream.read(n - len(data))
        return data


def peek(stream: _Readable, size: int = HEAD_SIZE) -> PeekedStream:
    head = b""
    while len(head) < size:
        chunk = stream.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return PeekedStream(stream, head)
