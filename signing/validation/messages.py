"""Fixed sentences for what went wrong, chosen by the kind of failure.

:func:`describe` turns an exception into (reason for people, diagnostic for maintainers).
The reason never contains the exception's own text; the diagnostic does, and is only
logged (see :mod:`.report`).
"""

from __future__ import annotations

from pyhanko.pdf_utils.misc import PdfError, PdfReadError
from pyhanko.sign.general import CMSExtractionError, CMSStructuralError
from pyhanko.sign.validation.errors import SignatureValidationError

UNREADABLE_CMS = "dữ liệu chữ ký (CMS) không đọc được / the signature data (CMS) cannot be read"
BROKEN_STRUCTURE = (
    "cấu trúc PDF của chữ ký bị hỏng / the PDF structure around the signature is damaged"
)
SEVERAL_SIGNERS = (
    "một chữ ký chứa nhiều người ký (PAdES chỉ cho phép một) / one "
    "signature holds several signers (PAdES allows one)"
)
NO_SIGNER_CERT = (
    "chữ ký không kèm chứng thư số của người ký / the signer's certificate is not in the signature"
)
ENVELOPING = (
    "chữ ký bao gói nội dung thay vì ký tách rời (không đúng chuẩn PAdES) / an "
    "enveloping signature where PAdES requires a detached one"
)
UNSUPPORTED_ALGORITHM = (
    "thuật toán chữ ký không được hỗ trợ / the signature algorithm is not supported"
)
UNEXPECTED = (
    "lỗi không lường trước khi đọc chữ ký; đã ghi nhật ký cho quản trị viên / an "
    "unexpected error while reading the signature (logged for the maintainers)"
)


def describe(exc: BaseException) -> tuple[str, str]:
    """(reason in words, diagnostic) for an exception raised while reading or checking a
    signature."""
    diagnostic = f"{type(exc).__name__}: {exc}"[:2000]
    text = str(exc)
    if isinstance(exc, CMSExtractionError) and "signer_infos" in text:
        return SEVERAL_SIGNERS, diagnostic
    if isinstance(exc, SignatureValidationError):
        ades = getattr(exc, "ades_subindication", None)
        name = getattr(ades, "name", "")
        if name == "NO_SIGNING_CERTIFICATE_FOUND" or "signer certificate not" in text:
            return NO_SIGNER_CERT, diagnostic
        if "detached signatures should not have encapsulated" in text:
            return ENVELOPING, diagnostic
        if isinstance(exc, CMSStructuralError):
            return UNREADABLE_CMS, diagnostic
    if isinstance(exc, PdfReadError | PdfError | KeyError | IndexError):
        return BROKEN_STRUCTURE, diagnostic
    if isinstance(exc, AttributeError | NotImplementedError) and (
        "hashes" in text or "algorithm" in text.lower()
    ):
        return UNSUPPORTED_ALGORITHM, diagnostic
    if isinstance(exc, ValueError | TypeError | CMSStructuralError):
        # asn1crypto reports malformed DER as ValueError/TypeError
        return UNREADABLE_CMS, diagnostic
    if type(exc).__name__ in ("Reference", "IndirectObjectExpected"):
        return BROKEN_STRUCTURE, diagnostic
    return UNEXPECTED, diagnostic
