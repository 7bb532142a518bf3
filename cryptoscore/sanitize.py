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
  :func:`noise_check_threshold` = B_fresh + T·E, with B_fresh = (T + 1)·21 + 1 the proven
  bound on an honest pad-encrypted ciphertext's noise (``noise.pad_noise_bound``) and
  E = 2^40·B_fresh the smudging of each partial.

Why per ciphertext. Checking a random combination Σ r_i·P_i instead is cheaper but unsound
against *aliasing*: a noise coefficient of exactly Δ/2 (the ciphertext acts as an encryption
of "m + 1/2") becomes a whole message shift — invisible under the mask — whenever the
combination multiplies it by an even amount, which random weights do half the time. A single
ciphertext with noise Δ/2 shows a residual of Δ/2 and is always rejected.

Why it is safe to reveal the residual. It is v + Σ_j e_j, and v is whatever the submitter
added to c0 (a number it knows) plus the honest errors of the pads, hidden by the smudging.
That holds because threshold challenges accept only seeded bundles (``pads.py``): were the
submitter to choose c1, adding δ to it would put δ·s into v, and the residual would reveal the
secret key (SECURITY.md, "Why c1 comes from a seed").

What it guarantees: every input ciphertext that passes has noise at most the threshold
plus T·E (≈ 2^49 with 3 trustees, against ≤ 85 for an honest one). Only then is anything
that multiplies the inputs (the validity aggregate, the score) computed for decryption.
"""

from __future__ import annotations

from .aggregate import AggregateCiphertext
from .bundle import EncryptedBundle
from .ciphertext import encode_ciphertext
from .errors import InputError
from .noise import noise_check_bounds
from .params import ParameterSet

__all__ = ["noise_check", "noise_check_threshold"]


def noise_check_threshold(params: type[ParameterSet], trustees: int) -> tuple[int, int]:
    """(smudging E of each partial, largest acceptable residual B_fresh + T·E), with B_fresh
    the proven bound on an honest pad-encrypted ciphertext's noise (``noise.pad_noise_bound``:
    threshold challenges accept nothing else). ``params`` is kept for the record formats."""
    del params  # the bound does not depend on the ring: pads' errors are bounded per coefficient
    smudge, threshold, _ = noise_check_bounds(trustees)
    return smudge, threshold


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
