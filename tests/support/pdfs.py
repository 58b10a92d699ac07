"""PDFs the tests make themselves: drafts with Decree-30 number/date fields, plain pages."""

from __future__ import annotations

from pathlib import Path

import pikepdf

NUMBER_FIELD = "SoKyHieu"
DATE_FIELD = "NgayThang"


def _page(pdf: pikepdf.Pdf, text: str) -> pikepdf.Dictionary:
    stream = f"BT /F1 13 Tf 72 760 Td ({text}) Tj ET".encode("latin-1", "replace")
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font,
                                                Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name("/Times-Roman")))
    return pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 595, 842],
        Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
        Contents=pdf.make_stream(stream),
    )


def plain_pdf(path: Path, pages: int = 1, title: str = "Van ban du thao") -> Path:
    pdf = pikepdf.new()
    for i in range(pages):
        pdf.pages.append(pikepdf.Page(_page(pdf, f"{title} - trang {i + 1}")))
    pdf.save(path)
    return path


def draft_with_fields(path: Path, pages: int = 1) -> Path:
    """A draft whose first page carries empty text fields for the number/symbol and the
    date line, as the System's templates do (Decree 30: the System fills them after the
    leader signs)."""
    pdf = pikepdf.new()
    for i in range(pages):
        pdf.pages.append(pikepdf.Page(_page(pdf, f"QUYET DINH - trang {i + 1}")))
    helv = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font,
                                                Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name("/Helvetica")))
    fields = []
    for name, rect in ((NUMBER_FIELD, [60, 700, 260, 720]), (DATE_FIELD, [320, 700, 560, 720])):
        field = pdf.make_indirect(pikepdf.Dictionary(
            FT=pikepdf.Name.Tx, T=pikepdf.String(name), V=pikepdf.String(""),
            DA=pikepdf.String("/Helv 12 Tf 0 g"), Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.Widget, Rect=rect, F=4, P=pdf.pages[0].obj,
        ))
        fields.append(field)
        page = pdf.pages[0].obj
        if "/Annots" not in page:
            page.Annots = pikepdf.Array()
        page.Annots.append(field)
    pdf.Root.AcroForm = pdf.make_indirect(pikepdf.Dictionary(
        Fields=pikepdf.Array(fields), DA=pikepdf.String("/Helv 12 Tf 0 g"),
        DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv)),
    ))
    pdf.save(path)
    return path
