"""Threshold decryption costs (``make bench``): partial decryption and combination at
N = 8192 with t = 3 trustees (targets: partial <= 10 ms, combine <= 5 ms); a partial with
differential-privacy noise (``dp_rho``) against one without is the dp release's added cost,
and one trustee's draw alone for a 10-class confusion matrix (100 cells) its sampler's."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions, score
from cryptoscore.threshold.combine import decrypt_answers, rerandomize
from cryptoscore.threshold.dp_noise import release_noise
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.partial import partial_decrypt, standalone_lineage
from tests.helpers.committee import Committee


@pytest.fixture(scope="module")
def committee() -> Committee:
    return Committee(3, 5)


@pytest.fixture(scope="module")
def aggregate(committee, data):
    y = data.integers(0, 2, 8192)
    p = data.integers(0, 2, 8192)
    preds = encrypt_predictions(p, committee.keys.public, classes=2, challenge="b")
    labels = encrypt_labels(y, committee.keys.public, classes=2, challenge="b")
    return score(preds, labels, ReleasePolicy(2, ("correct", "errors")), committee.keys.evaluation)


@pytest.mark.parametrize("dp_rho", [None, 0.1], ids=["exact", "dp"])
def test_partial_decryption(benchmark, committee, aggregate, tmp_path, dp_rho):
    ids = ["trustee-1", "trustee-2", "trustee-3"]
    from cryptoscore.threshold.active_set import ActiveSet

    active = ActiveSet.of(committee.record, ids)
    counter = itertools.count()
    fresh = [rerandomize(aggregate, committee.keys.public, os.urandom(32)) for _ in range(40)]

    def one() -> None:
        k = next(counter)
        with PartialJournal(tmp_path / f"j{k}") as journal:
            partial_decrypt(
                committee.shares["trustee-1"],
                fresh[k % 40],
                active,
                f"r{k}",
                committee.identity("trustee-1"),
                journal,
                committee.record,
                lineage=standalone_lineage(fresh[k % 40], active),
                dp_rho=dp_rho,
            )

    benchmark.pedantic(one, rounds=40, iterations=1)


def test_release_noise_confusion_ten_classes(benchmark):
    policy = ReleasePolicy(10, ("correct", "errors", "confusion"))
    benchmark(release_noise, policy, policy.aggregate_names(), 0.1)


def test_combine_three_partials(benchmark, committee, aggregate, tmp_path):
    ids = ["trustee-1", "trustee-2", "trustee-3"]
    active, parts = committee.partials(aggregate, ids, "bench", tmp_path)
    result = benchmark(decrypt_answers, aggregate, parts, committee.record, "bench", active)
    assert set(result.values) == {"correct", "errors"}
    assert np.isfinite(len(result.values))
