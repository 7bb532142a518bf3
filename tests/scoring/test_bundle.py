from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from cryptoscore import (
    BFV16384,
    EncryptedBundle,
    FormatError,
    MismatchError,
    ParameterError,
    encrypt_labels,
    encrypt_predictions,
)
from cryptoscore.envelope import header_length
from cryptoscore.scoring.bundle import FORMAT_VERSION, header_of


@pytest.fixture(scope="module")
def bundle(keys):
    idx = np.arange(9000) % 2
    return encrypt_predictions(idx, keys.public, classes=2, challenge="ch-1")


def test_roundtrip_and_digest(bundle):
    raw = bundle.to_bytes()
    again = EncryptedBundle.from_bytes(raw)
    assert again.header == bundle.header and again.digest == bundle.digest
    assert len(raw) == bundle.header.record_length()
    assert header_of(raw) == bundle.header
    again.validate()


def test_file_is_streamed_and_memory_mapped(keys, tmp_path):
    out = tmp_path / "preds.bundle"
    seen = []
    b = encrypt_predictions(
        np.zeros(20000, dtype=int),
        keys.public,
        classes=2,
        challenge="c",
        out=out,
        progress=seen.append,
    )
    assert seen == [1, 2, 3] and out.stat().st_size == len(b.to_bytes())
    assert not (tmp_path / "preds.bundle.partial").exists()
    assert EncryptedBundle.open(out).digest == b.digest


def test_truncated_and_padded_uploads_rejected(bundle):
    raw = bundle.to_bytes()
    with pytest.raises(FormatError, match="truncated or padded upload"):
        EncryptedBundle.from_bytes(raw[:-1])
    with pytest.raises(FormatError, match="truncated or padded upload"):
        EncryptedBundle.from_bytes(raw + b"\0" * 8)
    with pytest.raises(FormatError, match="truncated"):
        EncryptedBundle.from_bytes(raw[:10])


def _rewrite_header(raw: bytes, **changes) -> bytes:
    start = header_length(raw)
    header = json.loads(raw[14:start])
    header.update(changes)
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    return raw[:8] + struct.pack("<HI", FORMAT_VERSION, len(head)) + head + raw[start:]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"params": "bfv-1024"}, ParameterError, "unknown parameter set"),
        ({"params": "bfv-16384"}, FormatError, "body has"),
        ({"n": 20000}, FormatError, "body has"),
        ({"n": 0}, FormatError, "'n' must be an integer"),
        ({"classes": 3}, FormatError, "body has"),
        ({"kind": "scores"}, FormatError, "unknown kind"),
        ({"key_id": "00"}, FormatError, "key_id"),
        ({"extra": 1}, FormatError, "unknown header field"),
        ({"c1_seed": "ab" * 32}, FormatError, "unknown header field"),  # format v2
        ({"pad_request": "ab" * 32}, FormatError, "pad request: expected an object"),
        ({"pad_request": {"seed": "ab"}}, FormatError, "pad request: missing header field"),
    ],
)
def test_header_tampering_rejected(bundle, changes, error, message):
    with pytest.raises(error, match=message):
        EncryptedBundle.from_bytes(_rewrite_header(bundle.to_bytes(), **changes))


def test_n_changed_within_same_chunk_count_is_a_different_bundle(bundle):
    # same length, so it parses; its digest differs, so nothing signed for the original applies
    other = EncryptedBundle.from_bytes(_rewrite_header(bundle.to_bytes(), n=9001))
    assert other.digest != bundle.digest


def test_non_canonical_header_and_bad_magic_and_version(bundle):
    raw = bundle.to_bytes()
    start = header_length(raw)
    spaced = raw[14:start].replace(b",", b", ", 1)
    bad = raw[:8] + struct.pack("<HI", FORMAT_VERSION, len(spaced)) + spaced + raw[start:]
    with pytest.raises(FormatError, match="canonical"):
        EncryptedBundle.from_bytes(bad)
    with pytest.raises(FormatError, match="wrong record type"):
        EncryptedBundle.from_bytes(b"CSAGGREG" + raw[8:])
    with pytest.raises(FormatError, match="unsupported format version 1"):
        EncryptedBundle.from_bytes(raw[:8] + struct.pack("<H", 1) + raw[10:])


def test_coefficient_out_of_range_inside_bundle(bundle):
    raw = bytearray(bundle.to_bytes())
    start = header_length(raw)
    raw[start : start + 8] = b"\xff" * 8
    b = EncryptedBundle.from_bytes(bytes(raw))
    with pytest.raises(FormatError, match="ciphertext 0: coefficient 0 of polynomial 0"):
        b.validate()


def test_expect_names_the_mismatch(bundle, keys):
    bundle.expect(
        kind="predictions", n=9000, classes=2, challenge="ch-1", key_id=keys.public.key_id
    )
    with pytest.raises(MismatchError, match="kind is 'predictions', expected 'labels'"):
        bundle.expect(kind="labels")
    with pytest.raises(MismatchError, match="number of items is 9000, expected 100"):
        bundle.expect(n=100)
    with pytest.raises(MismatchError, match="number of classes"):
        bundle.expect(classes=10)
    with pytest.raises(MismatchError, match="parameter set"):
        bundle.expect(params=BFV16384)
    with pytest.raises(MismatchError, match="challenge"):
        bundle.expect(challenge="other")


def test_labels_bundle_kind(keys):
    b = encrypt_labels([0, 1, 1], keys.public, classes=2, challenge="c")
    assert b.header.kind == "labels"
