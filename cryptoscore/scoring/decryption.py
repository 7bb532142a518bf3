"""Single-key decryption of aggregate ciphertexts (tests, examples, benchmarks).

In a deployment nobody holds the whole secret key: trustees decrypt jointly with threshold
partial decryptions. This module is the reference those results are compared against, and the
way examples read a result. It decrypts only :class:`AggregateCiphertext` records — the
output of a published circuit — and returns only the named aggregates.
"""

from __future__ import annotations

import tenseal.sealapi as seal

from cryptoscore.errors import MismatchError
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.seal_format import U64Array
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.keys import SecretKey

__all__ = ["decrypt_aggregate", "decrypt_coefficients"]


def decrypt_aggregate(aggregate: AggregateCiphertext, secret_key: SecretKey) -> dict[str, int]:
    """The aggregates ``name → value`` (values in ``0..t-1``) of ``aggregate``."""
    coeffs = decrypt_coefficients(aggregate, secret_key)
    return {
        name: int(coeffs[pos])
        for name, pos in zip(aggregate.names, aggregate.positions, strict=True)
    }


def decrypt_coefficients(aggregate: AggregateCiphertext, secret_key: SecretKey) -> U64Array:
    """Every plaintext coefficient of ``aggregate`` — for tests that prove that nothing but the
    named aggregates is in a released ciphertext. You want :func:`decrypt_aggregate`."""
    if secret_key.key_id != aggregate.key_id or secret_key.params is not aggregate.params:
        raise MismatchError("the secret key does not belong to the aggregate's public key")
    engine = engine_for(aggregate.params)
    ct = engine.bfv_ciphertext(aggregate.data())
    pt = seal.Plaintext()
    seal.Decryptor(engine.bfv, secret_key.seal_secret_key()).decrypt(ct, pt)
    return engine.plaintext_coefficients(pt)
