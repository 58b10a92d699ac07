"""PDFs the tests make themselves: drafts with Decree-30 number/date fields, plain pages."""

from __future__ import annotations

from pathlib import Path

import pikepdf

NUMBER_FIELD = "SoKyHieu"
DATE_FIELD = "NgayThang"


def _page(pdf: pikepdf.Pdf, text: str) -> pikepdf.Dictionary:
    stream = f"BT /F1 13 Tf 72 760 Td ({text}) Tj ET".encode("latin-1", "replace")
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name("/Times-Roman"),
        )
    )
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


def draft_with_fields(path: Path, pages: int = 1, over_text: bool = False) -> Path:
    """A draft whose first page carries empty text fields for the number/symbol and the
    date line, as the System's templates do (Decree 30: the System fills them after the
    leader signs). ``over_text`` places the number field over the page's text instead:
    the set-up of a shadow attack."""
    pdf = pikepdf.new()
    for i in range(pages):
        pdf.pages.append(pikepdf.Page(_page(pdf, f"QUYET DINH - trang {i + 1}")))
    helv = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name("/Helvetica")
        )
    )
    fields = []
    placed = (
        ((NUMBER_FIELD, [60, 750, 320, 778]), (DATE_FIELD, [320, 700, 560, 720]))
        if over_text
        else ((NUMBER_FIELD, [60, 700, 260, 720]), (DATE_FIELD, [320, 700, 560, 720]))
    )
    for name, rect in placed:
        field = pdf.make_indirect(
            pikepdf.Dictionary(
                FT=pikepdf.Name.Tx,
                T=pikepdf.String(name),
                V=pikepdf.String(""),
                DA=pikepdf.String("/Helv 12 Tf 0 g"),
                Type=pikepdf.Name.Annot,
                Subtype=pikepdf.Name.Widget,
                Rect=rect,
                F=4,
                P=pdf.pages[0].obj,
            )
        )
        fields.append(field)
        page = pdf.pages[0].obj
        if "/Annots" not in page:
            page.Annots = pikepdf.Array()
        page.Annots.append(field)
    pdf.Root.AcroForm = pdf.make_indirect(
        pikepdf.Dictionary(
            Fields=pikepdf.Array(fields),
            DA=pikepdf.String("/Helv 12 Tf 0 g"),
            DR=pikepdf.Dictionary(Font=pikepdf.Dictionary(Helv=helv)),
        )
    )
    pdf.save(path)
    return path


def big_pdf(path: Path, size: int, pages: int = 1) -> Path:
    """A valid PDF of about ``size`` bytes, written as a stream (never held in memory):
    ``pages`` pages, one of them drawing a large incompressible image."""
    import hashlib

    chunk = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(32768))
    offsets: list[int] = []
    with open(path, "wb") as f:

        def obj(body: bytes) -> None:
            offsets.append(f.tell())
            f.write(b"%d 0 obj\n" % len(offsets) + body + b"\nendobj\n")

        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        n_img = max(1, size - 4096)
        side = int((n_img / 3) ** 0.5)
        img_len = side * side * 3
        kids = " ".join(f"{5 + i} 0 R" for i in range(pages))
        obj(b"<< /Type /Catalog /Pages 2 0 R >>")
        obj(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids.encode(), pages))
        # 3: the image; 4: its drawing
        offsets.append(f.tell())
        f.write(
            b"3 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d "
            b"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n"
            % (side, side, img_len)
        )
        left = img_len
        while left:
            piece = chunk[:left]
            f.write(piece)
            left -= len(piece)
        f.write(b"\nendstream\nendobj\n")
        draw = b"q 500 0 0 700 50 70 cm /Im0 Do Q"
        obj(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(draw), draw))
        for i in range(pages):
            res = b"/Resources << /XObject << /Im0 3 0 R >> >> /Contents 4 0 R" if i == 0 else b""
            obj(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] %s >>" % res)
        xref = f.tell()
        f.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for off in offsets:
            f.write(b"%010d 00000 n \n" % off)
        f.write(
            b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(offsets) + 1, xref)
        )
    return path
