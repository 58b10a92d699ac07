"""The development PKI: a stand-in for the Vietnamese official-duty CA hierarchy.

DEVELOPMENT ONLY. Every key made here is marked as such in its certificate and must never
sign anything real. ``generate`` writes, into one directory (``certs-dev/`` by default):

* ``keys/*.key.pem``     private keys (encrypted with the dev password), never in git;
* ``certomancer.yml``    the architecture: root → intermediate → leaders, the agency's
  organisation certificate, revoked and expired leaders; a TSA, an OCSP responder and CRLs;
* ``certs/*.cert.pem``   every certificate; ``root.cert.pem`` is the trust anchor;
* ``signers/*.p12``      PKCS#12 files for each signer (password :data:`DEV_PASSWORD`);
* ``images/*.png``       each leader's handwritten-style signature (blue) and the agency's
  round red seal (see :mod:`signing.devimages`);
* ``manifest.json``      what is where, and the service URLs.

The TSA, OCSP and CRL endpoints are served by :mod:`signing.devservices` (certomancer's
animator) at the URL prefix chosen here, which is also written into the certificates'
AIA and CRL distribution point extensions.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ARCH = "edms-dev"
DEV_PASSWORD = b"edms-dev-only"
DEFAULT_URL_PREFIX = "http://127.0.0.1:8790"
MANIFEST = "manifest.json"
DEV_MARK = "DEV ONLY - KHONG CO GIA TRI PHAP LY"

# The development agency: a province as it is since the 2025 reorganisation (two-level
# local government from 1 July 2025: province and commune; Hà Giang merged into Tuyên
# Quang). The identifiers are development values in the QCVN 102 form, not the official
# assignments.
AGENCY = "Ủy ban nhân dân tỉnh Tuyên Quang"
AGENCY_SHORT = "UBND"
AGENCY_CODE = "000.00.00.H41"
AGENCY_CITY = "Tuyên Quang"
# Commune-level People's Committees of the province (wards of the former Tuyên Quang and
# Hà Giang cities): (identifier, name, place of their date line).
COMMUNES = (
    ("000.00.31.H41", "Ủy ban nhân dân phường Minh Xuân", "Minh Xuân"),
    ("000.00.32.H41", "Ủy ban nhân dân phường Nông Tiến", "Nông Tiến"),
    ("000.00.33.H41", "Ủy ban nhân dân phường Hà Giang 1", "Hà Giang 1"),
    ("000.00.34.H41", "Ủy ban nhân dân phường Hà Giang 2", "Hà Giang 2"),
)


@dataclass(frozen=True)
class DevAgency:
    """The agency a development PKI is made for (its seal certificate's subject)."""

    code: str = AGENCY_CODE
    name: str = AGENCY
    short: str = AGENCY_SHORT
    city: str = AGENCY_CITY


DEFAULT_AGENCY = DevAgency()


@dataclass(frozen=True)
class SignerSpec:
    label: str
    common_name: str
    title: str  # the position as on the certificate and under the signature
    authority: str  # the line above the title: "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", ...
    kind: str  # "personal" | "organization"
    state: str = "valid"  # "valid" | "revoked" | "expired"


SIGNERS: tuple[SignerSpec, ...] = (
    SignerSpec("leader1", "Nguyễn Văn Thành", "CHỦ TỊCH", "TM. ỦY BAN NHÂN DÂN", "personal"),
    SignerSpec("leader2", "Trần Thị Hồng Nhung", "PHÓ CHỦ TỊCH", "KT. CHỦ TỊCH", "personal"),
    SignerSpec("agency", AGENCY, "", "", "organization"),
    SignerSpec(
        "leader-revoked", "Lê Văn Hùng", "PHÓ CHỦ TỊCH", "KT. CHỦ TỊCH", "personal", "revoked"
    ),
    SignerSpec(
        "leader-expired", "Phạm Thị Lan", "PHÓ CHỦ TỊCH", "KT. CHỦ TỊCH", "personal", "expired"
    ),
)


@dataclass
class DevPki:
    directory: Path
    url_prefix: str
    generated_at: str
    root_cert: Path
    intermediate_cert: Path
    tsa_url: str
    ocsp_url: str
    crl_urls: list[str]
    signers: dict[str, dict[str, str]] = field(default_factory=dict)
    agency: DevAgency = DEFAULT_AGENCY

    @property
    def config_path(self) -> Path:
        return self.directory / "certomancer.yml"

    def p12(self, label: str) -> Path:
        return self.directory / self.signers[label]["p12"]

    def signature_image(self, label: str) -> Path:
        return self.directory / self.signers[label]["image"]

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)  # (agency becomes a dict)
        for k in ("directory", "root_cert", "intermediate_cert"):
            d[k] = str(d[k])
        return d


