"""A submitter's side of trustee-assisted encryption over the service.

:func:`fetch_pads` asks the service for a pad request (a fresh seed, a fresh X25519 key that
never leaves this process), signed by the requester's identity (``sign_pad_request``: the
organizer's for labels, the enrolled participant's for predictions), checks that the request
the service built is the one asked for, waits until every trustee of its active set has
answered, downloads the shares and opens them (``cryptoscore.threshold.pad_shares.open_pads``
checks roster, active set and signatures). The result goes to
``encrypt_predictions(..., pads=...)`` / ``encrypt_labels``.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Callable

from cryptoscore.errors import CryptoScoreError, MismatchError
from cryptoscore.hazmat.c1 import SEED_BYTES
from cryptoscore.identity import Identity
from cryptoscore.protocol.signed_inputs import sign_pad_request
from cryptoscore.scoring.keys import PublicContext
from cryptoscore.scoring.pad_request import PadRequest, Pads
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.pad_shares import PadKey, PadShare, open_pads
from cryptoscore_cli.api import ProtocolClient

__all__ = ["PadsNotReady", "fetch_pads"]


class PadsNotReady(CryptoScoreError):
    """The trustees of the pad request did not all answer in time."""


def fetch_pads(
    client: ProtocolClient,
    challenge_id: str,
    kind: str,
    record: CeremonyRecord,
    public: PublicContext,
    count: int,
    *,
    identity: Identity,
    trustees: list[str] | None = None,
    timeout: float = 600.0,
    interval: float = 1.0,
    on_answer: Callable[[int, int], None] | None = None,
) -> Pads:
    """Ask (signed by ``identity``), wait (at most ``timeout`` seconds), check and open;
    ``on_answer(done, asked)`` reports progress (the pad set may hold more than t trustees)."""
    if record.key_id != public.key_id:
        raise MismatchError("the ceremony record and the public context are for different keys")
    key = PadKey.generate()
    seed = os.urandom(SEED_BYTES)
    signature = sign_pad_request(identity, challenge_id, kind, seed, key.public_bytes)
    created = client.request_pads(
        challenge_id, kind, seed, key.public_bytes, trustees, signature=signature
    )
    request = PadRequest.from_bytes(base64.b64decode(created["record"]))
    expected = [
        (request.challenge_id == challenge_id, "challenge"),
        (request.kind == kind, "kind"),
        (request.params is public.params and request.key_id == public.key_id, "key"),
        (request.seed == seed, "seed"),
        (request.recipient == key.public_bytes, "recipient key"),
        (request.count == count, "size"),
        (request.digest == created["request"], "digest"),
    ]
    for ok, what in expected:
        if not ok:
            raise MismatchError(f"the service built a pad request with another {what}")
    ActiveSet(request.active_set).check(record)
    deadline = time.monotonic() + timeout
    status = created
    while True:
        if on_answer is not None:
            on_answer(len(status["answered"]), len(status["trustees"]))
        if status["ready"]:
            break
        if time.monotonic() >= deadline:
            missing = sorted(set(status["trustees"]) - set(status["answered"]))
            raise PadsNotReady(
                f"trustees {missing} did not answer the pad request within {timeout:.0f} s; "
                "try again later or name online trustees"
            )
        time.sleep(interval)
        status = client.pad_request(challenge_id, request.digest)
    shares = [
        PadShare.from_bytes(client.pad_share(challenge_id, request.digest, tid))
        for tid in status["trustees"]
    ]
    return open_pads(request, shares, record, key)
