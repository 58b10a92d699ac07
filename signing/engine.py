"""The PAdES signing engine: Decree-30 profiles, levels B-B to B-LTA, streaming file to file.

Usage::

    key = load_pkcs12("leader1.p12", b"...")
    engine = SigningEngine(key, TrustServices(tsa_url=..., trust_roots=(root,)))
    engine.sign("draft.pdf", "signed.pdf", SignOptions(Profile.PERSONAL, Level.B_LT,
                                                       signature_image=Path("sig.png")))

The engine is built once per key and reused for every document: the key and chain are
loaded once; the input is never read whole into memory (pyHanko reads the cross-reference
data and streams the byte ranges); the output appears only when complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, BinaryIO

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    PdfSigningSession,
    SigDSSPlacementPreference,
    TimestampDSSContentSettings,
)
from pyhanko.stamp.base import BaseStampStyle
from pyhanko_certvalidator import ValidationContext

from .appearance import (
    MM,
    PERSONAL_HEIGHT,
    PERSONAL_WIDTH,
    Decree30StampStyle,
    EncodedImage,
    StampSpec,
    copy_lines,
    load_image,
    personal_spec,
    seal_rect_for,
    seal_spec,
    signature_ink_on_page,
    text_block_spec,
    vn_time,
)
from .fetching import SharedFetchers
from .keys import KeyHandle


class SigningError(Exception):
    """The document cannot be signed as asked; the message says why."""


class TrustServiceError(SigningError):
    """A timestamp, OCSP or CRL service needed for the level could not be reached: the
    document is fine, the service is down; trying again later may work."""


class Level(StrEnum):
    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


class Profile(StrEnum):
    PERSONAL = "personal"
    ORGANIZATION = "organization"
    ATTACHMENT = "attachment"
    COPY = "copy"


FIELD_PREFIX = {
    Profile.PERSONAL: "EDMS_Personal",
    Profile.ORGANIZATION: "EDMS_Organization",
    Profile.ATTACHMENT: "EDMS_Attachment",
    Profile.COPY: "EDMS_Copy",
}


@dataclass(frozen=True)
class TrustServices:
    """Where timestamps and revocation data come from, and which roots are trusted."""

    tsa_url: str | None = None
    trust_roots: tuple[x509.Certificate, ...] = ()
    allow_fetching: bool = True
    timeout: float = 10.0
    # Revocation answers and the TSA's chain reused across signatures for a short while
    # (see signing.fetching); None: everything is fetched for every signature.
    shared: SharedFetchers | None = field(default=None, compare=False)

    def validation_context(
        self, other_certs: tuple[x509.Certificate, ...] = (), for_signing: bool = True
    ) -> ValidationContext:
        shared = self.shared if self.allow_fetching else None
        return ValidationContext(
            trust_roots=list(self.trust_roots),
            other_certs=list(other_certs),
            allow_fetching=self.allow_fetching,
            revocation_mode="hard-fail" if for_signing else "soft-fail",
            fetchers=shared.fetchers() if shared is not None else None,
        )

    def timestamper(self) -> timestamps.HTTPTimeStamper:
        if not self.tsa_url:
            raise SigningError("this level needs a timestamp authority: set the TSA URL")
        if self.shared is not None:
            return self.shared.timestamper(self.tsa_url)
        return timestamps.HTTPTimeStamper(self.tsa_url, timeout=int(self.timeout))

    def forget(self) -> None:
        """After a failed signature: reuse nothing that was fetched before it."""
        if self.shared is not None:
            self.shared.forget()


@dataclass(frozen=True)
class SignOptions:
    profile: Profile
    level: Level = Level.B_B
    field_name: str | None = None  # an existing empty field to sign, or the new field's name
    page: int | None = None  # 0-based; default: last page (personal), first page (text)
    box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2 in points
    # personal
    authority: str = ""  # "KT. CHỦ TỊCH" (several lines separated by newlines)
    title: str | None = None  # default: the certificate's title attribute
    full_name: str | None = None  # default: the certificate's common name
    signature_image: Path | None = None
    # what the page prints itself around the signature field, so the appearance leaves it
    # out: the authority/title lines above, the signer's name below
    titles_on_page: bool = False
    name_on_page: bool = False
    # organization
    seal_image: Path | None = None
    # attachment: the main document's number and symbol
    main_number: str | None = None
    # copy
    copy_type: str = "SAO Y"
    agency: str | None = None  # default: the certificate's organization
    reason: str | None = None
    location: str | None = None
    signing_time: datetime | None = None  # default: now


@dataclass(frozen=True)
class SignResult:
    output: Path
    field_name: str
    signing_time: datetime
    level: Level
    profile: Profile


class _TimedPdfSigner(signers.PdfSigner):
    """A PdfSigner whose signing time is fixed in advance, so the time drawn in the
    appearance is exactly the signingTime attribute and the /M entry."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(
        self, pdf_out: Any, existing_fields_only: bool = False
    ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


