"""Stage 1, intake: scans in, one ordered list of checked pages out.

Accepted: PDF scans, JPEG, PNG and (multi-page) TIFF; one file, a folder (files in
natural order: ``2.png`` before ``10.png``) or a ZIP archive (its members in the same
order). Every file is checked by its content (python-magic), opened completely (a corrupt
or truncated image is refused), and its resolution read: below ``min_dpi`` (200, Circular
01/2023) it is refused; below ``warn_dpi`` (300, archival) it is accepted with a warning.
What a file costs to unpack is checked before it is decoded: an image (or a PDF scan's page
image) over ``max_pixels`` (``EDMS_MAX_MEGAPIXELS``, 100 megapixels: an A3 page at 600 dpi
is 70) is refused from its header alone, and a PDF scan's other streams are bounded as
every uploaded PDF's are (:mod:`edms.pdfsafety`).
Colour and page order are kept; the pages are assembled at 100 % scale (the page size
follows the scan's own resolution) without re-encoding the images.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import img2pdf
import pikepdf
from PIL import Image, UnidentifiedImageError

from ..config import Settings
from ..errors import ClientError
from ..filetypes import detect

SCAN_TYPES = {
    "application/pdf": "PDF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
}
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_BYTES = 2 * 1024**3
MAX_PIXELS = 100_000_000  # default of EDMS_MAX_MEGAPIXELS


class ScanRefused(ClientError):
    """One input cannot be digitized; the message says which and why."""

    status = 422
    title = "Scan refused"
    type_slug = "scan-refused"


@dataclass(frozen=True)
class ScanFile:
    path: Path
    label: str  # as the clerk named it: file name, or archive:member
    kind: str  # PDF | JPEG | PNG | TIFF
    pages: int
    dpi: int  # the lowest resolution of its pages


@dataclass
class Intake:
    files: list[ScanFile]
    warnings: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return sum(f.pages for f in self.files)

    @property
    def min_dpi(self) -> int:
        return min(f.dpi for f in self.files)


def _natural(name: str) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def expand(paths: list[Path], workdir: Path) -> list[tuple[Path, str]]:
    """Files to read, in order: folders by natural name order, ``.zip`` archives' members
    extracted into ``workdir`` (bounded in count and size, names never used as paths).
    A ZIP under another name is a disguised file, refused by :func:`check_file`."""
    out: list[tuple[Path, str]] = []
    for p in paths:
        if p.is_dir():
            for child in sorted(
                (c for c in p.rglob("*") if c.is_file()),
                key=lambda c: _natural(str(c.relative_to(p))),
            ):
                out.append((child, f"{p.name}/{child.relative_to(p)}"))
        elif p.is_file() and p.suffix.lower() == ".zip":
            if detect(_head(p)).mime != "application/zip":
                raise ScanRefused(f"{p.name}: is named .zip but is not a ZIP archive")
            out.extend(_unzip(p, workdir))
        elif p.is_file():
            out.append((p, p.name))
        else:
            raise ScanRefused(f"{p}: no such file or folder")
    if not out:
        raise ScanRefused("no scan files given")
    return out


def _head(path: Path, n: int = 65536) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _unzip(archive: Path, workdir: Path) -> list[tuple[Path, str]]:
    try:
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise ScanRefused(f"{archive.name}: more than {MAX_ZIP_MEMBERS} files")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise ScanRefused(
                    f"{archive.name}: unpacks to more than {MAX_ZIP_BYTES // 1024**3} GiB"
                )
            target = workdir / f"zip-{archive.stem[:40]}"
            target.mkdir(parents=True, exist_ok=True)
            out = []
            for i, m in enumerate(sorted(members, key=lambda m: _natural(m.filename))):
                dest = target / f"{i:05d}"
                with z.open(m) as src, open(dest, "wb") as dst:
                    copied = 0
                    while chunk := src.read(1 << 20):
                        copied += len(chunk)
                        if copied > m.file_size:  # lies about its size: a zip bomb
                            raise ScanRefused(
                                f"{archive.name}:{m.filename} is larger than the archive declares"
                            )
                        dst.write(chunk)
                out.append((dest, f"{archive.name}:{m.filename}"))
            return out
    except (zipfile.BadZipFile, OSError) as exc:
        raise ScanRefused(f"{archive.name}: a damaged ZIP archive ({exc})") from None


def check_file(
    path: Path,
    label: str,
    min_dpi: int,
    warn_dpi: int,
    max_pixels: int = MAX_PIXELS,
    settings: Settings | None = None,
) -> tuple[ScanFile, list[str]]:
    """Type, cost, integrity and resolution of one file."""
    detected = detect(_head(path))
    kind = SCAN_TYPES.get(detected.mime)
    if kind is None:
        suffix = Path(label).suffix.lower()
        disguise = f" despite its {suffix} name" if suffix else ""
        raise ScanRefused(
            f"{label}: is {detected.name}{disguise}, not a scan (PDF, JPEG, "
            "PNG or TIFF); only .zip archives are unpacked"
        )
    if kind == "PDF":
        if settings is not None:
            from ..pdfsafety import check_pdf

            check_pdf(path, settings, label)
        pages, dpi = _pdf_facts(path, label, max_pixels)
    else:
        pages, dpi = _image_facts(path, label, kind, max_pixels)
    if dpi < min_dpi:
        raise ScanRefused(
            f"{label}: scanned at {dpi} dpi, below the {min_dpi} dpi "
            "required for an electronic copy; scan it again"
        )
    warnings = (
        [f"{label}: {dpi} dpi is below the {warn_dpi} dpi recommended for archives"]
        if dpi < warn_dpi
        else []
    )
    return ScanFile(path, label, kind, pages, dpi), warnings


def _too_many_pixels(label: str, width: int, height: int, max_pixels: int) -> ScanRefused:
    return ScanRefused(
        f"{label}: {width}×{height} pixels ({width * height / 1e6:.0f} "
        f"megapixels) is more than the {max_pixels / 1e6:.0f} megapixels "
        "accepted for one page (EDMS_MAX_MEGAPIXELS); scan it at a lower "
        "resolution"
    )


def _image_facts(
    path: Path, label: str, kind: str, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    Image.MAX_IMAGE_PIXELS = None  # checked below, from each frame's header, before decoding
    try:
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > 5000:
                raise ScanRefused(
                    f"{label}: {frames} pages in one file is more than the 5000 accepted"
                )
            dpis = []
            for i in range(frames):
                im.seek(i)
                width, height = im.size
                if width * height > max_pixels:
                    raise _too_many_pixels(label, width, height, max_pixels)
                dpi = im.info.get("dpi")
                if kind == "PNG":
                    # Checks every chunk's CRC up to IEND without inflating the pixels: a
                    # truncated or altered PNG fails here, at a fraction of a decode.
                    im.verify()
                else:
                    im.load()  # decodes every byte: a truncated or corrupt file fails
                if not dpi or not dpi[0] or not dpi[1]:
                    raise ScanRefused(
                        f"{label}: the {kind} has no resolution (dpi) "
                        "recorded; scan it again with the resolution set"
                    )
                dpis.append(round(min(float(dpi[0]), float(dpi[1]))))
            return frames, min(dpis)
    except ScanRefused:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise ScanRefused(f"{label}: a damaged {kind} file ({exc})") from None


def _pdf_facts(path: Path, label: str, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    try:
        with pikepdf.open(path) as pdf:
            pages = len(pdf.pages)
    except pikepdf.PasswordError:
        raise ScanRefused(f"{label}: the PDF is encrypted") from None
    except pikepdf.PdfError as exc:
        raise ScanRefused(f"{label}: a damaged PDF ({exc})") from None
    try:
        listing = subprocess.run(
            ["pdfimages", "-list", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    except (subprocess.SubprocessError, OSError) as exc:
        raise ScanRefused(f"{label}: the PDF's page images cannot be read ({exc})") from None
    per_page: dict[int, int] = {}
    for line in listing.splitlines()[2:]:
        cols = line.split()
        if len(cols) >= 14 and cols[0].isdigit() and cols[2] == "image":
            if int(cols[3]) * int(cols[4]) > max_pixels:
                raise _too_many_pixels(
                    f"{label} (page {cols[0]})", int(cols[3]), int(cols[4]), max_pixels
                )
            dpi = min(int(cols[12]), int(cols[13]))
            page = int(cols[0])
            per_page[page] = max(per_page.get(page, 0), dpi)
    missing = [p for p in range(1, pages + 1) if p not in per_page]
    if missing:
        raise ScanRefused(
            f"{label}: page {missing[0]} has no scanned image; only scans are digitized this way"
        )
    return pages, min(per_page.values())


def run(
    paths: list[Path],
    workdir: Path,
    *,
    min_dpi: int = 200,
    warn_dpi: int = 300,
    settings: Settings | None = None,
) -> Intake:
    """Check every file (``settings``: the configured pixel and PDF limits)."""
    files, warnings = [], []
    max_pixels = settings.max_megapixels * 1_000_000 if settings else MAX_PIXELS
    for path, label in expand(paths, workdir):
        f, w = check_file(path, label, min_dpi, warn_dpi, max_pixels, settings)
        files.append(f)
        warnings += w
    return Intake(files, warnings)


@dataclass(frozen=True)
class PngFacts:
    """What a PNG needs to become a PDF image without inflating its pixels."""

    width: int
    height: int
    depth: int
    colour: int  # 0 grey, 2 RGB, 3 palette
    palette: bytes
    dpi: tuple[float, float]
    idat: bytes


def png_facts(path: Path) -> PngFacts | None:
    """The PNG's compressed pixels and layout, or None when it needs a real conversion
    (interlaced, transparency, an ICC profile, EXIF orientation, no resolution). The
    file's chunk CRCs were checked at intake."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat, ihdr, plte, phys = 8, [], b"", b"", b""
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            ihdr = body
        elif kind == b"PLTE":
            plte = body
        elif kind == b"pHYs":
            phys = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind in (b"iCCP", b"eXIf", b"tRNS"):
            return None
        elif kind == b"IEND":
            break
    if len(ihdr) != 13 or not idat or len(phys) != 9 or phys[8] != 1:
        return None
    depth, colour, interlace = ihdr[8], ihdr[9], ihdr[12]
    if (
        interlace != 0
        or depth not in (1, 2, 4, 8, 16)
        or colour not in (0, 2, 3)
        or (colour == 3 and (not plte or depth == 16))
        or (colour == 2 and depth < 8)
    ):
        return None
    dpi = (int.from_bytes(phys[0:4], "big") * 0.0254, int.from_bytes(phys[4:8], "big") * 0.0254)
    if min(dpi) <= 0:
        return None
    return PngFacts(
        int.from_bytes(ihdr[0:4], "big"),
        int.from_bytes(ihdr[4:8], "big"),
        depth,
        colour,
        plte,
        dpi,
        b"".join(idat),
    )


