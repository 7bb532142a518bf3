"""Shared fixtures: one BFV key set per test session (key generation takes ~1 s), and a
counter of key-share reads for the adversarial tests."""

from __future__ import annotations

import numpy as np
import pytest

from cryptoscore import BFV8192, KeySet, generate_keys
from cryptoscore.threshold.ceremony import KeyShare


@pytest.fixture(scope="session")
def keys() -> KeySet:
    return generate_keys(BFV8192)


@pytest.fixture(scope="session")
def other_keys() -> KeySet:
    """An unrelated key set (for mismatch tests)."""
    return generate_keys(BFV8192)


@pytest.fixture
def rng() -> np.random.Generator:
    # test data only; never key material
    return np.random.default_rng(12345)


@pytest.fixture
def share_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts every read of any key share (its residues, or a key derived from it): a
    refused request must read none."""
    reads: list[str] = []
    residues, derive_key = KeyShare.residues, KeyShare.derive_key

    def counted_residues(self: KeyShare, level: int) -> object:
        reads.append(self.trustee_id)
        return residues(self, level)

    def counted_derive(self: KeyShare, info: bytes) -> bytes:
        reads.append(self.trustee_id)
        return derive_key(self, info)

    monkeypatch.setattr(KeyShare, "residues", counted_residues)
    monkeypatch.setattr(KeyShare, "derive_key", counted_derive)
    return reads
