"""Known PDF-signature attacks, made by the tests themselves on files signed with the dev PKI
(so that trust is never what fails them)."""

from __future__ import annotations

import io
import re
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers


def _incremental(src: Path, dst: Path, edit: object) -> Path:
    with open(src, "rb") as f:
        w = IncrementalPdfFileWriter(io.BytesIO(f.read()), strict=False)
    edit(w)  # type: ignore[operator]
    with open(dst, "wb") as out:
        w.write(out)
    return dst


def content_changed(src: Path, dst: Path) -> Path:
    """Incremental saving attack: page 1's content replaced in a later revision."""

    def edit(w: IncrementalPdfFileWriter) -> None:
        page_ref = w.find_page_for_modification(0)[0]
        page = page_ref.get_object()
        page[pdf_name("/Contents")] = w.add_object(
            generic.StreamObject(
                stream_data=b"BT /F1 13 Tf 72 760 Td (SO TIEN: 999.000.000 DONG) Tj ET"
            )
        )
        w.mark_update(page_ref)

    return _incremental(src, dst, edit)


def page_added(src: Path, dst: Path) -> Path:
    def edit(w: IncrementalPdfFileWriter) -> None:
        w.insert_page(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Page"),
                    pdf_name("/MediaBox"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                    ),
                    pdf_name("/Contents"): w.add_object(
                        generic.StreamObject(
                            stream_data=b"BT /F1 13 Tf 72 760 Td (Trang them) Tj ET"
                        )
                    ),
                }
            )
        )

    return _incremental(src, dst, edit)


def page_removed(src: Path, dst: Path) -> Path:
    """Remove the last page from the page tree in a later revision."""

    def edit(w: IncrementalPdfFileWriter) -> None:
        pages_ref = w.root.raw_get("/Pages")
        pages = pages_ref.get_object()
        kids = pages["/Kids"]
        pages[pdf_name("/Kids")] = generic.ArrayObject(list(kids)[:-1])
        pages[pdf_name("/Count")] = generic.NumberObject(len(kids) - 1)
        w.mark_update(pages_ref)

    return _incremental(src, dst, edit)


def evil_annotation(src: Path, dst: Path) -> Path:
    """A FreeText annotation painting new text over the page after certification."""

    def edit(w: IncrementalPdfFileWriter) -> None:
        page_ref = w.find_page_for_modification(0)[0]
        page = page_ref.get_object()
        ap = w.add_object(
            generic.StreamObject(
                {
                    pdf_name("/Type"): pdf_name("/XObject"),
                    pdf_name("/Subtype"): pdf_name("/Form"),
                    pdf_name("/BBox"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, 300, 30)]
                    ),
                },
                stream_data=b"1 1 1 rg 0 0 300 30 re f 0 g BT /Helv 14 Tf 2 8 Td (DA DUYET) Tj ET",
            )
        )
        annot = w.add_object(
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/Annot"),
                    pdf_name("/Subtype"): pdf_name("/FreeText"),
                    pdf_name("/Rect"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (60, 750, 360, 780)]
                    ),
                    pdf_name("/Contents"): generic.pdf_string("DA DUYET"),
                    pdf_name("/DA"): generic.pdf_string("/Helv 14 Tf 0 g"),
                    pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): ap}),
                }
            )
        )
        annots = page.get("/Annots")
        page[pdf_name("/Annots")] = generic.ArrayObject([*(annots or []), annot])
        w.mark_update(page_ref)

    return _incremental(src, dst, edit)


def certify(
    src: Path, dst: Path, signer: signers.Signer, perm: fields.MDPPerm = fields.MDPPerm.FILL_FORMS
) -> Path:
    with open(src, "rb") as f, open(dst, "wb") as out:
        signers.sign_pdf(
            IncrementalPdfFileWriter(f),
            signers.PdfSignatureMetadata(
                field_name="Certification",
                certify=True,
                docmdp_permissions=perm,
                subfilter=fields.SigSeedSubFilter.PADES,
            ),
            signer,
            output=out,
        )
    return dst


_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f]+)>")
_BYTERANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _last(pattern: re.Pattern[bytes], data: bytes) -> re.Match[bytes]:
    found = list(pattern.finditer(data))
    assert found, pattern.pattern
    return found[-1]


def contents_zeroed(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    m = _last(_CONTENTS, data)
    data[m.start(1) : m.end(1)] = b"0" * (m.end(1) - m.start(1))
    dst.write_bytes(bytes(data))
    return dst


def contents_empty(src: Path, dst: Path) -> Path:
    """`/Contents <>` followed by blanks, so that no offset moves."""
    data = bytearray(src.read_bytes())
    m = _last(_CONTENTS, data)
    n = m.end(1) - m.start(1)
    data[m.start(1) - 1 : m.end(1) + 1] = b"<>" + b" " * n
    dst.write_bytes(bytes(data))
    return dst


def contents_missing(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    m = _last(_CONTENTS, data)
    data[m.start() : m.start() + len(b"/Contents")] = b"/Kontents"
    dst.write_bytes(bytes(data))
    return dst


def byterange_malformed(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    m = _last(_BYTERANGE, data)
    bad = b"/ByteRange [0 0 0 0]"
    data[m.start() : m.end()] = bad + b" " * (m.end() - m.start() - len(bad))
    dst.write_bytes(bytes(data))
    return dst


def signature_wrapping(src: Path, dst: Path) -> Path:
    """Move the signed second range: the ByteRange now points past a region the attacker
    appended, so the signed bytes are no longer the document a viewer shows."""
    data = bytearray(src.read_bytes())
    m = _last(_BYTERANGE, data)
    a, b, c, d = (int(x) for x in m.groups())
    payload = b"\n% wrapped\n" + data[c : c + d]
    new_c = len(data) + 0
    text = b"/ByteRange [%d %d %d %d]" % (a, b, new_c + len(b"\n% wrapped\n"), d)
    span = m.end() - m.start()
    if len(text) > span:
        raise ValueError("no room to rewrite the ByteRange")
    data[m.start() : m.end()] = text + b" " * (span - len(text))
    dst.write_bytes(bytes(data) + payload)
    return dst


def overlay_replaced(src: Path, dst: Path) -> Path:
    """Shadow hide/replace with an XObject: the page paints a form XObject; after signing,
    the page's resources point the same name to a different XObject."""

    def edit(w: IncrementalPdfFileWriter) -> None:
        page_ref = w.find_page_for_modification(0)[0]
        page = page_ref.get_object()
        fake = w.add_object(
            generic.StreamObject(
                {
                    pdf_name("/Type"): pdf_name("/XObject"),
                    pdf_name("/Subtype"): pdf_name("/Form"),
                    pdf_name("/BBox"): generic.ArrayObject(
                        [generic.NumberObject(v) for v in (0, 0, 595, 842)]
                    ),
                },
                stream_data=b"1 1 1 rg 60 740 400 40 re f 0 g BT /F1 13 Tf 72 760 Td "
                b"(SO TIEN: 999.000.000 DONG) Tj ET",
            )
        )
        res = page["/Resources"]
        xobjs = generic.DictionaryObject(dict(res.get("/XObject", {})))
        xobjs[pdf_name("/Shadow")] = fake
        res[pdf_name("/XObject")] = xobjs
        page[pdf_name("/Resources")] = res
        w.mark_update(page_ref)

    return _incremental(src, dst, edit)