@contextlib.contextmanager
def atomic_output(target: Path) -> Any:
    """A file handle whose content appears at ``target`` only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w+b") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def open_writer(inf: BinaryIO) -> IncrementalPdfFileWriter:
    try:
        return IncrementalPdfFileWriter(inf, strict=False)
    except Exception as exc:
        raise SigningError(f"not a readable PDF: {exc}") from exc


def _page_size(reader: PdfFileReader, index: int) -> tuple[float, float]:
    page_obj = reader.find_page_for_modification(index)[0].get_object()
    box = page_obj["/CropBox"] if "/CropBox" in page_obj else page_obj["/MediaBox"]
    x1, y1, x2, y2 = (float(v) for v in box)
    return x2 - x1, y2 - y1


def _page_count(reader: PdfFileReader) -> int:
    return int(reader.root["/Pages"]["/Count"])


def _next_field_name(reader: PdfFileReader, prefix: str) -> str:
    existing = {name for name, _, _ in fields.enumerate_sig_fields(reader)}
    n = 1
    while f"{prefix}_{n}" in existing:
        n += 1
    return f"{prefix}_{n}"


def _find_image(xobj: generic.PdfObject, depth: int = 0) -> tuple[int, int] | None:
    """Pixel size of the first image inside a form XObject's resources."""
    obj = xobj.get_object()
    if not isinstance(obj, generic.DictionaryObject) or depth > 4:
        return None
    if obj.get("/Subtype") == "/Image":
        return int(obj["/Width"]), int(obj["/Height"])
    res = obj.get("/Resources")
    if res is None:
        return None
    xobjects = res.get_object().get("/XObject", generic.DictionaryObject()).get_object()
    for child in xobjects.values():
        found = _find_image(child, depth + 1)
        if found:
            return found
    return None


@dataclass
class _Widget:
    page: int
    rect: tuple[float, float, float, float]
    image_px: tuple[int, int] | None


def widget_of(reader: PdfFileReader, field_name: str) -> _Widget | None:
    """The page, rectangle and image size of a field's widget (used to place the seal
    and to check overlays during validation)."""
    for i in range(_page_count(reader)):
        page = reader.find_page_for_modification(i)[0].get_object()
        annots = page["/Annots"] if "/Annots" in page else generic.ArrayObject()
        for annot_ref in annots:
            annot = annot_ref.get_object()
            if annot.get("/Subtype") != "/Widget":
                continue
            name = annot.get("/T")
            if name is None and "/Parent" in annot:
                name = annot["/Parent"].get_object().get("/T")
            if name != field_name:
                continue
            rect = tuple(float(v) for v in annot["/Rect"])
            ap = annot.get("/AP")
            image = _find_image(ap.get_object()["/N"]) if ap is not None else None
            return _Widget(i, rect, image)  # type: ignore[arg-type]
    return None


