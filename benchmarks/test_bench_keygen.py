"""Key generation costs (``make bench``) at N = 8192: ``generate_keys`` (our code in SEAL's
layout, every draw from ``os.urandom``; SEAL then loads each key and re-serializes the
evaluation keys) against SEAL's own ``KeyGenerator`` making and saving the same keys (secret,
public, relinearization, the Galois keys of ``galois_elements``)."""

from __future__ import annotations

import tenseal.sealapi as seal

from cryptoscore import BFV8192, generate_keys
from cryptoscore.hazmat.keygen import generate_key_material
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.scoring.keys import galois_elements


def test_generate_keys(benchmark):
    keys = benchmark.pedantic(lambda: generate_keys(BFV8192), rounds=5, iterations=1)
    assert keys.public.params is BFV8192


def test_key_material_without_seal(benchmark):
    """The numpy part alone: sampling, NTTs, key-switching keys, uncompressed SEAL bytes."""
    engine = engine_for(BFV8192)
    elts = galois_elements(BFV8192)

    def one() -> bytes:
        material = generate_key_material(
            BFV8192, elts, parms_id=engine.key_parms_id, version=engine.version
        )
        return material.galois_keys

    assert benchmark.pedantic(one, rounds=5, iterations=1)


def test_seal_key_generator(benchmark):
    engine = engine_for(BFV8192)
    elts = galois_elements(BFV8192)

    def one() -> tuple[bytes, bytes]:
        keygen = seal.KeyGenerator(engine.bfv)
        pk, rk, gk = seal.PublicKey(), seal.RelinKeys(), seal.GaloisKeys()
        keygen.create_public_key(pk)
        keygen.create_relin_keys(rk)
        keygen.create_galois_keys(elts, gk)
        engine.secret_key_bytes(keygen.secret_key())
        engine.save_bytes(pk)
        return engine.save_bytes(rk), engine.save_bytes(gk)

    assert benchmark.pedantic(one, rounds=5, iterations=1)
