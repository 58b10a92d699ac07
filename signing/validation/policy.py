"""The validation policy, in one place.

Rules (each one is a constant or a function below; docs/validation.md explains them):

* **Time of judgement.** A signature is judged *now*. When that fails only because time has
  passed — the signer's certificate has expired, was revoked later, or an algorithm is no
  longer accepted — and a trusted timestamp proves the signature existed earlier (its own
  signature timestamp, or a later document timestamp covering it), it is judged again at
  that proven time (ETSI EN 319 102-1 §5.6.2.4, proof of existence). Without such proof
  the report says what is missing (``OUT_OF_BOUNDS_NO_POE``, ``REVOKED_NO_POE``,
  ``CRYPTO_CONSTRAINTS_FAILURE_NO_POE``).
* **Algorithms.** MD2/MD5 never. SHA-1 (as a digest, or in sha1WithRSA/ECDSA-SHA1) only for
  signatures proven to exist before :data:`SHA1_CUTOFF`, and the report then notes a weak
  algorithm. RSA keys of at least 2048 bits; 1024 bits only before :data:`SHA1_CUTOFF`.
  SHA-2, SHA-3, RSA-PSS, ECDSA and EdDSA are accepted.
* **Revocation.** Soft-fail: a certificate is rejected when an OCSP response or CRL says it
  is revoked; missing revocation data is reported ("not checked"), not a failure. In past
  validation, revocation data produced after the proven time is accepted.

``SHA1_CUTOFF`` is 2021-01-01: Vietnam's public regime moved its national root to SHA-256 in
2014 and the government regime's G2 root came in 2018, yet documents signed with SHA-1
certificates of the G1 generation circulated until 2020.
"""

from __future__ import annotations

from datetime import UTC, datetime

from asn1crypto import algos, keys
from pyhanko_certvalidator.policy_decl import AlgorithmUsageConstraint, AlgorithmUsagePolicy

SHA1_CUTOFF = datetime(2021, 1, 1, tzinfo=UTC)
NEVER = frozenset({"md2", "md5"})
WEAK = frozenset({"sha1"})
MIN_RSA_BITS = 2048
MIN_RSA_BITS_BEFORE_CUTOFF = 1024

# Sub-indications that can be lifted by a proof of existence before the event.
TIME_DEPENDENT = frozenset(
    {
        "OUT_OF_BOUNDS_NO_POE",
        "OUT_OF_BOUNDS_NOT_REVOKED",
        "EXPIRED",
        "REVOKED_NO_POE",
        "REVOKED",
        "REVOKED_CA_NO_POE",
        "CRYPTO_CONSTRAINTS_FAILURE_NO_POE",
        "CRYPTO_CONSTRAINTS_FAILURE",
        "NOT_YET_VALID",
    }
)


def _before_cutoff(moment: datetime | None) -> bool:
    return moment is not None and moment < SHA1_CUTOFF


class TimeAwarePolicy(AlgorithmUsagePolicy):
    """The algorithm rules above, judged at the moment pyHanko asks about."""

    def digest_algorithm_allowed(
        self, algo: algos.DigestAlgorithm, moment: datetime | None
    ) -> AlgorithmUsageConstraint:
        name = algo["algorithm"].native
        if name in NEVER:
            return AlgorithmUsageConstraint(False, failure_reason=f"{name} is never accepted")
        if name in WEAK and not _before_cutoff(moment):
            return AlgorithmUsageConstraint(
                False,
                not_allowed_after=SHA1_CUTOFF,
                failure_reason=f"{name} is accepted only before {SHA1_CUTOFF.date()}",
            )
        return AlgorithmUsageConstraint(True)

    def signature_algorithm_allowed(
        self,
        algo: algos.SignedDigestAlgorithm,
        moment: datetime | None,
        public_key: keys.PublicKeyInfo | None,
    ) -> AlgorithmUsageConstraint:
        try:
            name = algo.signature_algo
        except ValueError:
            name = algo["algorithm"].native
        if public_key is not None and name.startswith("rsa"):
            floor = MIN_RSA_BITS_BEFORE_CUTOFF if _before_cutoff(moment) else MIN_RSA_BITS
            if public_key.bit_size < floor:
                return AlgorithmUsageConstraint(
                    False, failure_reason=f"RSA key of {public_key.bit_size} bits"
                )
        try:
            hash_algo = algo.hash_algo
        except ValueError:
            hash_algo = None
        if hash_algo is not None:
            return self.digest_algorithm_allowed(
                algos.DigestAlgorithm({"algorithm": hash_algo}), moment
            )
        return AlgorithmUsageConstraint(True)


POLICY = TimeAwarePolicy()


def weak_algorithms(digest: str, signature: str) -> list[str]:
    """The accepted-but-weak algorithms a signature uses, for the report."""
    out = []
    if digest.lower() in WEAK or "sha1" in signature.lower():
        out.append("SHA-1")
    return out
