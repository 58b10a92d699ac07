"""Raising signed files to long-term validation levels after the fact.

* B-T → B-LT: certificates, OCSP responses and CRLs for every signature (and its signature
  timestamp) go into the Document Security Store, in one incremental update each.
* → B-LTA: then a document timestamp over the whole file, its own validation data added
  first, so later re-timestamping can keep the file verifiable for decades.

A B-B signature has no signature timestamp and cannot be raised: re-sign at B-T or higher.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.signers.pdf_signer import TimestampDSSContentSettings
from pyhanko.sign.validation import add_validation_info

from .engine import Level, SigningError, TrustServices, atomic_output, open_writer


def has_signature_timestamp(sig: Any) -> bool:
    """Whether an embedded signature carries an RFC 3161 signature timestamp (B-T)."""
    attrs = sig.signer_info["unsigned_attrs"]
    if not attrs or attrs.native is None:
        return False
    return any(a["type"].native == "signature_time_stamp_token" for a in attrs)


def _signatures(path: Path) -> list[str]:
    with open(path, "rb") as f:
        reader = PdfFileReader(f, strict=False)
        sigs = reader.embedded_regular_signatures
        missing_ts = [s.field_name for s in sigs if not has_signature_timestamp(s)]
        if not sigs:
            raise SigningError("the file has no signature to extend")
        if missing_ts:
            raise SigningError(
                f"signature(s) {', '.join(missing_ts)} are B-B (no signature timestamp) and "
                "cannot be raised to a long-term level; sign again at B-T or higher")
        return [s.field_name for s in sigs]


def extend(src: str | Path, dst: str | Path, target: Level,
           services: TrustServices) -> Level:
    """Raise every signature in ``src`` to ``target`` (B-LT or B-LTA), writing ``dst``."""
    src, dst = Path(src), Path(dst)
    if target.rank < Level.B_LT.rank:
        raise SigningError("extend raises files to B-LT or B-LTA")
    names = _signatures(src)
    vc = services.validation_context(for_signing=False)
    work = Path(tempfile.mkdtemp(prefix=".edms-extend-", dir=dst.parent))
    try:
        current = src
        for i, name in enumerate(names):
            nxt = work / f"{i}.pdf"
            with open(current, "rb") as inf:
                reader = PdfFileReader(inf, strict=False)
                sig = next(s for s in reader.embedded_regular_signatures
                           if s.field_name == name)
                with open(nxt, "wb") as out:
                    add_validation_info(sig, vc, output=out, add_vri_entry=False)
            current = nxt
        with open(current, "rb") as inf, atomic_output(dst) as out:
            if target is Level.B_LTA:
                writer = open_writer(inf)
                signers.PdfTimeStamper(services.timestamper()).timestamp_pdf(
                    writer, "sha256", validation_context=vc, output=out,
                    dss_settings=TimestampDSSContentSettings(update_before_ts=True,
                                                             include_vri=False),
                )
            else:
                while chunk := inf.read(1 << 20):
                    out.write(chunk)
    except SigningError:
        raise
    except Exception as exc:
        raise SigningError(f"extending failed: {type(exc).__name__}: {exc}") from exc
    finally:
        for p in work.glob("*"):
            with contextlib.suppress(OSError):
                os.unlink(p)
        with contextlib.suppress(OSError):
            work.rmdir()
    return target
