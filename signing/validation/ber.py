"""BER → DER normalisation of CMS blobs, for signatures written by other products.

VGCA's signing software (and BouncyCastle's streaming generators in general) writes the
CMS of a PDF signature in BER: constructed values with indefinite length, terminated by
end-of-contents octets ``00 00``. pyHanko parses CMS as DER and, worse, the signature's
``/Contents`` hex string is zero-padded, so a strictly DER reader sees the padding where
BER's terminators stand.

Invariants:

* Only the *encoding* changes: indefinite lengths become definite, constructed OCTET
  STRINGs become primitive (their chunks concatenated). Every element that has neither
  keeps its original bytes exactly, so certificates, signed attributes and timestamp
  tokens whose signatures cover their encoding still verify. (RFC 5652 §5.4: the signature
  is over the DER encoding of the signed attributes anyway.)
* The zero padding after the outermost value is dropped.
* Malformed input raises :class:`BerError`; recursion depth and element count are bounded,
  so a hostile blob cannot exhaust the stack or run long.
"""

from __future__ import annotations

MAX_DEPTH = 64
MAX_ELEMENTS = 200_000


class BerError(ValueError):
    """The bytes are not a well-formed BER value."""


class _Walker:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.count = 0

    def header(self, i: int) -> tuple[int, int, bool, int | None, int]:
        """(tag start, tag end, constructed, length or None if indefinite, content start)."""
        data, n = self.data, len(self.data)
        if i >= n:
            raise BerError("truncated: tag expected")
        self.count += 1
        if self.count > MAX_ELEMENTS:
            raise BerError("too many elements")
        first = data[i]
        constructed = bool(first & 0x20)
        j = i + 1
        if first & 0x1F == 0x1F:  # high tag number form
            while True:
                if j >= n:
                    raise BerError("truncated tag")
                j += 1
                if not data[j - 1] & 0x80:
                    break
        tag_end = j
        if j >= n:
            raise BerError("truncated: length expected")
        lb = data[j]
        j += 1
        if lb < 0x80:
            return i, tag_end, constructed, lb, j
        if lb == 0x80:
            if not constructed:
                raise BerError("indefinite length on a primitive value")
            return i, tag_end, constructed, None, j
        count = lb & 0x7F
        if count > 8 or j + count > n:
            raise BerError("bad length")
        length = int.from_bytes(data[j : j + count], "big")
        return i, tag_end, constructed, length, j + count

    def element(self, i: int, depth: int) -> tuple[bytes, int, bool]:
        """(normalised bytes, end offset in the input, changed?) of the element at i."""
        if depth > MAX_DEPTH:
            raise BerError("nested too deeply")
        start, tag_end, constructed, length, body = self.header(i)
        data = self.data
        tag = data[start:tag_end]
        if not constructed:
            end = body + (length or 0)
            if end > len(data):
                raise BerError("truncated value")
            return data[start:end], end, False
        children: list[bytes] = []
        changed = length is None
        j = body
        stop: int | None = None if length is None else body + length
        if stop is not None and stop > len(data):
            raise BerError("truncated value")
        while True:
            if stop is not None:
                if j >= stop:
                    if j > stop:
                        raise BerError("a value overruns its parent")
                    break
            elif data[j : j + 2] == b"\x00\x00":
                j += 2
                break
            out, j, child_changed = self.element(j, depth + 1)
            children.append(out)
            changed = changed or child_changed
        if tag in (b"\x24", b"\x23"):  # constructed OCTET/BIT STRING: DER wants primitive
            return _der_string(tag[0] & 0xDF, children), j, True
        if not changed:
            return data[start:j], j, False
        content = b"".join(children)
        return tag + _der_length(len(content)) + content, j, True


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _der_string(tag: int, chunks: list[bytes]) -> bytes:
    parts = []
    for chunk in chunks:
        w = _Walker(chunk)
        _, _, _, length, body = w.header(0)
        parts.append(chunk[body : body + (length or 0)])
    if tag == 0x03:  # BIT STRING chunks: only the last one's unused-bits octet counts
        unused = parts[-1][:1] if parts else b"\x00"
        content = unused + b"".join(p[1:] for p in parts)
    else:
        content = b"".join(parts)
    return bytes([tag]) + _der_length(len(content)) + content


def normalise(blob: bytes) -> bytes:
    """The DER-length form of one BER value (trailing zero padding dropped). Values that
    are already definite-length come back byte for byte."""
    if not blob:
        raise BerError("empty")
    out, _, _ = _Walker(blob).element(0, 0)
    return out


def is_indefinite(blob: bytes) -> bool:
    """Whether the outermost value uses BER's indefinite length."""
    return len(blob) > 1 and blob[0] & 0x20 != 0 and blob[1] == 0x80
