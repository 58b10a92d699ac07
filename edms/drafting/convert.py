"""Word (.docx) and OpenDocument (.odt) drafts to PDF, with LibreOffice headless.

Invariants:

* The type is read from the content (python-magic, then the archive's own manifest), never
  from the name; the archive is checked before LibreOffice opens it: at most
  :data:`MAX_MEMBERS` members and :data:`MAX_UNPACKED` bytes once unpacked.
* LibreOffice runs in a child process under limits (address space, CPU, wall clock), with
  a fresh profile of its own in the work folder (so two conversions never share one, and
  macros stay disabled as a new profile has them), and, where the system allows it, in a
  network namespace of its own: a draft cannot make the server fetch anything.
* Fonts are embedded (LibreOffice's PDF export embeds every font it uses); Times New
  Roman is rendered with its metric-compatible Liberation Serif, which has every
  Vietnamese letter. The conversion is refused if a letter of the draft's text is missing
  from the PDF's text (a font without Vietnamese glyphs).
* Nothing is left behind: everything is written in the caller's work folder.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import unicodedata
import zipfile
from pathlib import Path

from ..errors import ClientError, ServiceUnavailable
from ..limits import run_limited

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
PDF = "application/pdf"
DRAFT_TYPES = (PDF, DOCX, ODT)
MAX_MEMBERS = 2000
MAX_UNPACKED = 256 * 1024 * 1024
TIMEOUT = 120.0
MEMORY_MB = 2048  # LibreOffice maps large shared libraries: its address space is large


class ConversionFailed(ClientError):
    status = 422
    title = "Draft cannot be converted"
    type_slug = "draft-conversion-failed"


def office_kind(path: Path, detected_mime: str) -> str | None:
    """DOCX or ODT when the file is one (by its content), else None."""
    if detected_mime in (DOCX, ODT):
        return detected_mime
    if detected_mime not in ("application/zip", "application/octet-stream"):
        return None
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist()[: MAX_MEMBERS + 1])
            if "word/document.xml" in names and "[Content_Types].xml" in names:
                return DOCX
            if (
                "mimetype" in names
                and "content.xml" in names
                and z.read("mimetype")[:64].strip() == ODT.encode()
            ):
                return ODT
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return None


def soffice() -> str:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        raise ServiceUnavailable(
            "LibreOffice is not installed on the server, so Word and "
            "OpenDocument drafts cannot be converted (Debian package "
            "libreoffice-writer-nogui; `make setup` installs it)"
        )
    return exe


@functools.cache
def _isolation() -> list[str]:
    """``unshare`` into a new user and network namespace when the system allows it."""
    exe = shutil.which("unshare")
    if exe is None:
        return []
    cmd = [exe, "--user", "--map-root-user", "--net"]
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return cmd if ok else []


def _check_archive(path: Path, kind: str) -> str:
    """Bounded archive; returns the draft's text (for the Vietnamese check)."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            if len(infos) > MAX_MEMBERS:
                raise ConversionFailed(
                    f"tệp soạn thảo có quá nhiều thành phần ({len(infos)}, "
                    f"tối đa {MAX_MEMBERS}); không lưu gì"
                )
            if sum(i.file_size for i in infos) > MAX_UNPACKED:
                raise ConversionFailed(
                    "tệp soạn thảo khi giải nén lớn hơn "
                    f"{MAX_UNPACKED // (1024 * 1024)} MiB; không lưu gì"
                )
            member = "word/document.xml" if kind == DOCX else "content.xml"
            xml = z.read(member).decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ConversionFailed(
            f"tệp soạn thảo bị hỏng, không đọc được ({exc}); không lưu gì"
        ) from None
    # the words shown: text runs of the body (not deleted tracked changes, not field codes)
    if kind == DOCX:
        return " ".join(re.findall(r"<w:t(?:\s[^>]*)?>([^<]*)</w:t>", xml))
    xml = re.sub(r"<text:tracked-changes.*?</text:tracked-changes>", " ", xml, flags=re.S)
    return re.sub(r"<[^>]+>", " ", xml)


def _letters(text: str) -> set[str]:
    return {ch for ch in unicodedata.normalize("NFC", text) if ch.isalpha() and ord(ch) > 127}


def to_pdf(source: Path, kind: str, workdir: Path) -> Path:
    """Convert ``source`` (a DOCX or ODT, ``kind``) to a PDF in ``workdir``; returns it."""
    from .textlayer import read_pages

    text = _check_archive(source, kind)
    exe = soffice()
    work = workdir / "convert"
    shutil.rmtree(work, ignore_errors=True)
    (work / "out").mkdir(parents=True)
    suffix = ".docx" if kind == DOCX else ".odt"
    src = work / f"du-thao{suffix}"
    shutil.copyfile(source, src)
    profile = (work / "profile").resolve().as_uri()
    cmd = [
        *_isolation(),
        exe,
        "--headless",
        "--norestore",
        "--nologo",
        "--nolockcheck",
        f"-env:UserInstallation={profile}",
        "--convert-to",
        "pdf:writer_pdf_Export",
        "--outdir",
        str(work / "out"),
        str(src),
    ]
    try:
        done = run_limited(cmd, memory_mb=MEMORY_MB, timeout=TIMEOUT, cpu_seconds=int(TIMEOUT))
    except subprocess.TimeoutExpired:
        raise ConversionFailed(
            f"chuyển tệp soạn thảo sang PDF quá {int(TIMEOUT)} giây; không lưu gì"
        ) from None
    out = work / "out" / "du-thao.pdf"
    if done.returncode != 0 or not out.is_file() or out.stat().st_size == 0:
        err = done.stderr
        detail = err.decode("utf-8", "replace") if isinstance(err, bytes) else err or ""
        raise ConversionFailed(
            "LibreOffice không chuyển được tệp soạn thảo sang PDF "
            f"(mã {done.returncode}: {detail[-300:].strip() or 'không rõ'}"
            "); không lưu gì"
        )
    pdf_text = " ".join(line.text for page in read_pages(out) for line in page.lines)
    lost = _letters(text) - _letters(pdf_text)
    if lost:
        raise ConversionFailed(
            "bản PDF chuyển từ tệp soạn thảo bị mất chữ tiếng Việt ("
            + " ".join(sorted(lost)[:20])
            + "): phông chữ trên máy chủ "
            "thiếu các chữ này; không lưu gì"
        )
    target = workdir / "converted.pdf"
    shutil.move(out, target)
    shutil.rmtree(work, ignore_errors=True)
    return target
