"""Dealing the PRSS keys of robust threshold decryption in the dealerless ceremony
(docs/design.md, "Key ceremony v2 (dealerless)", PRSS keys; ``threshold/prss.py``).

Robust decryption needs, for every set A of n − t + 1 trustees (``prss.prss_sets``), a 32-byte
key r_A that every member of A holds and nobody outside A knows (Cramer, Damgård, Ishai,
"Share conversion, pseudorandom secret-sharing and applications to secure computation",
TCC 2005, §3). Without a dealer, the **leader** of A — its smallest index — draws r_A from its
seeded stream ``"prss:<A>"`` (so the contribution stays a deterministic function of its seed,
plan and earlier messages, which blame by replay needs), seals it to every other member of A
inside the per-recipient payload of its contribution (after f_i(k), m_{0,i}(k), m_{1,i}(k);
``transport.py``), and publishes :func:`prss.ceremony_commitment` of it — bound to the ceremony
id, since the key id exists only after the ceremony. Each member checks the key it opens
against the commitment in its confirmation and complains naming the leader otherwise; the
commitment binds, so members holding different keys means a complaint.

Only trustees 1..t lead sets (A has n − t + 1 members, so its smallest index is at most t);
trustee 1 leads C(n − 1, t − 1) of them, the most.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptoscore.randomness import SEED_BYTES
from cryptoscore.threshold.prss import PrssSet, prss_sets

__all__ = [
    "carried_sets",
    "commitments_digest",
    "key_label",
    "largest_sealed_keys",
    "led_sets",
]

_DIGEST_DOMAIN = b"cryptoscore/dkg/prss-commitments/v1\x00"


def led_sets(n: int, t: int, leader: int) -> tuple[PrssSet, ...]:
    """The sets trustee ``leader`` leads (its smallest member), in canonical order."""
    return tuple(a for a in prss_sets(n, t) if a[0] == leader)


def carried_sets(n: int, t: int, leader: int, recipient: int) -> tuple[PrssSet, ...]:
    """The sets whose key ``leader`` seals to ``recipient``: those it leads that hold
    ``recipient`` (none when ``recipient`` is the leader), in canonical order."""
    if recipient == leader:
        return ()
    return tuple(a for a in led_sets(n, t, leader) if recipient in a)


def key_label(members: PrssSet) -> str:
    """The leader's seeded-stream label of r_A: ``prss:<i,j,...>``."""
    return "prss:" + ",".join(map(str, members))


def commitments_digest(commitments: Sequence[tuple[PrssSet, bytes]]) -> str:
    """SHA-256 (hex) over a domain tag and every (|A|, A, commitment), in the order given
    (canonical): what each completion signs and the record's ``prss`` list must hash to."""
    h = hashlib.sha256(_DIGEST_DOMAIN)
    for members, value in commitments:
        h.update(bytes([len(members), *members]) + value)
    return h.hexdigest()


def largest_sealed_keys(n: int, t: int) -> int:
    """The most PRSS-key bytes one contribution seals: trustee 1's, 32 bytes per other member
    of each set it leads."""
    return SEED_BYTES * sum(len(a) - 1 for a in led_sets(n, t, 1))
