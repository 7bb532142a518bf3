"""How large a dealerless ceremony's messages can be, for a relay's upload limit.

:func:`message_bound` is an upper bound on every message (``messages.py``) of a ceremony of n
trustees, t of them needed, at a parameter set: the envelope's prefix and its largest header
(``envelope.MAX_HEADER``), the signature, and the largest body of any kind — a contribution's
key shares (p_i, h0_i, h1_i, one Galois-key share per element) over the key primes and its n −
1 sealed shares — with PRSS keys (a version 2 plan), trustee 1's, which seal the most keys: 32
bytes to each other member of each of the C(n − 1, t − 1) sets it leads
(``prss_dealing.largest_sealed_keys``; its commitments are header) —, a response's degree-check
and RKG round-2 polynomials, a confirmation's test partial. A hello, a reveal and the kinds
without polynomials have no body. The bound is the body exactly plus at most a MiB of header: a
contribution of bfv-8192 at n = 3 is ≈ 21.6 MB, of bfv-16384 at n = 16 ≈ 124 MB.
"""

from __future__ import annotations

from cryptoscore.envelope import MAX_HEADER, canonical_json, record_prefix
from cryptoscore.hazmat.keygen import key_primes
from cryptoscore.params import ParameterSet
from cryptoscore.scoring.keys import galois_elements
from cryptoscore.threshold.dkg.messages import (
    MESSAGE_MAGIC,
    MESSAGE_VERSION,
    SIGNATURE_BYTES,
    sealed_share_bytes,
)
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.prss_dealing import largest_sealed_keys

__all__ = ["largest_message_bytes", "message_bound"]

_PREFIX = len(record_prefix(MESSAGE_MAGIC, MESSAGE_VERSION, {})) - len(canonical_json({}))
"""The envelope's magic, version and header length."""


def message_bound(params: type[ParameterSet], n: int, threshold: int, *, prss: bool = True) -> int:
    """An upper bound on the bytes of any message of a t-of-n ceremony at ``params``, one
    that deals PRSS keys unless ``prss`` is False."""
    words = params.POLY_MODULUS_DEGREE * 8
    levels = len(params.DATA_PRIMES)
    primes = len(key_primes(params))
    contribution = (1 + 2 * levels + len(galois_elements(params)) * levels) * primes * words
    contribution += sealed_share_bytes(params) * (n - 1)
    if prss:
        contribution += largest_sealed_keys(n, threshold)
    response = (2 * threshold * levels + 2 * levels * primes) * words
    confirmation = levels * words
    body = max(contribution, response, confirmation)
    return _PREFIX + MAX_HEADER + body + SIGNATURE_BYTES


def largest_message_bytes(plan: CeremonyPlan) -> int:
    """:func:`message_bound` at the plan's parameters, n and t."""
    return message_bound(plan.params, plan.n, plan.threshold, prss=plan.prss)
