"""Hot functions of the BFV lane, and the TenSEAL operations they replace (same run).

Run with ``make bench``. Compare e.g. ``test_chunk_product_ours`` with
``test_chunk_product_tenseal`` and ``test_slot_sum_pack_ours`` with ``test_slot_sum_tenseal``.
"""

from __future__ import annotations

import secrets

import numpy as np
import pytest
import tenseal as ts

from benchmarks.tenseal_baseline import make_context
from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions, score, validity
from cryptoscore.hazmat.ciphertext import decode_ciphertext, encode_ciphertext
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.params import BFV8192
from cryptoscore.scoring.circuits import Workspace
from cryptoscore.scoring.encryption import encrypt_slots
from cryptoscore.scoring.packing import pack_slot_sums

N = BFV8192.POLY_MODULUS_DEGREE


@pytest.fixture(scope="module")
def one_chunk(keys, data):
    p = data.integers(0, 2, N)
    y = data.integers(0, 2, N)
    preds = encrypt_predictions(p, keys.public, classes=2, challenge="b")
    labels = encrypt_labels(y, keys.public, classes=2, challenge="b")
    return preds, labels


@pytest.fixture(scope="module")
def tenseal_pair(data):
    ctx = make_context()
    half = N // 2
    a = ts.bfv_vector(ctx, data.integers(0, 2, half).tolist())
    b = ts.bfv_vector(ctx, data.integers(0, 2, half).tolist())
    return ctx, a, b


def test_encrypt_chunk_ours(benchmark, keys, data):
    values = data.integers(0, 2, N).astype(np.uint64)
    benchmark(encrypt_slots, keys.public, values)


def test_encrypt_chunk_tenseal(benchmark, tenseal_pair, data):
    ctx, _, _ = tenseal_pair
    values = data.integers(0, 2, N // 2).tolist()
    benchmark(lambda: ts.bfv_vector(ctx, values).serialize())


def test_decode_canonical_ciphertext(benchmark, one_chunk):
    preds, _ = one_chunk
    raw = encode_ciphertext(preds.ciphertext(0), BFV8192.DATA_PRIMES)
    benchmark(decode_ciphertext, raw, BFV8192.DATA_PRIMES, N)


def test_chunk_product_ours(benchmark, keys, one_chunk):
    """Load both chunks into NTT form and accumulate their raw tensor (what score does)."""
    preds, labels = one_chunk
    ws = Workspace(BFV8192, keys.evaluation)
    p, y = preds.ciphertext(0), labels.ciphertext(0)
    benchmark(lambda: ws.tensor(ws.load(p), ws.load(y)))


def test_chunk_product_tenseal(benchmark, tenseal_pair):
    _, a, b = tenseal_pair
    benchmark(lambda: a * b)


def test_slot_sum_pack_ours(benchmark, keys, one_chunk):
    """Slot sum of one aggregate (13 automorphisms), the step TenSEAL's sum() does."""
    preds, _ = one_chunk
    engine = engine_for(BFV8192)
    ct = engine.bfv_ciphertext(preds.ciphertext(0))
    _, galois = keys.evaluation.load()
    benchmark(lambda: pack_slot_sums(engine, [ct], galois))


def test_slot_sum_tenseal(benchmark, tenseal_pair):
    _, a, _ = tenseal_pair
    benchmark(a.sum)


def test_score_one_chunk(benchmark, keys, one_chunk):
    preds, labels = one_chunk
    policy = ReleasePolicy(2, ("correct", "errors"))
    benchmark(score, preds, labels, policy, keys.evaluation)


def test_validity_one_chunk(benchmark, keys, one_chunk):
    preds, _ = one_chunk
    seed = secrets.token_bytes(32)
    benchmark(validity, preds, seed, keys.evaluation)
