"""What every transport reports (:mod:`.transport`'s direct one and :mod:`.vdxp`'s axis):
the outcome of a delivery and a package waiting to be fetched. Plain values, no I/O; kept
apart so that the transports import them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivery:
    """What became of one attempt: ``accepted`` (with the receiver's signed receipt, or,
    handed to an axis, no receipt but the axis's ``ref`` for it), ``refused`` (for good,
    with the reason) or ``retry`` (the receiver could not be reached or had a passing
    problem)."""

    outcome: str
    receipt: bytes | None = None
    reason: str = ""
    duplicate: bool = False
    ref: str = ""  # an axis's id for the package (its DocId); empty when sent directly


@dataclass(frozen=True)
class Received:
    ref: str  # the transport's handle for fetch/ack
    sender: str
