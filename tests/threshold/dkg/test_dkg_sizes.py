"""The relay's upload limit (``dkg/sizes.py``) bounds every message of a real ceremony, and is
tight: only the envelope's header allowance separates it from the largest message."""

from __future__ import annotations

from cryptoscore import BFV8192, BFV16384
from cryptoscore.envelope import MAX_HEADER, header_length
from cryptoscore.threshold.dkg.messages import KINDS
from cryptoscore.threshold.dkg.sizes import largest_message_bytes, message_bound
from tests.helpers.dkg import DkgRun


def test_the_bound_holds_every_message_and_the_largest_body_exactly() -> None:
    run = DkgRun(2, 3)
    transcript, _ = run.run()
    bound = largest_message_bytes(run.plan)
    messages = [m for kind in KINDS for m in transcript.messages(kind)]
    # reveals of seeds, sized only (a trustee that completed never reveals)
    messages += [run.trustee(tid).reveal() for tid in run.identities]
    assert len(messages) == 3 * len(KINDS)
    largest = max(messages, key=lambda m: len(m.to_bytes())).to_bytes()
    assert all(len(m.to_bytes()) <= bound for m in messages)
    signature = 64
    body = len(largest) - header_length(largest) - signature
    prefix = header_length(b"CSDKGMSG" + bytes(6))  # magic, version, a header of length 0
    assert bound == prefix + MAX_HEADER + body + signature


def test_the_bound_grows_with_the_trustees_and_the_ring() -> None:
    assert message_bound(BFV8192, 3, 2) < message_bound(BFV8192, 16, 2)
    assert message_bound(BFV8192, 16, 16) < message_bound(BFV16384, 16, 16) < 130_000_000
