"""Stage 2: PDF/A-2b with an invisible Vietnamese OCR text layer (OCRmyPDF + Tesseract
with its ``vie`` language data, Debian ``tesseract-ocr-vie``).

Page images are kept as they are (``--optimize 0``: no recompression, no downsampling):
the declared quality of the electronic copy is the scan's own. OCRmyPDF runs as a
separate process with a time limit and a memory limit (``EDMS_OCR_MEMORY_MB`` per
process), so a stuck or costly page cannot hang a worker or take the machine's memory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

from ..errors import ClientError, ServiceUnavailable
from ..limits import limited_command

LANGUAGE = "vie"


class OcrUnavailable(ServiceUnavailable):
    title = "OCR not installed"
    type_slug = "ocr-unavailable"


class OcrFailed(ClientError):
    status = 422
    title = "OCR failed"
    type_slug = "ocr-failed"


@cache
def _languages() -> frozenset[str]:
    exe = shutil.which("tesseract")
    if exe is None:
        return frozenset()
    done = subprocess.run(
        [exe, "--list-langs"], capture_output=True, text=True, timeout=60, check=False
    )
    return frozenset(line.strip() for line in done.stdout.splitlines()[1:] if line.strip())


def check_available(language: str = LANGUAGE) -> None:
    """Refuse clearly, rather than produce a copy without text."""
    if shutil.which("tesseract") is None:
        raise OcrUnavailable(
            "OCR is not installed: Tesseract is missing (Debian packages "
            "tesseract-ocr and tesseract-ocr-vie; `make setup` installs "
            "them); no copy was made"
        )
    if language not in _languages():
        raise OcrUnavailable(
            f"OCR is not installed for {language!r}: the Tesseract "
            "language data is missing (Debian tesseract-ocr-vie); no copy "
            "was made"
        )
    if shutil.which("gs") is None:
        raise OcrUnavailable(
            "Ghostscript is missing (Debian ghostscript): it is needed for PDF/A; no copy was made"
        )


def to_pdfa(
    source: Path,
    target: Path,
    *,
    language: str = LANGUAGE,
    jobs: int = 2,
    timeout: float = 1800,
    sidecar: Path | None = None,
    memory_mb: int = 4096,
) -> Path:
    """OCR ``source`` into a PDF/A-2b ``target``; with ``sidecar``, the recognised text is
    also written there (page by page, form feeds between pages)."""
    check_available(language)
    extra = ["--sidecar", str(sidecar)] if sidecar is not None else []
    cmd = [
        sys.executable,
        "-m",
        "ocrmypdf",
        "--language",
        language,
        "--output-type",
        "pdfa-2",
        "--optimize",
        "0",
        "--jobs",
        str(jobs),
        *extra,
        "--quiet",
        str(source),
        str(target),
    ]
    done = _run(cmd, timeout, memory_mb)
    if done.returncode == 6:  # the scan already carries text: OCR it again, in Vietnamese
        done = _run([*cmd[:-2], "--redo-ocr", str(source), str(target)], timeout, memory_mb)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no detail"])[-1]
        raise OcrFailed(f"OCR of the scan failed (ocrmypdf exit {done.returncode}): {reason}")
    return target


def _run(cmd: list[str], timeout: float, memory_mb: int) -> subprocess.CompletedProcess[str]:
    """OCRmyPDF and the programs it starts, each limited to ``memory_mb`` of memory."""
    try:
        return subprocess.run(
            limited_command(cmd, memory_mb),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OcrFailed(f"OCR took longer than {int(timeout)} s and was stopped") from None
