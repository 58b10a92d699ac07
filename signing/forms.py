"""Filling the number/symbol and date fields of a signed draft (Decree 30 order: the leader
signs → the System assigns number and date → the clerk seals).

The values go into the existing text fields in an incremental update, with appearance
streams drawn in the embedded serif font, so earlier signatures stay intact and validators
classify the change as form filling. Each value may carry its own type style
(:class:`FieldText`): Decree 30 sets the place-and-date line in italic, the number line
upright.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from .engine import SigningError, atomic_output, open_writer
from .fonts import vietnamese_serif

FONT_RESOURCE = "/EdmsSerif"


@dataclass(frozen=True)
class FieldText:
    """A value and how it is set: size in points, italic or upright, aligned in the
    widget (``left``, ``center``, ``right``) with ``padding`` points to the edge, and an
    optional baseline (points above the widget's bottom; default: centred)."""

    value: str
    size: float = 13.0
    italic: bool = False
    align: str = "center"
    padding: float = 2.0
    baseline: float | None = None


def _fields(writer: IncrementalPdfFileWriter) -> dict[str, generic.IndirectObject]:
    form = writer.root.get("/AcroForm")
    if form is None:
        return {}
    found: dict[str, generic.IndirectObject] = {}

    def walk(refs: generic.ArrayObject, prefix: str) -> None:
        for ref in refs:
            obj = ref.get_object()
            name = str(obj.get("/T", ""))
            full = f"{prefix}.{name}" if prefix and name else (name or prefix)
            if "/Kids" in obj and "/FT" not in obj:
                walk(
                    obj["/Kids"].get_object()
                    if hasattr(obj["/Kids"], "get_object")
                    else obj["/Kids"],
                    full,
                )
            else:
                found[full] = ref

    walk(form.get_object().get("/Fields", generic.ArrayObject()).get_object(), "")
    return found


def fill_fields(
    src: str | Path,
    dst: str | Path,
    values: dict[str, str | FieldText],
    font_size: float = 13.0,
    align: str = "center",
) -> None:
    """Set text field values (by full field name) in an incremental update. A plain
    string is set upright at ``font_size``, aligned by ``align``."""
    src, dst = Path(src), Path(dst)
    if not values:
        raise SigningError("no field values given")
    with open(src, "rb") as inf:
        writer = open_writer(inf)
        fields = _fields(writer)
        missing = sorted(set(values) - set(fields))
        if missing:
            raise SigningError(
                f"no such form field(s): {', '.join(missing)}; the draft has: "
                f"{', '.join(sorted(fields)) or 'none'}"
            )
        font_refs: dict[bool, generic.IndirectObject] = {}
        for name, given in values.items():
            spec = (
                given if isinstance(given, FieldText) else FieldText(given, font_size, align=align)
            )
            font = vietnamese_serif(False, spec.italic)
            if spec.italic not in font_refs:
                font_refs[spec.italic] = font.add_to(writer)
            font_ref = font_refs[spec.italic]
            size = spec.size
            ref = fields[name]
            field = ref.get_object()
            if field.get("/FT") != "/Tx":
                raise SigningError(f"field {name!r} is not a text field")
            flags = int(field.get("/Ff", 0))
            if flags & 1:
                raise SigningError(f"field {name!r} is read-only")
            text = unicodedata.normalize("NFC", spec.value)
            field[pdf_name("/V")] = pdf_string(text)
            try:
                kids = list(field["/Kids"])  # [] dereferences; dict.get would not
            except KeyError:
                kids = []
            widgets = kids or [ref]
            for wref in widgets:
                widget = wref.get_object()
                x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
                w, h = x2 - x1, y2 - y1
                width = font.width(text, size)
                x = {"left": spec.padding, "right": w - spec.padding - width}.get(
                    spec.align, (w - width) / 2
                )
                y = spec.baseline if spec.baseline is not None else (h - size * 0.7) / 2
                content = b"/Tx BMC q BT 0 g %s %g Tf 1 0 0 1 %g %g Tm %s ET Q EMC" % (
                    FONT_RESOURCE.encode(),
                    size,
                    x,
                    y,
                    font.show(text),
                )
                ap = generic.StreamObject(
                    {
                        pdf_name("/Type"): pdf_name("/XObject"),
                        pdf_name("/Subtype"): pdf_name("/Form"),
                        pdf_name("/BBox"): generic.ArrayObject(
                            [
                                generic.FloatObject(0),
                                generic.FloatObject(0),
                                generic.FloatObject(w),
                                generic.FloatObject(h),
                            ]
                        ),
                        pdf_name("/Resources"): generic.DictionaryObject(
                            {
                                pdf_name("/Font"): generic.DictionaryObject(
                                    {
                                        pdf_name(FONT_RESOURCE): font_ref,
                                    }
                                ),
                            }
                        ),
                    },
                    stream_data=content,
                )
                widget[pdf_name("/AP")] = generic.DictionaryObject(
                    {pdf_name("/N"): writer.add_object(ap)}
                )
                if wref is not ref:
                    writer.mark_update(wref)
            writer.mark_update(ref)
        with atomic_output(dst) as out:
            writer.write(out)
