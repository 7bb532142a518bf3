"""Where the library's randomness comes from: one type for every draw.

Every protocol draw — the samplers (``hazmat/modmath.py``), BFV key generation
(``hazmat/keygen.py``), Shamir coefficients, encryption errors, smudging, noise-check masks,
pad-share sealing, share-file salts and nonces, request seeds, keys made from bytes — takes a
keyword-only ``rng`` (a trustee agent's ``randomness``) of type :data:`Rng`: a function from a
byte count n to n random bytes. The default is always ``os.urandom``, the operating system's
CSPRNG; numpy's generators are never used. Another source exists for known-answer vectors
(``tests/vectors/``), which fix every draw to pin the wire records byte for byte: never pass
anything but a CSPRNG otherwise. SEAL's one remaining draw, single-key public-key encryption
(``scoring/encryption.py``), uses SEAL's PRNG and cannot take an ``rng`` (docs/design.md,
"Wire records").
"""

from __future__ import annotations

from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cryptoscore.errors import ParameterError

__all__ = ["SEED_BYTES", "Rng", "seeded_stream"]

Rng = Callable[[int], bytes]
"""n → n random bytes (default everywhere: ``os.urandom``)."""

SEED_BYTES = 32
_STREAM_SALT = b"cryptoscore/seeded-stream/v1"


def seeded_stream(seed: bytes, label: str) -> Rng:
    """A deterministic :data:`Rng` from a secret 32-byte ``seed`` (itself from a CSPRNG) and a
    public ``label``: the AES-256-CTR keystream under key HKDF-SHA256(seed, salt, info=label)
    (RFC 5869), from a zero counter block — the generate step of NIST SP 800-90A's CTR_DRBG
    without reseeding. Distinct labels give independent streams.

    Only for draws that must be *replayable from a revealed seed*: a trustee's messages in the
    dealerless ceremony (``threshold/dkg/``), so that after an abort anyone can recompute them
    and name who deviated. Each call continues the stream where the last one stopped."""
    if len(seed) != SEED_BYTES:
        raise ParameterError(f"a stream seed has {SEED_BYTES} bytes, got {len(seed)}")
    key = HKDF(hashes.SHA256(), length=32, salt=_STREAM_SALT, info=label.encode()).derive(seed)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(bytes(16))).encryptor()

    def draw(n: int) -> bytes:
        if n < 0:
            raise ParameterError("cannot draw a negative number of bytes")
        return encryptor.update(bytes(n))

    return draw
