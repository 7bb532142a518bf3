"""Round 1's noise check: is every ciphertext of a bundle as little noisy as an honest one?

BFV decryption reveals noise, and a ciphertext can decrypt to valid 0/1 values while carrying
noise close to Δ/2. Multiplied by the organizer's labels, such noise carries label-dependent
terms into a decrypted score (docs/design.md, "Noise"). The validity aggregate cannot see noise,
so round 1 also checks **every input ciphertext on its own**, at the full level:

* the "noise/v1" circuit is the identity on one ciphertext (c0_i, a_i) of the bundle
  (:func:`noise_check`);
* each trustee j of the bundle's pad set answers with the **exact complement of its pad
  share** (``threshold/partial.partial_decrypt``): λ_j·s_j·a_i − e_ij + Δ·M_j, its pad error
  e_ij re-derived from its share (``threshold/pad_shares.PadErrors``) in place of smudging,
  and M_j uniform in Z_t^N from the trustee's ``rng`` (``os.urandom`` by default), never kept;
* the combiner gets c0_i + Σ_j (λ_j·s_j·a_i − e_ij + Δ·M_j) = Δ·(m_i + Σ_j M_j) + v_i − Σ_j e_ij:
  a uniformly masked message, and the residual v_i − Σ_j e_ij − k (k ≤ T wraps of the
  masked message past t, as Δ·t ≡ −1 mod Q) — for an honest bundle the submitter's own error
  and rounding less k (|·| ≤ 22 + T), for any bundle the noise the submitter added to its c0
  beyond the pads;
* the bundle is accepted only if every residual is at most :func:`noise_check_threshold` =
  21 + 1 + T; then every input has noise |v| ≤ 22 + 2T + 21·T (91 with 3 trustees;
  ``noise.noise_check_bounds``).

Why per ciphertext. Checking a random combination Σ r_i·P_i instead is cheaper but unsound
against *aliasing*: a noise coefficient of exactly Δ/2 (the ciphertext acts as an encryption
of "m + 1/2") becomes a whole message shift — invisible under the mask — whenever the
combination multiplies it by an even amount, which random weights do half the time. A single
ciphertext with noise Δ/2 shows a residual of Δ/2 and is always rejected.

Why it reveals nothing about the shares (SECURITY.md, "Share exposure"). Trustee j's answer
plus its pad share h_ij = −λ_j·s_j·a_i + e_ij is exactly Δ·M_j: to the submitter, who holds
h_ij, the answer is a uniform mask and nothing else; to anyone else it is an RLWE sample like
h_ij itself. It must be given under the pad's own active set — under another Lagrange
coefficient the two would combine into the share — which ``threshold/lineage.py`` and
``threshold/partial.partial_decrypt`` enforce. The residual is the submitter's own noise: nothing
secret-dependent is decrypted, so no smudging is needed and no statistical term enters the
whole-transcript figure. (A submitter choosing c1 could have put δ·s into that residual;
threshold challenges accept only seeded bundles, ``protocol/challenge.py``.)

What it guarantees: every input ciphertext that passes has noise at most 22 + 23·T (91 with
3 trustees; an honest one has at most (T + 1)·21 + 1 = 85) — proven, no smudging slack.
Only then is anything that multiplies the inputs (the validity aggregate, the score)
computed for decryption.
"""

from __future__ import annotations

from cryptoscore.errors import InputError
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.params import ParameterSet
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.noise import noise_check_bounds

__all__ = ["noise_check", "noise_check_threshold"]


def noise_check_threshold(params: type[ParameterSet], trustees: int) -> tuple[int, int]:
    """(smudging E of each partial: 0, the largest acceptable residual: 21 + 1 + T, the
    submitter's own centered binomial error and rounding and the masked message's wraps).
    ``params`` is kept for the record formats."""
    del params  # the bound does not depend on the ring: pads' errors are bounded per coefficient
    smudge, threshold, _ = noise_check_bounds(trustees)
    return smudge, threshold


def noise_check(bundle: EncryptedBundle, index: int) -> AggregateCiphertext:
    """Service, trustee, auditor: the "noise/v1" ciphertext for input ``index`` of ``bundle``
    (the input ciphertext itself; decrypted only with masked partials, the exact complements of
    the pad shares: no smudging, E = 0)."""
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
