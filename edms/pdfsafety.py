"""Costly small files: a PDF is accepted only when what it unpacks to is bounded.

A few hundred kilobytes can inflate to gigabytes (a "flate bomb"), or declare an image of
billions of pixels; reading, indexing, previewing or OCR-ing such a file would take
minutes and gigabytes. Before anything else reads an uploaded PDF, :func:`check_pdf`
opens it with qpdf (pikepdf) and:

* inflates every stream that is not an image, in bounded steps (never more than one step
  in memory), stopping as soon as a limit is passed: one stream may unpack to at most
  ``EDMS_PDF_MAX_STREAM_MB`` (64), all of them together to ``EDMS_PDF_MAX_EXPANDED_MB``
  (512);
* reads every image's declared size: at most ``EDMS_MAX_MEGAPIXELS`` (100) megapixels
  (an A3 page at 600 dpi is 70). Renderers allocate by the declared size and read no
  more than it needs, so image data is not inflated here;
* counts the pages (at most :data:`MAX_PAGES`).

A file refused here is refused with a 422 naming the object and the limit; nothing is
stored. A file qpdf cannot open is left to the caller's own check, which names the damage.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import pikepdf

from .config import Settings
from .errors import ClientError

MIB = 1024 * 1024
MAX_PAGES = 20_000
STEP = 1 << 20  # inflate at most 1 MiB at a time
# The most some filters can expand their input (used when a stream is not inflated
# step by step): RunLength 128/2, ASCII85 ("z" is four zero bytes), LZW (a 12-bit code
# for a string of up to 4096 bytes).
WORST_RATIO = {
    "/RunLengthDecode": 64,
    "/ASCII85Decode": 4,
    "/A85": 4,
    "/ASCIIHexDecode": 1,
    "/AHx": 1,
    "/LZWDecode": 2731,
    "/LZW": 2731,
}
FLATE = ("/FlateDecode", "/Fl")
IMAGE_CODECS = ("/DCTDecode", "/DCT", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode", "/CCF")


class CostlyFile(ClientError):
    """The file unpacks to far more than it weighs, or declares a huge image."""

    status = 422
    title = "File too costly to process"
    type_slug = "costly-file"


def _filters(stream: pikepdf.Stream) -> list[str]:
    f = stream.get("/Filter")
    if f is None:
        return []
    if isinstance(f, pikepdf.Array):
        return [str(x) for x in f]
    return [str(f)]


def _inflated_size(raw: bytes, cap: int) -> int:
    """Bytes a Flate stream unpacks to, counting no further than ``cap`` (+1 step)."""
    d = zlib.decompressobj()
    total = 0
    try:
        total += len(d.decompress(raw, STEP))
        while d.unconsumed_tail and total <= cap:
            total += len(d.decompress(d.unconsumed_tail, STEP))
        if total <= cap:
            total += len(d.flush())
    except zlib.error:
        pass  # damaged data: readers stop there too; what was counted stands
    return total


def _stream_size(stream: pikepdf.Stream, cap: int, where: str) -> int:
    """What a non-image stream unpacks to, bounded; raises when it would pass ``cap``."""
    filters = _filters(stream)
    raw = bytes(stream.read_raw_bytes())
    if not filters:
        return len(raw)
    data = raw
    for i, name in enumerate(filters):
        if name in FLATE:
            size = _inflated_size(data, cap)
            if size > cap or i == len(filters) - 1:
                return size
            data = zlib.decompress(data)  # within cap: safe to hold
        elif name in IMAGE_CODECS:
            return len(data)  # an image codec: bounded by the image's pixels
        else:
            worst = WORST_RATIO.get(name)
            if worst is None:
                return len(data)  # an unknown filter: readers cannot unpack it either
            if len(data) * worst <= cap:
                # small enough to unpack whole, whatever it holds (qpdf decodes it)
                try:
                    return len(stream.read_bytes(pikepdf.StreamDecodeLevel.generalized))
                except pikepdf.PdfError:
                    return len(data)
            raise CostlyFile(
                f"{where} uses {name[1:]} compression on {len(data)} bytes, "
                f"which could unpack to more than {cap // MIB} MiB; save the "
                "PDF again (e.g. print it to PDF) and upload that"
            )
    return len(data)


def check_pdf(path: Path, settings: Settings, label: str | None = None) -> None:
    """Refuse (:class:`CostlyFile`) a PDF that unpacks past the configured limits."""
    name = f"'{label}'" if label else "the PDF"
    stream_cap = settings.pdf_max_stream_mb * MIB
    total_cap = settings.pdf_max_expanded_mb * MIB
    max_pixels = settings.max_megapixels * 1_000_000
    try:
        pdf = pikepdf.open(path)
    except (pikepdf.PdfError, pikepdf.PasswordError, OSError, ValueError):
        return  # the caller's own parsing names the damage (or the password)
    with pdf:
        if len(pdf.pages) > MAX_PAGES:
            raise CostlyFile(
                f"{name} has {len(pdf.pages)} pages, more than the {MAX_PAGES} accepted"
            )
        total = 0
        for obj in pdf.objects:
            if not isinstance(obj, pikepdf.Stream):
                continue
            where = f"{name} (object {obj.objgen[0]})"
            if obj.get("/Subtype") == pikepdf.Name.Image:
                try:
                    pixels = int(obj.get("/Width", 0)) * int(obj.get("/Height", 0))
                except (TypeError, ValueError):
                    pixels = 0
                if pixels > max_pixels:
                    raise CostlyFile(
                        f"{where} holds an image of {pixels / 1e6:.0f} "
                        f"megapixels, more than the {settings.max_megapixels} "
                        "accepted (EDMS_MAX_MEGAPIXELS)"
                    )
                continue
            size = _stream_size(obj, stream_cap, where)
            if size > stream_cap:
                raise CostlyFile(
                    f"{where} unpacks to more than {stream_cap // MIB} MiB "
                    f"from {len(obj.read_raw_bytes())} bytes: a compression "
                    "bomb is not accepted (EDMS_PDF_MAX_STREAM_MB)"
                )
            total += size
            if total > total_cap:
                raise CostlyFile(
                    f"{name} unpacks to more than {total_cap // MIB} MiB in "
                    "all (EDMS_PDF_MAX_EXPANDED_MB); it is not accepted"
                )
