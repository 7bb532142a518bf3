from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cryptoscore import (
    AggregateCiphertext,
    FormatError,
    MismatchError,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    score,
)
from cryptoscore.envelope import header_length
from cryptoscore.scoring.decryption import decrypt_aggregate


@pytest.fixture(scope="module")
def aggregate(keys):
    y = np.arange(500) % 2
    preds = encrypt_predictions(1 - y, keys.public, classes=2, challenge="a")
    labels = encrypt_labels(y, keys.public, classes=2, challenge="a")
    return score(preds, labels, ReleasePolicy(2, ("correct", "errors")), keys.evaluation)


def test_roundtrip(aggregate, keys):
    again = AggregateCiphertext.from_bytes(aggregate.to_bytes())
    assert again == aggregate and again.digest == aggregate.digest
    assert decrypt_aggregate(again, keys.secret) == {"correct": 0, "errors": 500}
    assert again.positions == (0, 4096)


def test_truncated_and_tampered(aggregate):
    raw = aggregate.to_bytes()
    with pytest.raises(FormatError, match="bytes, expected"):
        AggregateCiphertext.from_bytes(raw[:-1])
    start = header_length(raw)
    bad = bytearray(raw)
    bad[start : start + 8] = b"\xff" * 8
    with pytest.raises(FormatError, match="not reduced"):
        AggregateCiphertext.from_bytes(bytes(bad))


def test_names_must_match_policy(aggregate):
    with pytest.raises(FormatError, match="differ from the policy"):
        dataclasses.replace(aggregate, names=("errors", "correct"))
    with pytest.raises(FormatError, match="distinct"):
        dataclasses.replace(aggregate, positions=(0, 0))
    with pytest.raises(FormatError, match="unknown circuit"):
        dataclasses.replace(aggregate, circuit="raw/v1")


def test_wrong_secret_key_refused(aggregate, other_keys):
    with pytest.raises(MismatchError, match="does not belong"):
        decrypt_aggregate(aggregate, other_keys.secret)
