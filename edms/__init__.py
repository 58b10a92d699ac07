"""EDMS: official documents, registers, workflows and signatures for Vietnamese agencies."""

__version__ = "0.1.0"
