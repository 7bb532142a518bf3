"""Active sets by the answers a record makes (docs/design.md, "Threshold decryption", "Robust
threshold decryption (core)"): additive answers are given under exactly t trustees, Shamir
answers under t to n.

The attack: a service asks an additive record's trustee under t + 1 trustees. Its Lagrange
coefficient λ_j of that set is not one of a t-set: combined with an answer on the same
polynomial under a t-set, two coefficients on one polynomial expose the share
(``threshold/lineage.py``). The trustee refuses before reading its share or writing its journal.
"""

from __future__ import annotations

import numpy as np
import pytest

from cryptoscore import (
    BFV8192,
    MismatchError,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    generate_keys,
    score,
)
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.threshold.active_set import ActiveSet, checked_set_size
from cryptoscore.threshold.combine import decrypt_answers
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadKey, answer_pad_request
from cryptoscore.threshold.partial import partial_decrypt, standalone_lineage
from tests.helpers.committee import Committee

N_ITEMS = 600


@pytest.fixture(scope="module")
def keys():
    return generate_keys(BFV8192)


@pytest.fixture(scope="module")
def additive(keys):
    return Committee(2, 3, keys=keys)


@pytest.fixture(scope="module")
def robust(keys):
    return Committee(2, 3, keys=keys, robust=True)


@pytest.fixture(scope="module")
def aggregate(keys):
    y = np.arange(N_ITEMS) % 2
    preds = encrypt_predictions(y, keys.public, classes=2, challenge="sets")
    labels = encrypt_labels(y, keys.public, classes=2, challenge="sets")
    return score(preds, labels, ReleasePolicy(2, ("correct",)), keys.evaluation)


def test_an_additive_trustee_asked_under_t_plus_one_trustees_refuses(additive, aggregate, tmp_path):
    everyone = ActiveSet((1, 2, 3))  # t + 1 = 3 trustees of a 2-of-3 additive record
    path = tmp_path / "trustee-1.journal"
    with PartialJournal(path) as journal, pytest.raises(MismatchError, match="exactly t = 2"):
        partial_decrypt(
            additive.shares["trustee-1"],
            aggregate,
            everyone,
            "too-many",
            additive.identity("trustee-1"),
            journal,
            additive.record,
            lineage=standalone_lineage(aggregate, everyone),
        )
    assert not path.exists() or path.read_bytes() == b""  # refused before the journal
    context = ChallengeContext(
        "sets",
        additive.record,
        additive.keys.public,
        additive.keys.evaluation,
        ReleasePolicy(2, ("correct",)),
        N_ITEMS,
    )
    request = PadRequest(
        challenge_id="sets",
        kind="labels",
        params=BFV8192,
        key_id=additive.record.key_id,
        seed=bytes(32),
        count=context.layout_of("labels").ciphertexts,
        active_set=everyone.indices,
        recipient=PadKey.generate().public_bytes,
    )
    with pytest.raises(MismatchError, match="exactly t = 2"):
        context.check_pad_request(request)
    with PartialJournal(path) as journal, pytest.raises(MismatchError, match="exactly t = 2"):
        answer_pad_request(
            request,
            additive.record,
            additive.shares["trustee-1"],
            additive.identity("trustee-1"),
            journal,
        )
    assert not path.exists() or path.read_bytes() == b""
    with pytest.raises(MismatchError, match="exactly t = 2"):
        ActiveSet.of(additive.record, ["trustee-1", "trustee-2", "trustee-3"])
    assert not everyone.verifiable(additive.record)


def test_shamir_answers_take_t_to_n_trustees(robust, aggregate, tmp_path):
    record = robust.record
    with pytest.raises(MismatchError, match="at least t = 2 trustees, got 1"):
        ActiveSet.of(record, ["trustee-1"])
    with pytest.raises(MismatchError, match="no trustee with index 4"):
        ActiveSet((1, 2, 3, 4)).check(record)
    pair = ActiveSet.of(record, ["trustee-1", "trustee-3"])
    everyone = ActiveSet.of(record, ["trustee-3", "trustee-1", "trustee-2"])
    assert everyone.indices == (1, 2, 3)
    assert (pair.verifiable(record), everyone.verifiable(record)) == (False, True)
    parts = []
    for tid in ("trustee-1", "trustee-2", "trustee-3"):
        with PartialJournal(tmp_path / f"{tid}.journal") as journal:
            parts.append(
                partial_decrypt(
                    robust.shares[tid],
                    aggregate,
                    everyone,
                    "everyone",
                    robust.identity(tid),
                    journal,
                    record,
                    lineage=standalone_lineage(aggregate, everyone),
                )
            )
    out = decrypt_answers(aggregate, parts, record, "everyone", everyone)
    assert out.values == {"correct": N_ITEMS} and out.verified and out.liars == ()


@pytest.mark.parametrize(
    ("t", "n", "robust", "sizes"),
    [
        (2, 3, True, (3, 2, 2)),  # 2t − 1 = 3; one proven liar left out: t suffices
        (3, 5, True, (5, 4, 3, 3)),
        (4, 7, True, (7, 6, 5, 4, 4)),
        (3, 4, True, (3, 3)),  # n < 2t − 1: no set is checked, so t
        (2, 3, False, (2, 2)),  # additive answers are never checked
    ],
)
def test_checked_set_size_is_2t_minus_1_minus_the_proven_liars(keys, t, n, robust, sizes):
    """max(t, 2t − 1 − ℓ) for Shamir answers with n ≥ 2t − 1 (docs/design.md, "Checked pad
    sets"), t otherwise, for ℓ = 0, 1, …"""
    record = Committee(t, n, keys=keys, robust=robust).record
    assert tuple(checked_set_size(record, liars) for liars in range(len(sizes))) == sizes
    if robust and n >= 2 * t - 1:
        with pytest.raises(MismatchError, match="natural number"):
            checked_set_size(record, -1)
