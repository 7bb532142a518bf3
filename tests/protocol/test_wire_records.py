"""Malformed receipts and decryption requests are refused with a FormatError naming the
problem (the other records have their own tests)."""

from __future__ import annotations

import base64
import json

import pytest

from cryptoscore import FormatError, RefusedError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.transparency.receipts import Receipt


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b"{}",
        json.dumps({"version": 2}).encode(),
        json.dumps(
            {"version": 1, "bundle": "x", "entry": "{}", "index": 0, "tree_head": {}, "proof": {}}
        ).encode(),
    ],
)
def test_malformed_receipts(raw):
    with pytest.raises(FormatError, match="receipt"):
        Receipt.from_bytes(raw)


def _request() -> DecryptionRequest:
    return DecryptionRequest(
        "r-1", "ch", "noise/v1", ("ab" * 32,), b"", b"", ActiveSet((1, 2)), "cd" * 32, index=3
    )


def test_request_roundtrip_and_tampering():
    raw = _request().to_bytes()
    assert DecryptionRequest.from_bytes(raw) == _request()
    with pytest.raises(FormatError, match="unexpected bytes"):
        DecryptionRequest.from_bytes(raw + b"x")
    with pytest.raises(FormatError, match="truncated"):
        DecryptionRequest.from_bytes(raw[:20])
    with pytest.raises(RefusedError, match="no published circuit"):
        DecryptionRequest.from_bytes(raw.replace(b"noise/v1", b"raw/v1.."))
    with pytest.raises(FormatError, match="only a noise-check request names a ciphertext index"):
        DecryptionRequest("r", "ch", "score/v1", (), b"", b"", ActiveSet((1, 2)), "cd" * 32, 1)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _with_header(contribution, **changes) -> bytes:
    """The contribution's record with header fields changed (a malformed record)."""
    from cryptoscore.envelope import pack_record
    from cryptoscore.protocol.contributions import FORMAT_VERSION, MAGIC

    header = {
        "challenge": contribution.challenge_id,
        "bundle": contribution.bundle_digest,
        "trustee": contribution.trustee_id,
        "randomness": contribution.randomness.hex(),
        "signature": contribution.signature.hex(),
        **changes,
    }
    return pack_record(MAGIC, FORMAT_VERSION, header)


def test_contribution_record_roundtrip_and_malformed():
    from cryptoscore.protocol.contributions import Contribution

    identity = TrusteeIdentity.generate()
    c = Contribution.sign(identity, "ch", "ab" * 32, "t1", bytes(range(32)))
    assert Contribution.from_bytes(c.to_bytes()) == c
    for raw in (
        c.to_bytes() + b"x",
        _with_header(c, bundle="AB" * 32),
        _with_header(c, randomness="00" * 31),
        _with_header(c, signature=""),
        _with_header(c, extra=1),
        c.to_bytes()[:20],
    ):
        with pytest.raises(FormatError):
            Contribution.from_bytes(raw)


def test_round1_evidence_roundtrip_and_malformed_json():
    from cryptoscore.protocol.contributions import Contribution
    from cryptoscore.protocol.requests import Round1Evidence

    request = DecryptionRequest(
        "r1-x:noise:0", "ch", "noise/v1", ("ab" * 32,), b"", b"", ActiveSet((1, 2)), "cd" * 32
    )
    signed = [
        Contribution.sign(TrusteeIdentity.generate(), "ch", "ab" * 32, tid, bytes([i]) * 32)
        for i, tid in enumerate(("t1", "t2"))
    ]
    evidence = Round1Evidence(
        "ab" * 32,
        tuple(signed),
        (request,),
        {request.request_id: ()},
    )
    again = Round1Evidence.from_json(json.loads(json.dumps(evidence.to_json())))
    assert again.to_json() == evidence.to_json()
    good = evidence.to_json()
    for bad in (
        {},
        {**good, "requests": ["%%%"]},
        {**good, "requests": ["AAAA"]},  # base64, but not a request record
        {**good, "contributions": [{"trustee": "t1", "randomness": "zz"}]},  # not a record
        {**good, "contributions": ["%%%"]},
        {**good, "contributions": [_b64(_with_header(signed[0], randomness="00"))]},  # 1 byte
        {**good, "contributions": [_b64(_with_header(signed[0], signature="00" * 63))]},
        {**good, "partials": {"r": ["AAAA"]}},
        {**good, "partials": []},
    ):
        with pytest.raises(FormatError):
            Round1Evidence.from_json(bad)


