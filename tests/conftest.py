"""Shared fixtures: one BFV key set per test session (key generation takes ~0.5 s)."""

from __future__ import annotations

import numpy as np
import pytest

from cryptoscore import BFV8192, KeySet, generate_keys


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
