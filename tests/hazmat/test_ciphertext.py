from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoscore.errors import FormatError
from cryptoscore.hazmat.ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from cryptoscore.params import BFV8192, BFV16384


def random_ct(moduli, n, seed, size=2):
    gen = np.random.default_rng(seed)
    data = np.empty((size, len(moduli), n), dtype=np.uint64)
    for i, q in enumerate(moduli):
        data[:, i, :] = gen.integers(0, q, size=(size, n), dtype=np.uint64)
    return data


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32), level=st.integers(1, 4), size=st.integers(2, 3))
def test_roundtrip_bfv8192(seed, level, size):
    moduli = BFV8192.moduli(level)
    data = random_ct(moduli, 8192, seed, size)
    raw = encode_ciphertext(data, moduli)
    assert len(raw) == ciphertext_nbytes(moduli, 8192, size)
    assert np.array_equal(decode_ciphertext(raw, moduli, 8192, size), data)


def test_roundtrip_extremes_and_large_set():
    moduli = BFV16384.moduli(6)
    data = random_ct(moduli, 16384, 1)
    data[0, :, 0] = [q - 1 for q in moduli]
    data[1, :, 1] = 0
    raw = encode_ciphertext(data, moduli)
    assert np.array_equal(decode_ciphertext(raw, moduli, 16384), data)


def test_fresh_ciphertext_size_is_041_of_tenseal():
    assert ciphertext_nbytes(BFV8192.DATA_PRIMES, 8192) == 356_352


def test_length_mismatch_named():
    moduli = BFV8192.moduli(4)
    raw = encode_ciphertext(random_ct(moduli, 8192, 2), moduli)
    with pytest.raises(FormatError, match="expected 356352"):
        decode_ciphertext(raw[:-1], moduli, 8192)
    with pytest.raises(FormatError, match="bytes, expected"):
        decode_ciphertext(raw + b"\0", moduli, 8192)


def test_unreduced_coefficient_rejected():
    moduli = BFV8192.moduli(2)
    data = random_ct(moduli, 8192, 3)
    raw = bytearray(encode_ciphertext(data, moduli))
    # the first prime is 44 bits wide: set coefficient 0 to all ones (2^44 - 1 >= q)
    word = int.from_bytes(raw[:8], "little") | ((1 << 44) - 1)
    raw[:8] = word.to_bytes(8, "little")
    with pytest.raises(FormatError, match="coefficient 0 of polynomial 0 is not reduced"):
        decode_ciphertext(bytes(raw), moduli, 8192)
    with pytest.raises(FormatError, match="not reduced"):
        data[1, 1, 5] = moduli[1]
        encode_ciphertext(data, moduli)


def test_transparent_ciphertext_rejected():
    moduli = BFV8192.moduli(2)
    data = random_ct(moduli, 8192, 4)
    data[1] = 0
    with pytest.raises(FormatError, match="transparent"):
        decode_ciphertext(encode_ciphertext(data, moduli), moduli, 8192)