def add_png_page(pdf: pikepdf.Pdf, png: PngFacts) -> None:
    """A page showing the PNG at 100 %: its deflate stream copied as it is (PNG's row
    predictors are PDF's predictor 15)."""
    space: pikepdf.Object = pikepdf.Name.DeviceRGB if png.colour == 2 else pikepdf.Name.DeviceGray
    if png.colour == 3:
        space = pikepdf.Array(
            [
                pikepdf.Name.Indexed,
                pikepdf.Name.DeviceRGB,
                len(png.palette) // 3 - 1,
                pikepdf.String(png.palette),
            ]
        )
    image = pikepdf.Stream(pdf, png.idat)
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height = png.width, png.height
    image.BitsPerComponent, image.ColorSpace = png.depth, space
    image.Filter = pikepdf.Name.FlateDecode
    image.DecodeParms = pikepdf.Dictionary(
        Predictor=15,
        Colors=3 if png.colour == 2 else 1,
        BitsPerComponent=png.depth,
        Columns=png.width,
    )
    w, h = png.width * 72 / png.dpi[0], png.height * 72 / png.dpi[1]
    page = pdf.add_blank_page(page_size=(w, h))
    page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.Contents = pdf.make_stream(f"q {w:.4f} 0 0 {h:.4f} 0 0 cm /Im0 Do Q".encode())