def _enrolment_with(enrolment, **changes) -> bytes:
    from cryptoscore.envelope import pack_record
    from cryptoscore.protocol.signed_inputs import ENROLMENT_MAGIC, FORMAT_VERSION

    header = {
        "challenge": enrolment.challenge_id,
        "identity": enrolment.identity.hex(),
        "name": enrolment.name,
        "signature": enrolment.signature.hex(),
    }
    header.update(changes)
    return pack_record(ENROLMENT_MAGIC, FORMAT_VERSION, header)


def test_enrolment_record_roundtrip_and_malformed():
    from cryptoscore.errors import VerificationError
    from cryptoscore.protocol.signed_inputs import Enrolment

    identity = TrusteeIdentity.generate()
    e = Enrolment.sign(identity, "ch", "alice")
    assert Enrolment.from_bytes(e.to_bytes()) == e
    e.verify()
    for raw in (
        e.to_bytes() + b"x",
        _enrolment_with(e, identity="00" * 31),
        _enrolment_with(e, identity="AB" * 32),
        _enrolment_with(e, name=""),
        _enrolment_with(e, name="a\nb"),
        _enrolment_with(e, name="x" * 65),
        _enrolment_with(e, signature="00" * 63),
        _enrolment_with(e, challenge=""),
        _enrolment_with(e, extra=1),
        e.to_bytes()[:12],
    ):
        with pytest.raises(FormatError):
            Enrolment.from_bytes(raw)
    with pytest.raises(VerificationError):  # another name than the identity signed
        Enrolment.from_bytes(_enrolment_with(e, name="mallory")).verify()


@pytest.mark.parametrize(
    "change",
    [
        {"organizer": "zz"},
        {"organizer": "AB" * 32},
        {"enrolment": "closed"},
        {"enrolment": "invite"},  # and nobody invited
        {"invited": ["ab" * 32]},  # open, yet someone invited
        {"invited": "ab"},
        {"submissions_per_day": 0},
        {"submissions_per_day": True},
        {"pad_requests_per_day": 1001},
        {"max_enrolled": 0},
        {"max_enrolled": 1_000_001},
        {"max_enrolled": True},
        {"max_enrolled": "5"},
        {"max_enrolled": None},
        {"enrolment": "invite", "invited": ["ab" * 32], "max_enrolled": 3},  # the list caps
        {"extra": 1},
    ],
)
def test_malformed_challenge_rules(change):
    from cryptoscore.protocol.rules import ChallengeRules

    good = ChallengeRules(TrusteeIdentity.generate().public_key, "open").to_json()
    assert ChallengeRules.from_json(good).to_json() == good
    with pytest.raises(FormatError):
        ChallengeRules.from_json({**good, **change})


def test_challenge_rules_with_and_without_a_cap():
    """``max_enrolled`` round-trips; a definition written before the cap (no such member)
    still parses, means no cap, and serializes, and so digests, exactly as before."""
    from cryptoscore.protocol.rules import ChallengeRules

    organizer = TrusteeIdentity.generate().public_key
    capped = ChallengeRules(organizer, "open", max_enrolled=40)
    assert capped.to_json()["max_enrolled"] == 40
    assert ChallengeRules.from_json(capped.to_json()) == capped
    assert capped.enrolment_limit == 40
    old = {
        "organizer": organizer.hex(),
        "enrolment": "open",
        "invited": [],
        "submissions_per_day": 5,
        "pad_requests_per_day": 10,
    }
    parsed = ChallengeRules.from_json(old)
    assert parsed.max_enrolled is None and parsed.enrolment_limit is None
    assert parsed.to_json() == old
    invited = ChallengeRules(organizer, "invite", (TrusteeIdentity.generate().public_key,))
    assert invited.enrolment_limit == 1