def load(directory: str | Path) -> DevPki:
    directory = Path(directory)
    data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    return DevPki(
        directory=directory,
        url_prefix=data["url_prefix"],
        generated_at=data["generated_at"],
        root_cert=directory / data["root_cert"],
        intermediate_cert=directory / data["intermediate_cert"],
        tsa_url=data["tsa_url"],
        ocsp_url=data["ocsp_url"],
        crl_urls=data["crl_urls"],
        signers=data["signers"],
        agency=DevAgency(**data.get("agency", {})),
    )


def exists(directory: str | Path) -> bool:
    return (Path(directory) / MANIFEST).is_file()


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _write_key(path: Path, bits: int = 2048) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(DEV_PASSWORD),
        )
    )
    path.chmod(0o600)


def _ext_key_usage(*usages: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(usages)},
    }


def _signers(agency: DevAgency) -> tuple[SignerSpec, ...]:
    return tuple(
        dataclasses.replace(spec, common_name=agency.name) if spec.label == "agency" else spec
        for spec in SIGNERS
    )


def _architecture(
    now: datetime, agency: DevAgency = DEFAULT_AGENCY, tsa_days: int | None = None
) -> dict[str, Any]:
    far = now + timedelta(days=365 * 20)
    tsa_to = far - timedelta(days=2) if tsa_days is None else now + timedelta(days=tsa_days)
    signer_from = now - timedelta(days=30)
    signer_to = now + timedelta(days=365 * 3)
    leaf_revocation = [
        {
            "id": "crl_distribution_points",
            "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": ["interm"]}},
        },
        {
            "id": "authority_information_access",
            "smart-value": {"schema": "aia-urls", "params": {"ocsp-responder-names": ["interm"]}},
        },
    ]
    # The agency's identifier in every CA name: two development PKIs (two agencies trying
    # the exchange) never have CAs of the same name, which would confuse path building.
    ou = {"organizational-unit-name": f"{DEV_MARK} ({agency.code})"}
    entities: dict[str, Any] = {
        "root": {
            "common-name": "EDMS DEV Root CA (giả lập CA chuyên dùng Chính phủ)",
            "organization-name": "EDMS Development PKI",
            **ou,
        },
        "interm": {
            "common-name": "EDMS DEV Issuing CA",
            "organization-name": "EDMS Development PKI",
            **ou,
        },
        "tsa": {
            "common-name": "EDMS DEV Time Stamping Authority",
            "organization-name": "EDMS Development PKI",
            **ou,
        },
        "ocsp": {
            "common-name": "EDMS DEV OCSP Responder",
            "organization-name": "EDMS Development PKI",
            **ou,
        },
    }
    certs: dict[str, Any] = {
        "root": {
            "subject": "root",
            "subject-key": "root",
            "issuer": "root",
            "authority-key": "root",
            "validity": {"valid-from": _iso(now - timedelta(days=365)), "valid-to": _iso(far)},
            "extensions": [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                _ext_key_usage("digital_signature", "key_cert_sign", "crl_sign"),
            ],
        },
        "interm": {
            "subject": "interm",
            "subject-key": "interm",
            "issuer": "root",
            "authority-key": "root",
            "validity": {
                "valid-from": _iso(now - timedelta(days=365)),
                "valid-to": _iso(far - timedelta(days=1)),
            },
            "extensions": [
                {
                    "id": "basic_constraints",
                    "critical": True,
                    "value": {"ca": True, "path-len-constraint": 0},
                },
                _ext_key_usage("digital_signature", "key_cert_sign", "crl_sign"),
                {
                    "id": "crl_distribution_points",
                    "smart-value": {
                        "schema": "crl-dist-url",
                        "params": {"crl-repo-names": ["root"]},
                    },
                },
            ],
        },
        "ocsp": {
            "subject": "ocsp",
            "subject-key": "ocsp",
            "issuer": "interm",
            "authority-key": "interm",
            "validity": {
                "valid-from": _iso(now - timedelta(days=365)),
                "valid-to": _iso(far - timedelta(days=2)),
            },
            "extensions": [
                _ext_key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                {"id": "ocsp_no_check"},
            ],
        },
        "tsa": {
            "subject": "tsa",
            "subject-key": "tsa",
            "issuer": "root",
            "authority-key": "root",
            "validity": {"valid-from": _iso(now - timedelta(days=365)), "valid-to": _iso(tsa_to)},
            "extensions": [
                _ext_key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                {
                    "id": "crl_distribution_points",
                    "smart-value": {
                        "schema": "crl-dist-url",
                        "params": {"crl-repo-names": ["root"]},
                    },
                },
            ],
        },
    }
    for spec in _signers(agency):
        entity: dict[str, Any] = {
            "country-name": "VN",
            "state-or-province-name": agency.city,
            "organization-name": agency.name,
            "organizational-unit-name": DEV_MARK,
            "common-name": spec.common_name,
        }
        if spec.title:
            entity["title"] = spec.title
        entities[spec.label] = entity
        cert: dict[str, Any] = {
            "subject": spec.label,
            "subject-key": spec.label,
            "issuer": "interm",
            "authority-key": "interm",
            "validity": {"valid-from": _iso(signer_from), "valid-to": _iso(signer_to)},
            "extensions": [
                _ext_key_usage("digital_signature", "non_repudiation"),
                *leaf_revocation,
            ],
        }
        if spec.state == "expired":
            cert["validity"] = {
                "valid-from": _iso(now - timedelta(days=800)),
                "valid-to": _iso(now - timedelta(days=400)),
            }
        if spec.state == "revoked":
            cert["revocation"] = {
                "revoked-since": _iso(signer_from + timedelta(days=1)),
                "reason": "key_compromise",
            }
        certs[spec.label] = cert
    return {
        "keyset": ARCH,
        "entity-defaults": {"country-name": "VN"},
        "entities": entities,
        "certs": certs,
        "services": {
            "ocsp": {
                "interm": {"for-issuer": "interm", "responder-cert": "ocsp", "signing-key": "ocsp"}
            },
            "crl-repo": {
                "root": {
                    "for-issuer": "root",
                    "signing-key": "root",
                    "simulated-update-schedule": "P90D",
                },
                "interm": {
                    "for-issuer": "interm",
                    "signing-key": "interm",
                    "simulated-update-schedule": "P7D",
                },
            },
            "cert-repo": {
                "root": {"for-issuer": "root", "publish-issued-certs": True},
                "interm": {"for-issuer": "interm", "publish-issued-certs": True},
            },
            "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
        },
    }


