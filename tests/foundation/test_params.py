from __future__ import annotations

import pytest

from cryptoscore.errors import ParameterError
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.params import (
    BFV8192,
    BFV16384,
    DEFAULT,
    PARAMETER_SETS,
    find_primes,
    get_parameter_set,
    is_probable_prime,
)

ALL = list(PARAMETER_SETS.values())


@pytest.mark.parametrize("params", ALL, ids=lambda p: p.ID)
def test_primes_satisfy_the_congruences_the_circuits_rely_on(params):
    n, t = params.POLY_MODULUS_DEGREE, params.PLAIN_MODULUS
    assert is_probable_prime(t) and t % (2 * n) == 1
    primes = (*params.DATA_PRIMES, params.SPECIAL_PRIME)
    assert len(set(primes)) == len(primes)
    for q in primes:
        assert is_probable_prime(q)
        assert q % (2 * n * t) == 1  # NTT-friendly and Q ≡ 1 (mod t)


@pytest.mark.parametrize("params", ALL, ids=lambda p: p.ID)
def test_modulus_within_he_standard_128_bit_bound(params):
    assert params.modulus_bits() <= params.HE_STANDARD_MAX_LOG_Q
    assert params.SECURITY_BITS == 128
    engine_for(params)  # SEAL re-checks tc128 and refuses otherwise


def test_constants_are_rederived_by_find_primes():
    step = 2 * BFV8192.POLY_MODULUS_DEGREE * BFV8192.PLAIN_MODULUS
    p44 = find_primes(44, 3, step)
    p43 = find_primes(43, 2, step)
    assert set(BFV8192.DATA_PRIMES) | {BFV8192.SPECIAL_PRIME} == set(p44) | set(p43)


def test_default_and_large_count_preset():
    assert DEFAULT is BFV8192
    assert BFV16384.max_count() >= 2**24
    assert BFV8192.max_count() == BFV8192.PLAIN_MODULUS - 1


@pytest.mark.parametrize("params", ALL, ids=lambda p: p.ID)
def test_counts_that_could_wrap_are_refused_up_front(params):
    params.check_count(params.max_count())
    with pytest.raises(ParameterError, match="could exceed the plaintext modulus"):
        params.check_count(params.PLAIN_MODULUS)
    with pytest.raises(ParameterError, match="negative"):
        params.check_count(-1)


def test_unknown_parameter_set_and_bad_level():
    with pytest.raises(ParameterError, match="unknown parameter set 'bfv-4096'"):
        get_parameter_set("bfv-4096")
    assert get_parameter_set("bfv-16384") is BFV16384
    with pytest.raises(ParameterError, match="level 5 does not exist"):
        BFV8192.moduli(5)


def test_describe_is_plain_data():
    d = BFV8192.describe()
    assert d["id"] == "bfv-8192" and d["slots"] == 8192 and d["max_count"] == 1032192
