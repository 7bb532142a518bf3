"""Fixtures for the pytest-benchmark suites (``make bench``)."""

from __future__ import annotations

import numpy as np
import pytest

from cryptoscore import BFV8192, KeySet, generate_keys


@pytest.fixture(scope="session")
def keys() -> KeySet:
    return generate_keys(BFV8192)


@pytest.fixture(scope="session")
def data() -> np.random.Generator:
    return np.random.default_rng(7)  # benchmark data only