def generate(
    directory: str | Path,
    *,
    url_prefix: str = DEFAULT_URL_PREFIX,
    force: bool = False,
    now: datetime | None = None,
    agency: DevAgency = DEFAULT_AGENCY,
    tsa_days: int | None = None,
) -> DevPki:
    """Create the development PKI in ``directory`` (refused if one exists, unless force).
    ``tsa_days``: the TSA certificate expires that many days from now (default: in about
    20 years), to try archive-timestamp renewal (see :func:`renew_tsa`)."""
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig

    from .devimages import draw_seal, draw_signature

    directory = Path(directory)
    if exists(directory) and not force:
        raise FileExistsError(f"a development PKI already exists in {directory}")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    for sub in ("keys", "certs", "signers", "images"):
        shutil.rmtree(directory / sub, ignore_errors=True)
        (directory / sub).mkdir(parents=True)

    labels = ["root", "interm", "tsa", "ocsp", *(s.label for s in SIGNERS)]
    for label in labels:
        _write_key(directory / "keys" / f"{label}.key.pem")
    config = {
        "external-url-prefix": url_prefix.rstrip("/"),
        "keysets": {
            ARCH: {
                "path-prefix": "keys",
                "keys": {
                    label: {"path": f"{label}.key.pem", "password": DEV_PASSWORD.decode()}
                    for label in labels
                },
            }
        },
        "pki-architectures": {ARCH: _architecture(now, agency, tsa_days)},
    }
    header = (
        "# EDMS development PKI (certomancer). DEVELOPMENT ONLY: generated by "
        "`edms dev-pki`;\n# its keys must never sign anything real.\n"
    )
    (directory / "certomancer.yml").write_text(
        header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )

    cfg = CertomancerConfig.from_file(str(directory / "certomancer.yml"))
    arch = cfg.get_pki_arch(ArchLabel(ARCH))
    for label in ("root", "interm", "tsa", "ocsp", *(s.label for s in SIGNERS)):
        cert = arch.get_cert(CertLabel(label))
        (directory / "certs" / f"{label}.cert.pem").write_bytes(_pem(cert.dump()))
    signers: dict[str, dict[str, str]] = {}
    for index, spec in enumerate(_signers(agency)):
        p12 = arch.package_pkcs12(
            CertLabel(spec.label),
            certs_to_embed=[CertLabel("interm"), CertLabel("root")],
            password=DEV_PASSWORD,
        )
        (directory / "signers" / f"{spec.label}.p12").write_bytes(p12)
        entry = {
            "p12": f"signers/{spec.label}.p12",
            "cert": f"certs/{spec.label}.cert.pem",
            "common_name": spec.common_name,
            "title": spec.title,
            "authority": spec.authority,
            "kind": spec.kind,
            "state": spec.state,
        }
        if spec.kind == "personal":
            image = directory / "images" / f"{spec.label}-signature.png"
            draw_signature(spec.common_name, image, seed=index)
            entry["image"] = f"images/{image.name}"
        else:
            image = directory / "images" / f"{spec.label}-seal.png"
            draw_seal(agency.name.upper(), image)
            entry["image"] = f"images/{image.name}"
        signers[spec.label] = entry
    prefix = url_prefix.rstrip("/")
    pki = DevPki(
        directory=directory,
        url_prefix=prefix,
        generated_at=now.isoformat(),
        root_cert=directory / "certs" / "root.cert.pem",
        intermediate_cert=directory / "certs" / "interm.cert.pem",
        tsa_url=f"{prefix}/{ARCH}/tsa/tsa",
        ocsp_url=f"{prefix}/{ARCH}/ocsp/interm",
        crl_urls=[
            f"{prefix}/{ARCH}/crls/root/latest.crl",
            f"{prefix}/{ARCH}/crls/interm/latest.crl",
        ],
        signers=signers,
        agency=agency,
    )
    manifest = pki.to_json()
    for k in ("root_cert", "intermediate_cert"):
        manifest[k] = str(Path(manifest[k]).relative_to(directory))
    del manifest["directory"]
    (directory / MANIFEST).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (directory / "README.txt").write_text(
        "EDMS development PKI - DEVELOPMENT ONLY.\n"
        "Generated by `edms dev-pki`; regenerate with `edms dev-pki --force`.\n"
        f"PKCS#12 password: {DEV_PASSWORD.decode()}\n"
        "Private keys (keys/, signers/) are git-ignored; only this README is tracked.\n",
        encoding="utf-8",
    )
    return pki


