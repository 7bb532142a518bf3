"""Round 1's noise check: is every ciphertext of a bundle as little noisy as an honest one?

BFV decryption reveals noise, and a ciphertext can decrypt to valid 0/1 values while carrying
noise close to Δ/2. Multiplied by the organizer's labels, such noise carries label-dependent
terms into a decrypted score (DESIGN.md, "Noise"). The validity aggregate cannot see noise,
so round 1 also checks **every input ciphertext on its own**, at the full level:

* the "noise/v1" circuit is the identity on one ciphertext of the bundle (:func:`noise_check`);
* each trustee of the active set adds, to its smudged partial decryption, Δ·M_j for a mask
  M_j uniform in Z_t^N that it draws from ``os.urandom`` and forgets (``threshold.py``), so
  the combiner sees the message m + Σ_j M_j — uniform as long as one trustee is honest — and
  the residual noise v + Σ_j e_j;
* the bundle is accepted only if, for every ciphertext, that residual is at most
  :func:`noise_check_threshold` = B_fresh + T·E, with B_fresh the bound on honest fresh
  noise and E = 2^40·B_fresh the smudging of each partial.

Why per ciphertext. Checking a random combination Σ r_i·P_i instead is cheaper but unsound
against *aliasing*: a noise coefficient of exactly Δ/2 (the ciphertext acts as an encryption
of "m + 1/2") becomes a whole message shift — invisible under the mask — whenever the
combination multiplies it by an even amount, which random weights do half the time. A single
ciphertext with noise Δ/2 shows a residual of Δ/2 and is always rejected.

What it guarantees: every input ciphertext that passes has noise at most the threshold
(≈ 2^53 at bfv-8192 with 3 trustees, against ≈ 2^11 for an honest one). ``noise.py`` uses
that bound for the label-dependent part of every released score's noise.

What it does not guarantee (SECURITY.md, "Critical known gap"): the check reveals the residual
v + Σ_j e_j to whoever combines the partials. A submitter controls c1, so it can make v
contain δ·s for a δ of its choice (c1 + δ encrypts the same message); for δ above the
smudging, the residual reveals the secret key s. Closing this needs c1 out of the submitter's
hands (trustee-assisted encryption with seeded c1) or proofs of correct encryption.
"""

from __future__ import annotations

from .aggregate import AggregateCiphertext
from .bundle import EncryptedBundle
from .ciphertext import encode_ciphertext
from .errors import InputError
from .noise import SMUDGING_BITS, fresh_noise_bound
from .params import ParameterSet

__all__ = ["noise_check", "noise_check_threshold"]


def noise_check_threshold(params: type[ParameterSet], trustees: int) -> tuple[int, int]:
    """(smudging E of each partial, largest acceptable residual B_fresh + T·E)."""
    bound = fresh_noise_bound(params)
    smudge = bound << SMUDGING_BITS
    return smudge, bound + trustees * smudge


def noise_check(bundle: EncryptedBundle, index: int) -> AggregateCiphertext:
    """Service, trustee, auditor: the "noise/v1" ciphertext for input ``index`` of ``bundle``
    (the input ciphertext itself; decrypted only with masked, smudged partials)."""
    h = bundle.header
    if not 0 <= index < h.layout.ciphertexts:
        raise InputError(f"the bundle has no ciphertext {index}")
    params = h.params
    level = params.fresh_level()
    return AggregateCiphertext(
        circuit="noise/v1",
        params=params,
        key_id=h.key_id,
        level=level,
        names=(f"masked:{index}",),
        positions=(0,),
        inputs=(bundle.digest,),
        policy=None,
        seed=b"",
        n=h.n,
        classes=h.classes,
        ciphertext=encode_ciphertext(bundle.ciphertext(index), params.moduli(level)),
    )
