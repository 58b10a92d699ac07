"""Workarounds for pyHanko and asn1crypto, in one place, each small and tested
(tests/test_validation_realworld.py, tests/test_validation_vn.py).

Applied once, on import (by :mod:`.reading`). Each keeps the library's behaviour except
where real files or speed demand otherwise:

* BER CMS (VGCA's software, BouncyCastle) is normalised to definite lengths before pyHanko
  parses it (:mod:`.ber`), padded back to its length.
* A SignerInfo whose digestAlgorithm is a signature algorithm's OID (sha256WithRSA where
  sha256 belongs) is read as the hash it names.
* A dangling reference in a later revision is the null object (ISO 32000-1 §7.3.10) in the
  difference analysis, instead of a KeyError.
* Adobe's ``/Type /VRI`` entry beside the certificate-hash keys of a ``/VRI`` dictionary is
  validation data.
* Hex strings (a signature's ``/Contents``: tens of kilobytes) are decoded in one go
  instead of one byte at a time; anything unusual goes to pyHanko's own reader. (An
  unterminated hex string made pyHanko's reader loop until the sandbox's deadline.)
* The prepared values of a distinguished name's RDNs (string preparation for comparison,
  RFC 4518) are remembered by the RDN's encoding instead of computed at every comparison:
  path building compares names hundreds of times per signature.
"""

from __future__ import annotations

import binascii
import re
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import HistoricalResolver
from pyhanko.sign.diff_analysis.rules.form_field_rules import DSSCompareRule
from pyhanko.sign.validation import pdf_embedded

from . import ber

_original_extract = pdf_embedded.extract_contents


# digestAlgorithm written as a signature algorithm's OID (seen from some products):
# sha*WithRSAEncryption → its hash
_SIGNATURE_OID_HASH = {
    "1.2.840.113549.1.1.5": "sha1",
    "1.2.840.113549.1.1.11": "sha256",
    "1.2.840.113549.1.1.12": "sha384",
    "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.113549.1.1.14": "sha224",
}


def _digest_oid_fixed(der: bytes) -> bytes:
    """The CMS with a SignerInfo's digestAlgorithm given as a signature algorithm OID
    replaced by the hash it names. The field is outside what the signature covers (the
    signed attributes keep their bytes), so the signature still verifies."""
    marker = {bytes.fromhex("2a864886f70d01010" + x) for x in ("5", "b", "c", "d", "e")}
    if not any(m in der for m in marker):
        return der
    from asn1crypto import cms

    info = cms.ContentInfo.load(der)
    changed = False
    for si in info["content"]["signer_infos"]:
        oid = si["digest_algorithm"]["algorithm"].dotted
        if oid in _SIGNATURE_OID_HASH:
            si["digest_algorithm"] = {"algorithm": _SIGNATURE_OID_HASH[oid]}
            changed = True
    return info.dump(force=False) if changed else der


def _extract_contents(sig_object: generic.DictionaryObject) -> bytes:
    """pyHanko's ``/Contents`` reader, with BER CMS normalised to definite lengths and a
    signature OID in digestAlgorithm mended (padded back to the original length: pyHanko
    measures the byte range's gap with it)."""
    blob = _original_extract(sig_object)
    der = ber.normalise(blob) if ber.is_indefinite(blob) else blob
    try:
        der = _digest_oid_fixed(der)
    except (ValueError, TypeError, KeyError):
        return blob if der is blob else der + bytes(max(0, len(blob) - len(der)))
    if der is blob:
        return blob
    return der + bytes(max(0, len(blob) - len(der)))


pdf_embedded.extract_contents = _extract_contents

_original_collect = HistoricalResolver._collect_indirect_references


def _collect_indirect_references(
    self: HistoricalResolver, obj: Any, seen: Any, since_revision: int | None = None
) -> Any:
    """pyHanko's dependency walk of the diff analysis, with a dangling reference taken as
    the null object (ISO 32000-1 §7.3.10) instead of raising KeyError."""
    if isinstance(obj, generic.IndirectObject) and since_revision is not None:
        try:
            self.reader.xrefs.get_introducing_revision(obj.reference)
        except KeyError:
            return None
    return _original_collect(self, obj, seen, since_revision)


HistoricalResolver._collect_indirect_references = (  # type: ignore[method-assign]
    _collect_indirect_references
)

_original_check_vri = DSSCompareRule._check_vri


def _check_vri(old: Any, new: Any, old_vri: Any, new_vri: Any) -> Any:
    """pyHanko's check of a /VRI dictionary added after signing, accepting the ``/Type
    /VRI`` entry that Adobe's products write beside the certificate-hash keys."""
    if new_vri.get("/Type") == "/VRI":
        new_vri = generic.DictionaryObject({k: new_vri.raw_get(k) for k in new_vri if k != "/Type"})
        old_vri = generic.DictionaryObject({k: old_vri.raw_get(k) for k in old_vri if k != "/Type"})
    return _original_check_vri(old, new, old_vri, new_vri)


DSSCompareRule._check_vri = staticmethod(_check_vri)  # type: ignore[method-assign]

_original_read_hex = generic.read_hex_string_from_stream
_HEX = re.compile(rb"[0-9A-Fa-f]*")


def _read_hex_string(stream: Any) -> Any:
    """pyHanko's hex string reader reads one byte at a time (a signature's ``/Contents``
    is tens of kilobytes: ~40 ms); this one finds the closing ``>`` and decodes in one go.
    Anything unusual (a comment, a stray character) goes to pyHanko's reader."""
    start = stream.tell()
    stream.read(1)  # "<"
    parts: list[bytes] = []
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            stream.seek(start)
            return _original_read_hex(stream)
        end = chunk.find(b">")
        if end >= 0:
            parts.append(chunk[:end])
            break
        parts.append(chunk)
    raw = b"".join(parts)
    digits = raw.translate(None, b" \n\r\t\f\x00")
    if not _HEX.fullmatch(digits):
        stream.seek(start)
        return _original_read_hex(stream)
    stream.seek(start + 1 + len(raw) + 1)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


generic.read_hex_string_from_stream = _read_hex_string


_original_rdn_values = x509.RelativeDistinguishedName._get_values
_prepared: dict[bytes, dict[str, str]] = {}
_PREPARED_MAX = 4096


def _rdn_values(self: Any, rdn: Any) -> Any:
    """asn1crypto's prepared RDN values, remembered by the RDN's encoding (the same names
    recur in every certificate, OCSP response and CRL of a chain, file after file)."""
    contents = rdn.contents
    if contents is None:
        return _original_rdn_values(self, rdn)
    values = _prepared.get(contents)
    if values is None:
        values = _original_rdn_values(self, rdn)
        if len(_prepared) >= _PREPARED_MAX:
            _prepared.clear()
        _prepared[contents] = values
    return dict(values)


x509.RelativeDistinguishedName._get_values = _rdn_values