@dataclass
class SigningEngine:
    """Signs with one key, reused for many documents."""

    key: KeyHandle
    services: TrustServices = field(default_factory=TrustServices)
    _tsa_token_size: int | None = field(default=None, repr=False)

    def reserved_size(self, level: Level, signer: signers.Signer) -> int:
        """Bytes to reserve for the signature container, from the sizes of what goes in it
        (certificate chain, signature value, a real TSA response measured once), so no
        document is signed twice to find out. Returned as pyHanko counts it (hex digits)."""
        certs = {c.dump() for c in signer.cert_registry}
        if signer.signing_cert is not None:
            certs.add(signer.signing_cert.dump())
        size_of = getattr(signer, "_max_signature_size", None)
        der = sum(len(c) for c in certs) + (size_of() if size_of else 512) + 2048
        if level.rank >= Level.B_T.rank:
            if self._tsa_token_size is None:
                token = asyncio.run(self.services.timestamper().async_dummy_response("sha256"))
                self._tsa_token_size = len(token.dump())
            der += self._tsa_token_size + 512
        return 2 * der

    def sign(self, src: str | Path, dst: str | Path, opts: SignOptions) -> SignResult:
        src, dst = Path(src), Path(dst)
        if src.resolve() == dst.resolve():
            raise SigningError("output must differ from input")
        with open(src, "rb") as inf:
            return self.sign_stream(inf, dst, opts)

    def sign_stream(self, inf: BinaryIO, dst: Path, opts: SignOptions) -> SignResult:
        signer = self.key.signer()
        try:
            reserved: int | None = self.reserved_size(opts.level, signer)
        except SigningError:
            raise
        except Exception as exc:
            self.services.forget()
            raise TrustServiceError(
                f"the timestamp authority {self.services.tsa_url} cannot be reached: {exc}"
            ) from exc
        for _attempt in range(2):
            writer = open_writer(inf)
            pdf_signer, field_name, signing_time = self.pdf_signer(writer, opts, signer)
            try:
                with atomic_output(dst) as out:
                    pdf_signer.sign_pdf(writer, output=out, bytes_reserved=reserved)
                return SignResult(dst, field_name, signing_time, opts.level, opts.profile)
            except SigningError:
                raise
            except Exception as exc:
                if reserved is not None and "larger than expected" in str(exc):
                    reserved = None  # let pyHanko measure with a dry run instead
                    inf.seek(0)
                    continue
                self.services.forget()
                if _is_service_failure(exc):
                    raise TrustServiceError(
                        f"a trust service (timestamp, OCSP or CRL) cannot be reached: {exc}"
                    ) from exc
                raise SigningError(f"signing failed: {type(exc).__name__}: {exc}") from exc
        raise SigningError("signing failed: the signature does not fit its reservation")

    def pdf_signer(
        self,
        writer: IncrementalPdfFileWriter,
        opts: SignOptions,
        signer: signers.Signer,
        *,
        embed_ltv: bool = True,
    ) -> tuple[signers.PdfSigner, str, datetime]:
        """A pyHanko PdfSigner set up for ``opts``: field, Decree-30 appearance, level.
        With ``embed_ltv=False`` B-LT/B-LTA data is left for a later :func:`extend`."""
        reader = writer.prev
        signing_time = (opts.signing_time or datetime.now(UTC)).replace(microsecond=0)
        field_name = opts.field_name or _next_field_name(reader, FIELD_PREFIX[opts.profile])
        existing = {name: filled for name, filled, _ in fields.enumerate_sig_fields(reader)}
        if field_name in existing and existing[field_name] is not None:
            raise SigningError(f"signature field {field_name!r} is already signed")

        style, box, page = self._appearance(reader, opts, signing_time)
        new_field = None
        if field_name not in existing:
            new_field = fields.SigFieldSpec(sig_field_name=field_name, on_page=page, box=box)
        level = opts.level
        ltv = embed_ltv and level.rank >= Level.B_LT.rank
        meta = signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            embed_validation_info=ltv,
            use_pades_lta=ltv and level is Level.B_LTA,
            validation_context=self.services.validation_context(self.key.chain) if ltv else None,
            reason=opts.reason,
            location=opts.location,
            # Validation data goes in the signature's own revision (B-LT), or before the
            # document timestamp (B-LTA): the last signature then covers the whole file.
            dss_settings=DSSContentSettings(
                placement=(
                    SigDSSPlacementPreference.TOGETHER_WITH_NEXT_TS
                    if level is Level.B_LTA
                    else SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE
                ),
                include_vri=False,
                next_ts_settings=TimestampDSSContentSettings(
                    update_before_ts=True, include_vri=False
                ),
            ),
        )
        timestamper = self.services.timestamper() if level.rank >= Level.B_T.rank else None
        pdf_signer = _TimedPdfSigner(
            meta,
            signer=signer,
            timestamper=timestamper,
            stamp_style=style,
            new_field_spec=new_field,
            signing_time=signing_time,
        )
        return pdf_signer, field_name, signing_time

    # -- appearances -------------------------------------------------------------------

    def _appearance(
        self, reader: PdfFileReader, opts: SignOptions, t: datetime
    ) -> tuple[BaseStampStyle, tuple[int, int, int, int] | None, int]:
        info = self.key.info
        n_pages = _page_count(reader)
        if opts.profile is Profile.PERSONAL:
            if opts.signature_image is None:
                raise SigningError("the personal signature needs the leader's signature image")
            image = _image(opts.signature_image)
            # an empty field of the draft: the appearance is laid out at its size
            existing = widget_of(reader, opts.field_name) if opts.field_name else None
            size = {}
            if existing is not None:
                x1, y1, x2, y2 = existing.rect
                size = {"width": abs(x2 - x1), "height": abs(y2 - y1)}
            spec = personal_spec(
                opts.authority,
                opts.title if opts.title is not None else info.title,
                opts.full_name or info.common_name,
                image,
                titles=not opts.titles_on_page,
                name=not opts.name_on_page,
                **size,
            )
            page = n_pages - 1 if opts.page is None else opts.page
            box = opts.box or self._default_personal_box(reader, page, spec)
            return Decree30StampStyle(spec=spec), _int_box(box), page
        if opts.profile is Profile.ORGANIZATION:
            if opts.seal_image is None:
                raise SigningError("the organization signature needs the agency's seal image")
            personal = self._valid_personal_signature(reader)
            stream = reader.stream
            at = stream.tell()
            try:
                found = signature_ink_on_page(stream, personal)
            finally:
                stream.seek(at)
            if found is None:
                raise SigningError(
                    f"the personal signature {personal!r} has no visible "
                    "signature image to place the seal on"
                )
            seal = _image(opts.seal_image)
            spec = seal_spec(seal)
            rect = seal_rect_for(found[1], seal, spec.width)
            return Decree30StampStyle(spec=spec), _round_box(rect), found[0]
        if opts.profile is Profile.ATTACHMENT:
            if not opts.main_number:
                raise SigningError(
                    "the attachment signature needs the main document's number and symbol"
                )
            lines = [f"Kèm theo văn bản số: {opts.main_number}", f"Thời gian ký: {vn_time(t)}"]
        else:
            lines = copy_lines(opts.copy_type, opts.agency or info.organization, t)
        spec = text_block_spec(lines)
        page = 0 if opts.page is None else opts.page
        return (
            Decree30StampStyle(spec=spec),
            _int_box(opts.box or self._top_right_box(reader, page, spec)),
            page,
        )

    @staticmethod
    def _default_personal_box(
        reader: PdfFileReader, page: int, spec: StampSpec
    ) -> tuple[float, float, float, float]:
        w, _h = _page_size(reader, page)
        x2 = w - 20 * MM
        y1 = 30 * MM
        return (x2 - PERSONAL_WIDTH, y1, x2, y1 + PERSONAL_HEIGHT)

    @staticmethod
    def _top_right_box(
        reader: PdfFileReader, page: int, spec: StampSpec
    ) -> tuple[float, float, float, float]:
        w, h = _page_size(reader, page)
        x2, y2 = w - 10 * MM, h - 8 * MM
        return (x2 - spec.width, y2 - spec.height, x2, y2)

    def _valid_personal_signature(self, reader: PdfFileReader) -> str:
        """The newest visible signature by someone other than this key's holder that is
        intact, cryptographically valid and trusted; refuse sealing without one."""
        from pyhanko.sign.validation import validate_pdf_signature

        own = self.key.cert.sha256
        reasons = []
        for sig in reversed(reader.embedded_regular_signatures):
            cert = sig.signer_cert
            if cert.sha256 == own:
                continue
            widget = widget_of(reader, sig.field_name)
            if widget is None or widget.image_px is None:
                continue
            vc = self.services.validation_context(for_signing=False)
            status = validate_pdf_signature(sig, vc)
            if status.bottom_line:
                return sig.field_name
            reasons.append(f"{sig.field_name}: {status.summary()}")
        detail = "; ".join(reasons) if reasons else "none found"
        raise SigningError(
            "the organization signature may only be applied to a document "
            f"the competent person has validly signed ({detail})"
        )


def _is_service_failure(exc: BaseException) -> bool:
    """A timestamp or revocation fetch failed (network), anywhere in the cause chain."""
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimestampRequestError | OSError | TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _image(path: Path) -> EncodedImage:
    try:
        return load_image(path)
    except (OSError, ValueError) as exc:
        raise SigningError(str(exc)) from exc


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = box
    return (round(x1), round(y1), round(x2), round(y2))


def _round_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """A box of whole points with the size of ``box`` kept (the seal's real size: rounding
    each corner separately could stretch it by a point)."""
    x1, y1, x2, y2 = box
    w, h = round(x2 - x1), round(y2 - y1)
    return (round(x1), round(y1), round(x1) + w, round(y1) + h)
