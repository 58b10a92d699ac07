"""Reading what other products write: the file's bytes, its structure, its signatures.

Invariants:

* A file up to 32 MB is read once into memory and everything parses from those bytes; a
  larger one is read from disk on demand (memory stays bounded whatever the size).
* Bytes before ``%PDF-`` (up to 1024, as viewers tolerate) are set aside and the offsets
  of the PDF taken from the header. Bytes after the last ``%%EOF`` that are not a PDF
  update are set aside too: searching them costs milliseconds, not seconds. Either is
  noted in the report; a trailing *update* without ``%%EOF`` is kept (it is content).
* Signature fields are found by walking ``/AcroForm /Fields`` and ``/Kids`` whether their
  entries and arrays are direct or indirect, with cycles, depth and count bounded. Each
  filled field becomes a :class:`Found` whose ``signature`` is either pyHanko's embedded
  signature or, when that cannot be built, the reason in words: one bad signature never
  hides the others.
* A signature whose ``/SubFilter`` is ``ETSI.RFC3161`` is a document timestamp whatever
  its ``/Type`` says. Every other workaround of pyHanko's and asn1crypto's behaviour is in
  :mod:`.patches`, nowhere else.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from . import patches  # noqa: F401 - applies the workarounds

MAX_HEADER_OFFSET = 1024
MAX_FIELDS = 10_000
MAX_DEPTH = 32
RFC3161 = "/ETSI.RFC3161"
LEGACY_SHA1 = "/adbe.pkcs7.sha1"
SIGNATURE_SUBFILTERS = ("/adbe.pkcs7.detached", "/ETSI.CAdES.detached", LEGACY_SHA1)


class Unreadable(Exception):
    """The file cannot be read as a PDF; ``reason`` says why, in words."""

    def __init__(self, reason: str, diagnostic: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.diagnostic = diagnostic


# -- the pyHanko workarounds (the patches themselves are in .patches) ------------------


class _Embedded(EmbeddedPdfSignature):
    """An embedded signature whose type follows ``/SubFilter ETSI.RFC3161`` when products
    write an odd or missing ``/Type`` on document timestamps."""

    @property
    def sig_object_type(self) -> generic.NameObject:
        if self.sig_object.get("/SubFilter") == RFC3161:
            return generic.NameObject("/DocTimeStamp")
        declared = self.sig_object.get("/Type")
        return generic.NameObject("/Sig") if declared != "/DocTimeStamp" else declared


# -- the file ------------------------------------------------------------------------------


@dataclass
class Loaded:
    data: Any  # what the PDF parser reads: bytes, or a window on a memory-mapped file
    reader: PdfFileReader
    notes: list[str]
    encrypted: bool


IN_MEMORY_MAX = 32 * 1024 * 1024  # larger files are parsed from disk, not held in memory
_CHUNK = 1 << 20


class Source:
    """The file's bytes: held in memory (small files), or read from an open file on demand
    (large ones) so that memory stays bounded whatever the size."""

    def __init__(
        self, data: bytes | None = None, fd: int | None = None, size: int | None = None
    ) -> None:
        self.data, self.fd = data, fd
        self.size = len(data) if data is not None else int(size or 0)

    def read(self, offset: int, n: int) -> bytes:
        if self.data is not None:
            return self.data[offset : offset + n]
        assert self.fd is not None
        return os.pread(self.fd, max(0, min(n, self.size - offset)), offset)

    def find(self, sub: bytes, start: int, end: int | None = None) -> int:
        end = self.size if end is None else min(end, self.size)
        if self.data is not None:
            return self.data.find(sub, start, end)
        pos = start
        while pos < end:
            chunk = self.read(pos, min(_CHUNK + len(sub), end - pos))
            hit = chunk.find(sub)
            if hit >= 0:
                return pos + hit
            pos += _CHUNK
        return -1

    def rfind(self, sub: bytes, start: int) -> int:
        if self.data is not None:
            return self.data.rfind(sub, start)
        end = self.size
        while end > start:
            lo = max(start, end - _CHUNK)
            hit = self.read(lo, end - lo + len(sub)).rfind(sub)
            if hit >= 0:
                return lo + hit
            end = lo
        return -1

    def stream(self, start: int, end: int) -> tuple[Any, Any]:
        """(a stream for the parser, the same bytes for slicing) of ``[start, end)``."""
        if self.data is not None:
            whole = (start, end) == (0, len(self.data))
            view = self.data if whole else self.data[start:end]
            return io.BytesIO(view), view
        window = Window(self, start, end)
        return io.BufferedReader(window, buffer_size=1 << 16), window


class Window(io.RawIOBase):
    """A read-only, seekable window ``[start, end)`` of a :class:`Source` read from disk."""

    def __init__(self, source: Source, start: int, end: int) -> None:
        super().__init__()
        self._src, self._start, self._end, self._pos = source, start, end, 0

    def __len__(self) -> int:
        return self._end - self._start

    def __getitem__(self, item: slice) -> bytes:
        lo, hi, _ = item.indices(len(self))
        return self._src.read(self._start + lo, hi - lo)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self)}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, b: Any) -> int:
        a = self._start + self._pos
        n = max(0, min(self._end, a + len(b)) - a)
        if not n:
            return 0
        chunk = self._src.read(a, n)
        b[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def pdf_view(src: Source) -> tuple[int, int, list[str]]:
    """Where the PDF parser should read (``[start, end)``), and notes on what was set
    aside."""
    notes: list[str] = []
    size = src.size
    if not size:
        raise Unreadable("tệp rỗng (0 byte) / the file is empty")
    start = src.find(b"%PDF-", 0, MAX_HEADER_OFFSET + 5)
    if start < 0:
        raise Unreadable("không phải tệp PDF (không có phần đầu %PDF-) / not a PDF file")
    if start > 0:
        notes.append(
            f"Có {start} byte lạ trước phần đầu %PDF, đã bỏ qua / {start} bytes "
            "before the PDF header were ignored"
        )
    eof = src.rfind(b"%%EOF", start)
    if eof < 0:
        raise Unreadable("tệp PDF bị cắt cụt (không có %%EOF) / the PDF is truncated")
    end = eof + 5
    while end < size and src.read(end, 1) in (b"\r", b"\n"):
        end += 1
    if (end < size and src.read(end, 4096).strip(b"\x00\t\n\f\r ")) or size - end > 4096:
        if any(src.find(word, end) >= 0 for word in (b"startxref", b"trailer", b" obj")):
            notes.append(
                "Sau %%EOF cuối cùng có một phần cập nhật không kết thúc / an "
                "unterminated update follows the last %%EOF"
            )
            return start, size, notes
        junk = size - end
        notes.append(
            f"Có {junk} byte dữ liệu thừa sau %%EOF, không thuộc tài liệu, đã bỏ "
            f"qua / {junk} bytes of trailing data ignored"
        )
        return start, end, notes
    return start, size, notes


def load(src: Source) -> Loaded:
    """Open the source as a PDF."""
    start, end, notes = pdf_view(src)
    stream, view = src.stream(start, end)
    try:
        reader = PdfFileReader(stream, strict=False)
        reader.xrefs.total_revisions  # noqa: B018 - forces the cross-reference read
    except Exception as exc:
        raise Unreadable(
            "cấu trúc tệp PDF bị hỏng, không đọc được / the PDF structure is damaged",
            f"{type(exc).__name__}: {exc}",
        ) from None
    encrypted = False
    if reader.encrypted:
        encrypted = True
        try:
            result = reader.decrypt(b"")
        except Exception as exc:
            raise Unreadable(
                "tệp được mã hóa theo cách không được hỗ trợ / the file uses an "
                "unsupported encryption",
                f"{type(exc).__name__}: {exc}",
            ) from None
        if not getattr(result, "status", None) or str(result.status).endswith("FAILED"):
            raise Unreadable(
                "tệp được mã hóa, cần mật khẩu để mở / the file is encrypted and needs a password"
            )
        notes.append(
            "Tệp được mã hóa, mở được không cần mật khẩu / the file is encrypted "
            "and opens without a password"
        )
    return Loaded(view, reader, notes, encrypted)


# -- signature fields --------------------------------------------------------------------


@dataclass
class Found:
    name: str
    field: generic.DictionaryObject
    signature: EmbeddedPdfSignature | None  # None: empty field, or ``problem`` says why
    problem: str = ""
    diagnostic: str = ""
    is_timestamp: bool = False
    failed: bool = False  # proven not valid (e.g. no signature value), not unreadable
    legacy_sha1: bool = False  # /adbe.pkcs7.sha1: the CMS carries the SHA-1 digest


BLANK = (
    "ô chữ ký có vùng ký nhưng không có giá trị chữ ký (nội dung trống) / the "
    "signature field has a byte range but an empty signature value"
)


def _resolve(obj: Any) -> Any:
    return obj.get_object() if isinstance(obj, generic.IndirectObject) else obj


def signature_fields(reader: PdfFileReader) -> list[tuple[str, generic.DictionaryObject]]:
    """(fully qualified name, field dictionary) of every signature field, in order."""
    try:
        form = _resolve(reader.root.raw_get("/AcroForm"))
        top = _resolve(form.raw_get("/Fields"))
    except (KeyError, AttributeError):
        return []
    out: list[tuple[str, generic.DictionaryObject]] = []
    seen: set[int] = set()
    count = 0

    def walk(items: Any, parent_name: str, parent_ft: Any, depth: int) -> None:
        nonlocal count
        if depth > MAX_DEPTH or not isinstance(items, generic.ArrayObject):
            return
        for entry in items:
            count += 1
            if count > MAX_FIELDS:
                return
            node = _resolve(entry)
            if not isinstance(node, generic.DictionaryObject) or id(node) in seen:
                continue
            seen.add(id(node))
            partial = node.get("/T")
            name = parent_name
            if partial is not None:
                name = f"{parent_name}.{partial}" if parent_name else str(partial)
            ft = node.get("/FT", parent_ft)
            if ft == "/Sig" and partial is not None:
                out.append((name, node))
            kids = node.get("/Kids")
            if kids is not None:
                walk(_resolve(kids), name, ft, depth + 1)

    # a broken reference deep in the form: keep what was found
    with contextlib.suppress(Exception):
        walk(top, "", None, 0)
    return out


def _blank_contents(sig: generic.DictionaryObject) -> bool:
    try:
        contents = sig.raw_get("/Contents")
    except KeyError:
        return True
    except Exception:
        return False
    if isinstance(contents, generic.IndirectObject):
        return False
    try:
        return not bytes(contents).strip(b"\x00")
    except TypeError:
        return False


def collect(reader: PdfFileReader) -> tuple[list[Found], list[str]]:
    """Filled signature fields in signing order (unreadable ones last), and the names of
    the empty ones."""
    from .messages import describe

    found: list[Found] = []
    empty: list[str] = []
    for name, node in signature_fields(reader):
        try:
            value = _resolve(node.raw_get("/V"))
        except KeyError:
            value = None
        except Exception:
            value = None
        if not isinstance(value, generic.DictionaryObject):
            empty.append(name)
            continue
        if _blank_contents(value):
            # a signature dictionary whose /Contents holds nothing (never filled, or
            # wiped): a signature that fails, not an unreadable one
            found.append(Found(name, node, None, BLANK, "", False, failed=True))
            continue
        subfilter = value.get("/SubFilter")
        is_ts = subfilter == RFC3161 or value.get("/Type") == "/DocTimeStamp"
        if subfilter not in (*SIGNATURE_SUBFILTERS, RFC3161):
            found.append(
                Found(
                    name,
                    node,
                    None,
                    f"định dạng chữ ký {str(subfilter).lstrip('/')} không được hỗ "
                    "trợ / unsupported signature format",
                    "",
                    is_ts,
                )
            )
            continue
        try:
            sig = _Embedded(reader, node, name)
            sig.signed_revision  # noqa: B018 - where the byte range lands in the file
        except Exception as exc:
            problem, diag = describe(exc)
            found.append(Found(name, node, None, problem, diag, is_ts))
            continue
        found.append(
            Found(name, node, sig, is_timestamp=is_ts, legacy_sha1=subfilter == LEGACY_SHA1)
        )
    ranked = sorted(
        (f.signature.signed_revision, i) for i, f in enumerate(found) if f.signature is not None
    )
    readable = [found[i] for _, i in ranked]
    return readable + [f for f in found if f.signature is None], empty
