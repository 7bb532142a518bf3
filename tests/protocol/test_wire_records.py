"""Malformed receipts and decryption requests are refused with a FormatError naming the
problem (the other records have their own tests)."""

from __future__ import annotations

import json

import pytest

from cryptoscore import FormatError, RefusedError
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


def test_round1_evidence_roundtrip_and_malformed_json():
    from cryptoscore.protocol.contributions import Contribution
    from cryptoscore.protocol.requests import Round1Evidence

    request = DecryptionRequest(
        "r1-x:noise:0", "ch", "noise/v1", ("ab" * 32,), b"", b"", ActiveSet((1, 2)), "cd" * 32
    )
    evidence = Round1Evidence(
        "ab" * 32,
        (Contribution("t1", bytes(32)), Contribution("t2", bytes([1]) * 32)),
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
        {**good, "contributions": [{"trustee": "t1", "randomness": "zz"}]},
        {**good, "contributions": [{"trustee": "t1", "randomness": "00"}]},  # not 32 bytes
        {**good, "partials": {"r": ["AAAA"]}},
        {**good, "partials": []},
    ):
        with pytest.raises(FormatError):
            Round1Evidence.from_json(bad)
