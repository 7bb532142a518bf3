"""Trustee-assisted encryption costs (``make bench``): c1 expansion (every reader of a seeded
bundle pays it per ciphertext), one trustee's pad share for a bundle of 16 ciphertexts, and the
client's pad encryption of 16 ciphertexts (N = 8192, t = 3)."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from cryptoscore import BFV8192, ReleasePolicy, encrypt_predictions
from cryptoscore.hazmat.c1 import expand_c1
from cryptoscore.protocol.answer import answer_pad_request
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadKey
from tests.helpers.committee import Committee

N_ITEMS = 16 * 8192


@pytest.fixture(scope="module")
def committee() -> Committee:
    return Committee(3, 5)


@pytest.fixture(scope="module")
def context(committee):
    return committee.context("b", ReleasePolicy(2, ("correct", "errors")), N_ITEMS)


def test_expand_c1(benchmark):
    seed = os.urandom(32)
    counter = itertools.count()
    a = benchmark(lambda: expand_c1(BFV8192, seed, next(counter)))
    assert a.shape == (len(BFV8192.DATA_PRIMES), 8192)


def test_trustee_pad_share_16_ciphertexts(benchmark, committee, context, tmp_path):
    active = ActiveSet.of(committee.record, ["trustee-1", "trustee-2", "trustee-3"])
    key = PadKey.generate()
    counter = itertools.count()

    def one() -> None:
        request = context.pad_request("predictions", key, active)  # a fresh seed each time
        with PartialJournal(tmp_path / f"j{next(counter)}") as journal:
            answer_pad_request(
                request,
                context,
                committee.shares["trustee-1"],
                committee.identity("trustee-1"),
                journal,
            )

    benchmark.pedantic(one, rounds=5, iterations=1)


def test_client_pad_encryption_16_ciphertexts(benchmark, committee, context, tmp_path):
    p = np.random.default_rng(0).integers(0, 2, N_ITEMS)  # benchmark data
    counter = itertools.count()
    pads = [committee.pads(context, "predictions", tmp_path / f"p{i}") for i in range(5)]

    def one() -> None:
        encrypt_predictions(
            p,
            committee.keys.public,
            classes=2,
            challenge="b",
            pads=pads[next(counter)],
        )

    benchmark.pedantic(one, rounds=5, iterations=1)