def renew_tsa(
    directory: str | Path,
    *,
    days: int = 365 * 10,
    now: datetime | None = None,
    revoke_previous: bool = False,
) -> Path:
    """The development TSA gets a new key and certificate (same name, same URL) valid for
    ``days``, as a real TSA does before its certificate expires; ``revoke_previous``: the
    certificate it signed with until now is revoked (key compromise) from ``now``. The
    responder must be restarted to sign with it. Returns the new certificate's PEM file."""
    from certomancer.registry import ArchLabel, CertLabel, CertomancerConfig

    directory = Path(directory)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    config_path = directory / "certomancer.yml"
    text = config_path.read_text(encoding="utf-8")
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    config = yaml.safe_load(text)
    keys = config["keysets"][ARCH]["keys"]
    n = 2
    while f"tsa-{n}" in keys:
        n += 1
    label = f"tsa-{n}"
    _write_key(directory / "keys" / f"{label}.key.pem")
    keys[label] = {"path": f"{label}.key.pem", "password": DEV_PASSWORD.decode()}
    arch = config["pki-architectures"][ARCH]
    cert = {k: v for k, v in arch["certs"]["tsa"].items() if k != "revocation"}
    cert.update(
        {
            "subject-key": label,
            "validity": {
                "valid-from": _iso(now - timedelta(days=1)),
                "valid-to": _iso(now + timedelta(days=days)),
            },
        }
    )
    arch["certs"][label] = cert  # appended: the serials of existing certificates stay
    if revoke_previous:
        # Revoked as of the root's current CRL (certomancer issues CRLs on a simulated
        # schedule: a later revocation would only appear in the next one).
        origin = (
            CertomancerConfig.from_file(str(config_path))
            .get_pki_arch(ArchLabel(ARCH))
            .get_cert(CertLabel("root"))
            .not_valid_before
        )
        period = timedelta(days=90)  # the root CRL's schedule (see _architecture)
        since = origin + ((now - origin) // period) * period
        previous = arch["services"]["time-stamping"]["tsa"]["signing-cert"]
        arch["certs"][previous]["revocation"] = {
            "revoked-since": _iso(since),
            "reason": "key_compromise",
        }
    arch["services"]["time-stamping"]["tsa"] = {"signing-key": label, "signing-cert": label}
    config_path.write_text(
        header + yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    loaded = CertomancerConfig.from_file(str(config_path)).get_pki_arch(ArchLabel(ARCH))
    pem = directory / "certs" / f"{label}.cert.pem"
    pem.write_bytes(_pem(loaded.get_cert(CertLabel(label)).dump()))
    return pem


def _pem(der: bytes) -> bytes:
    import base64

    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return (
        "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    ).encode()
