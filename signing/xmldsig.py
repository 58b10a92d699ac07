"""XML-DSig for exchange packages and receipts: one strict profile.

Signing: an enveloped signature over the whole document (``Reference URI=""``, transforms
enveloped-signature + exclusive C14N, SHA-256), RSA-SHA256 or ECDSA-SHA256, the signing
certificate in ``KeyInfo``. The signature value comes from a :class:`KeyHandle`'s pyHanko
signer, so the key may sit in a PKCS#12 file or on a PKCS#11 token (HSM): it never leaves it.

Verification goes through signxml (an independent implementation) against certificates
the caller trusts for the claimed sender (the exchange directory), never against the
certificate the document carries. The signed element must be the document root, so nothing
outside the signature can be slipped in (signature wrapping); callers read the content from
the tree signxml returns.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from .keys import KeyHandle

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"


class XmlSignatureError(Exception):
    """The document is unsigned, or its signature does not verify with a trusted key."""


def _ds(tag: str) -> str:
    return f"{{{DS}}}{tag}"


def c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def sign(
    root: etree._Element, key: KeyHandle, parent: etree._Element | None = None
) -> etree._Element:
    """Sign ``root`` in place; the ``ds:Signature`` goes last in ``parent`` (default: the
    root). The document must not be re-indented after signing."""
    parent = root if parent is None else parent
    if root.find(f".//{_ds('Signature')}") is not None:
        raise XmlSignatureError("the document is already signed")
    digest = base64.b64encode(hashlib.sha256(c14n(root)).digest()).decode()
    signer = key.signer()
    mech = signer.get_signature_mechanism_for_digest("sha256")
    algo = mech["algorithm"].native
    if algo not in ("rsassa_pkcs1v15", "sha256_rsa", "ecdsa", "sha256_ecdsa"):
        raise XmlSignatureError(f"keys of type {algo} cannot sign exchange packages")
    ecdsa = "ecdsa" in algo
    nsmap = {"ds": DS}
    sig = etree.SubElement(parent, _ds("Signature"), nsmap=nsmap)
    info = etree.SubElement(sig, _ds("SignedInfo"))
    etree.SubElement(info, _ds("CanonicalizationMethod"), Algorithm=EXC_C14N)
    etree.SubElement(info, _ds("SignatureMethod"), Algorithm=ECDSA_SHA256 if ecdsa else RSA_SHA256)
    ref = etree.SubElement(info, _ds("Reference"), URI="")
    transforms = etree.SubElement(ref, _ds("Transforms"))
    etree.SubElement(transforms, _ds("Transform"), Algorithm=ENVELOPED)
    etree.SubElement(transforms, _ds("Transform"), Algorithm=EXC_C14N)
    etree.SubElement(ref, _ds("DigestMethod"), Algorithm=SHA256)
    etree.SubElement(ref, _ds("DigestValue")).text = digest
    raw = asyncio.run(signer.async_sign_raw(c14n(info), "sha256"))
    if ecdsa:  # XML-DSig wants r || s, not the DER sequence
        r, s = decode_dss_signature(raw)
        size = (key.cert.public_key.bit_size + 7) // 8
        raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    etree.SubElement(sig, _ds("SignatureValue")).text = base64.b64encode(raw).decode()
    data = etree.SubElement(etree.SubElement(sig, _ds("KeyInfo")), _ds("X509Data"))
    etree.SubElement(data, _ds("X509Certificate")).text = base64.b64encode(key.cert.dump()).decode()
    return sig


@dataclass(frozen=True)
class Verified:
    signed: etree._Element  # the signed tree as signxml verified it (Signature removed)
    certificate: x509.Certificate  # the trusted certificate that verified it


def hardened_parser() -> etree.XMLParser:
    """No DTD, no entities, no network; large text nodes allowed (base64 attachments),
    which is safe because documents with a DTD are refused before this parser runs."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
        remove_blank_text=False,
    )


def verify(data: bytes, trusted: list[x509.Certificate]) -> Verified:
    """Verify the single enveloped signature of ``data`` with one of ``trusted``."""
    from signxml import SignatureConfiguration, XMLVerifier
    from signxml.exceptions import InvalidInput, InvalidSignature

    if not trusted:
        raise XmlSignatureError("no certificate is registered for the sender")
    root = etree.fromstring(data, parser=hardened_parser())
    sigs = root.findall(f".//{_ds('Signature')}")
    if not sigs:
        raise XmlSignatureError("the package is not signed")
    if len(sigs) > 1:
        raise XmlSignatureError("the package carries more than one signature")
    config = SignatureConfiguration(require_x509=False, expect_references=1)
    last: Exception | None = None
    for cert in trusted:
        try:
            result = XMLVerifier().verify(
                data, x509_cert=cert, parser=hardened_parser(), expect_config=config
            )
        except (InvalidSignature, InvalidInput) as exc:
            last = exc
            continue
        signed = result.signed_xml  # type: ignore[union-attr]
        if signed is None or signed.tag != root.tag:
            raise XmlSignatureError("the signature does not cover the whole package")
        return Verified(signed, cert)
    raise XmlSignatureError(
        f"the signature does not verify with the sender's registered certificate(s): {last}"
    )


def embedded_certificate(data: bytes) -> x509.Certificate | None:
    """The certificate the signature carries (for messages only: never trusted)."""
    root = etree.fromstring(data, parser=hardened_parser())
    node = root.find(f".//{_ds('X509Certificate')}")
    if node is None or not node.text:
        return None
    try:
        return x509.load_der_x509_certificate(base64.b64decode(node.text))
    except ValueError:
        return None


def to_cryptography(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())
