"""What following the log costs a trustee (``make bench``): catching up on 100 new entries, and
the log rules of one score request, over logs of 1,000 and 100,000 entries.

The log holds one labels bundle, then submissions (a bundle, two contributions, five round-1
requests, a verdict, a score request, a release: eleven entries each), as a challenge does."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.transparency.entries import ENTRY_TYPES
from cryptoscore.transparency.replica import LogReplica
from cryptoscore.transparency.transcript import Transcript
from cryptoscore.trustee.log_rules import check_request_logged

KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
CHALLENGE = "bench-follow"


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


def _grow(transcript: Transcript, submissions: int, start: int, labels: str) -> DecryptionRequest:
    request = None
    for s in range(start, start + submissions):
        bundle = _digest("bundle", s)
        append = transcript.append
        append(ENTRY_TYPES["bundle"].make(kind="predictions", bundle=bundle, owner=f"p{s}"))
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


@pytest.fixture(scope="module", params=[1_000, 100_000], ids=lambda n: f"{n}-entries")
def followed(request, tmp_path_factory):
    transcript = Transcript(CHALLENGE, KEY, f"cryptoscore/{CHALLENGE}")
    labels = _digest("labels")
    transcript.append(ENTRY_TYPES["bundle"].make(kind="labels", bundle=labels, owner="org"))
    last = _grow(transcript, request.param // 11, 0, labels)
    transcript.sign_head(1)
    replica = LogReplica(Path(tmp_path_factory.mktemp("replica")), transcript.log_id, PUBLIC)
    page = transcript.log_entries(CHALLENGE, 0, limit=1 << 30)
    replica.accept(transcript.tree_heads[-1], [e.encode() for e in page["entries"]])
    return transcript, replica, labels, last


def test_catch_up_on_100_entries(benchmark, followed) -> None:
    transcript, replica, labels, _ = followed
    rounds = iter(range(10**6))

    def setup():
        n = next(rounds)
        start = replica.size
        _grow(transcript, 9, 10**7 + 9 * n, labels)  # 99 entries
        transcript.append(ENTRY_TYPES["round1"].make(bundle=_digest(n), verdict="valid", reason=""))
        transcript.sign_head(2 + n)
        page = transcript.log_entries(CHALLENGE, start, limit=1 << 30)
        return (transcript.tree_heads[-1], [e.encode() for e in page["entries"]]), {}

    benchmark.pedantic(replica.accept, setup=setup, rounds=20)


def test_log_rules_of_one_score_request(benchmark, followed) -> None:
    _, replica, _, last = followed
    benchmark(check_request_logged, replica, last)
