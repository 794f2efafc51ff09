"""Deterministic demo data: a simulated bookkeeping firm written as raw exports (see docs/demo-data.md)."""

from orchestration.demo.generator import FAULTS, generate

__all__ = ["FAULTS", "generate"]