def assemble(intake: Intake, target: Path, workers: int = 2) -> Path:
    """One PDF of every page in order: images embedded as they are (PNG and JPEG bytes
    copied, other images converted losslessly), at the size their resolution gives; PDF
    scans as they are. Conversions run in parallel. (Every source stays open until the
    result is saved: pikepdf copies stream data lazily.)"""

    def convert(i: int, f: ScanFile) -> Path | PngFacts:
        if f.kind == "PDF":
            return f.path
        if f.kind == "PNG" and (png := png_facts(f.path)) is not None:
            return png
        try:
            data = img2pdf.convert(str(f.path), rotation=img2pdf.Rotation.ifvalid)
        except Exception as exc:
            raise ScanRefused(f"{f.label}: cannot be converted ({exc})") from None
        part = target.with_name(f"{target.stem}.part{i}.pdf")
        part.write_bytes(data)
        return part

    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(convert, range(len(intake.files)), intake.files))
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(pikepdf.new())
        for part in parts:
            if isinstance(part, PngFacts):
                add_png_page(out, part)
            else:
                out.pages.extend(stack.enter_context(pikepdf.open(part)).pages)
        out.save(target)
    for leftover in target.parent.glob(f"{target.stem}.part*.pdf"):
        leftover.unlink()
    return target
