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

__all__ = ["Rng"]

Rng = Callable[[int], bytes]
"""n → n random bytes (default everywhere: ``os.urandom``)."""
