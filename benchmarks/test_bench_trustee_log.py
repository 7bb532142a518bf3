"""What following the log costs a trustee (``make bench``): catching up on 100 new entries, the
log rules of one score request, and the input rules (``trustee/input_rules.py``: signature,
enrolment, quota) of one submission and of one pad request, over logs of 1,000 and 100,000
entries.

The log holds the challenge definition, 100 enrolled identities, the organizer's signed labels
bundle, then submissions (a signed bundle, two contributions, five round-1 requests, a
verdict, a score request, a release: eleven entries each), as a challenge does."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore import ReleasePolicy
from cryptoscore.identity import Identity
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.protocol.signed_inputs import Enrolment, sign_pad_request, sign_upload
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.pad_shares import PadKey
from cryptoscore.transparency.entries import ENTRY_TYPES
from cryptoscore.transparency.replica import LogReplica
from cryptoscore.transparency.transcript import Transcript
from cryptoscore.trustee.input_rules import check_bundle_signed, check_pad_request_signed
from cryptoscore.trustee.log_rules import check_request_logged
from tests.helpers.committee import Committee

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
CHALLENGE = "bench-follow"
PARTICIPANTS = [Identity.generate() for _ in range(100)]
START_MS = int(time.time() * 1000) - 10**7
"""Log times start here and grow by 1 ms an entry: every head is signed "now"."""


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _score(predictions: str, labels: str) -> DecryptionRequest:
    return DecryptionRequest(
        f"r2-{predictions[:12]}",
        CHALLENGE,
        "score/v1",
        (predictions, labels),
        b"",
        b"",
        ActiveSet((1, 2)),
        _digest("ct", predictions),
    )


def _signed_bundle(transcript: Transcript, kind: str, bundle: str, who: Identity) -> None:
    transcript.append(
        ENTRY_TYPES["bundle"].make(
            kind=kind,
            bundle=bundle,
            owner=who.public_key.hex()[:8],
            signer=who.public_key.hex(),
            signature=sign_upload(who, CHALLENGE, kind, bundle).hex(),
            time=START_MS + transcript.log.size,
        )
    )


def _grow(transcript: Transcript, submissions: int, start: int, labels: str) -> DecryptionRequest:
    request = None
    for s in range(start, start + submissions):
        bundle = _digest("bundle", s)
        append = transcript.append
        _signed_bundle(transcript, "predictions", bundle, PARTICIPANTS[s % len(PARTICIPANTS)])
        for t in ("t1", "t2"):
            append(
                ENTRY_TYPES["contribution"].make(
                    bundle=bundle, trustee=t, randomness="00" * 32, signature="00" * 64
                )
            )
        for i in range(5):
            append(
                ENTRY_TYPES["request"].make(
                    request=_digest("r1", s, i), round=1, circuit="noise/v1", inputs=[bundle]
                )
            )
        append(ENTRY_TYPES["round1"].make(bundle=bundle, verdict="valid", reason=""))
        request = _score(bundle, labels)
        transcript.record_request(request, 2)
        append(
            ENTRY_TYPES["release"].make(
                predictions=bundle, labels=labels, request_id=request.request_id, values={}
            )
        )
    assert request is not None
    return request


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


@pytest.fixture(scope="module", params=[1_000, 100_000], ids=lambda n: f"{n}-entries")
def followed(request, committee, tmp_path_factory):
    quotas = committee.rules(submissions_per_day=1000, pad_requests_per_day=1000)
    context = committee.context(CHALLENGE, ReleasePolicy(2, ("correct",)), 1000, quotas)
    transcript = Transcript(CHALLENGE, KEY, f"cryptoscore/{CHALLENGE}")
    transcript.record_challenge(context)
    for i, who in enumerate(PARTICIPANTS):
        transcript.record_enrolment(Enrolment.sign(who, CHALLENGE, f"p{i}"))
    labels = _digest("labels")
    _signed_bundle(transcript, "labels", labels, committee.organizer)
    last = _grow(transcript, request.param // 11, 0, labels)
    pads = context.pad_request("predictions", PadKey.generate(), ActiveSet((1, 2)))
    who = PARTICIPANTS[0]
    signature = sign_pad_request(who, CHALLENGE, "predictions", pads.seed, pads.recipient)
    transcript.record_pad_request(pads, who.public_key, signature, START_MS + transcript.log.size)
    transcript.sign_head(int(time.time() * 1000))
    replica = LogReplica(Path(tmp_path_factory.mktemp("replica")), transcript.log_id, PUBLIC)
    page = transcript.log_entries(CHALLENGE, 0, limit=1 << 30)
    replica.accept(transcript.tree_heads[-1], [e.encode() for e in page["entries"]])
    return transcript, replica, labels, last, context, pads


def test_catch_up_on_100_entries(benchmark, followed) -> None:
    transcript, replica, labels, *_ = followed
    rounds = iter(range(10**6))

    def setup():
        n = next(rounds)
        start = replica.size
        _grow(transcript, 9, 10**7 + 9 * n, labels)  # 99 entries
        transcript.append(ENTRY_TYPES["round1"].make(bundle=_digest(n), verdict="valid", reason=""))
        transcript.sign_head(int(time.time() * 1000) + n)
        page = transcript.log_entries(CHALLENGE, start, limit=1 << 30)
        return (transcript.tree_heads[-1], [e.encode() for e in page["entries"]]), {}

    benchmark.pedantic(replica.accept, setup=setup, rounds=20)


def test_log_rules_of_one_score_request(benchmark, followed) -> None:
    _, replica, _, last, *_ = followed
    benchmark(check_request_logged, replica, last)


def test_input_rules_of_one_submission(benchmark, followed) -> None:
    """Signature (one Ed25519 verification), enrolment, and the 24-hour submission count."""
    _, replica, _, last, context, _ = followed
    benchmark(check_bundle_signed, replica, context, last.inputs[0])


def test_input_rules_of_one_pad_request(benchmark, followed) -> None:
    _, replica, _, _, context, pads = followed
    benchmark(check_pad_request_signed, replica, context, pads)
