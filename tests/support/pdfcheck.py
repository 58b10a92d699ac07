"""Independent checks of signed PDFs: poppler's pdfsig (trusting the dev root through an NSS
database) and `openssl cms -verify` over the extracted byte ranges."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from asn1crypto import cms


@dataclass
class PdfsigEntry:
    field: str
    valid: str  # "Signature is Valid." ...
    certificate: str
    total: bool
    signature_type: str


def make_nss_db(directory: Path, root_pem: Path) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{directory}",
            "-n",
            "edms-dev-root",
            "-t",
            "CT,C,C",
            "-i",
            str(root_pem),
        ],
        check=True,
        capture_output=True,
    )
    return f"sql:{directory}"


def pdfsig(path: Path, nssdir: str | None = None) -> list[PdfsigEntry]:
    """pdfsig's verdicts, parsed from its text (its exit code is 0 even on failure)."""
    cmd = ["pdfsig"] + (["-nssdir", nssdir] if nssdir else []) + [str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    entries = []
    for block in re.split(r"^Signature #\d+:\s*$", out, flags=re.M)[1:]:

        def field(name: str, text: str = block) -> str:
            m = re.search(rf"- {name}: (.*)$", text, flags=re.M)
            return m.group(1).strip() if m else ""

        entries.append(
            PdfsigEntry(
                field=field("Signature Field Name"),
                valid=field("Signature Validation"),
                certificate=field("Certificate Validation"),
                total="- Total document signed" in block,
                signature_type=field("Signature Type"),
            )
        )
    return entries


def openssl_verify_all(path: Path, root_pem: Path, work: Path) -> list[str]:
    """For every signature: extract /Contents and the signed byte ranges and run
    `openssl cms -verify`; returns openssl's verdict line for each."""
    assert shutil.which("openssl")
    data = path.read_bytes()
    verdicts = []
    with pikepdf.open(path) as pdf:
        sigs = [f.V for f in pdf.Root.AcroForm.Fields if f.get("/FT") == "/Sig" and "/V" in f]
        for i, sig in enumerate(sigs):
            if sig.get("/SubFilter") == "/ETSI.RFC3161":
                continue  # document timestamps carry TSTInfo, checked elsewhere
            a, b, c, d = (int(x) for x in sig.ByteRange)
            content = data[a : a + b] + data[c : c + d]
            # /Contents is zero-padded: keep exactly the DER object
            der = cms.ContentInfo.load(bytes(sig.Contents), strict=False).dump(force=True)
            (work / f"sig{i}.der").write_bytes(der)
            (work / f"content{i}.bin").write_bytes(content)
            res = subprocess.run(
                [
                    "openssl",
                    "cms",
                    "-verify",
                    "-binary",
                    "-inform",
                    "DER",
                    "-in",
                    str(work / f"sig{i}.der"),
                    "-content",
                    str(work / f"content{i}.bin"),
                    "-CAfile",
                    str(root_pem),
                    "-purpose",
                    "any",
                    "-out",
                    "/dev/null",
                ],
                capture_output=True,
                text=True,
            )
            verdicts.append(
                (res.stderr or res.stdout).strip().splitlines()[-1]
                if (res.stderr or res.stdout).strip()
                else f"rc={res.returncode}"
            )
    return verdicts
