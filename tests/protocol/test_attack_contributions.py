"""A malicious service picks V's seed: fabricated, foreign or ground round-1 contributions.

Found on main 1a8c2c5 (issue 11): contributions were unsigned and no trustee checked its own
went into the seed, so a service could derive V's seed from randomness of its choosing and
grind it until an invalid bundle's V decrypts to 0. Each attack here is refused by the trustee
before its share is read or its journal written; the service's own state machine refuses the
forged records too.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from cryptoscore import MismatchError, RefusedError, ReleasePolicy, encrypt_predictions
from cryptoscore.errors import VerificationError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.contributions import Contribution, derive_seed, round1_seed
from cryptoscore.protocol.release import BundleRelease, ReleaseState
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.validity import validity
from tests.helpers.committee import Committee

CHALLENGE = "contrib"
N_ITEMS = 600


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


@pytest.fixture(scope="module")
def context(committee):
    return committee.context(CHALLENGE, ReleasePolicy(2, ("correct",)), N_ITEMS)


def _bundle(committee, context, tmp_path, seed=5):
    values = np.random.default_rng(seed).integers(0, 2, N_ITEMS)
    pads = committee.pads(context, "predictions", tmp_path / "pads")
    return encrypt_predictions(
        values, committee.keys.public, classes=2, challenge=CHALLENGE, pads=pads
    )


def _up_to_validity(committee, context, bundle, journals):
    """Round 1 run honestly up to the request for V (noise checks answered and passed)."""
    release = BundleRelease(context, bundle)
    for tid in ("trustee-1", "trustee-2"):
        release.add_contribution(committee.contribute(tid, context, bundle.digest, journals))
    requests = release.start("r1")
    evidence = {bundle.digest: release.evidence()}
    for request in requests:
        for tid in ("trustee-1", "trustee-2"):
            release.add_partial(
                committee.answer(tid, request, context, {bundle.digest: bundle}, journals, evidence)
            )
    (v_request,) = release.advance()
    assert release.state == ReleaseState.VALIDITY and v_request.circuit == "validity/v1"
    return release, v_request


def _v_request_for(context, bundle, honest: DecryptionRequest, contributions) -> DecryptionRequest:
    """What a malicious service sends: V under the seed ``contributions`` give."""
    seed = derive_seed(round1_seed(bundle.digest, list(contributions)), b"validity")
    v = validity(bundle, seed, context.evaluation)
    return dataclasses.replace(
        honest, request_id="evil-v", seed=seed, ciphertext_digest=v.ciphertext_digest
    )


def _evil_evidence(release, bundle, contributions):
    return {bundle.digest: dataclasses.replace(release.evidence(), contributions=contributions)}


def _answer_evil(committee, context, bundle, journals, release, evil, contributions):
    """Trustee 1 is asked V under the seed ``contributions`` give, with them as evidence."""
    return committee.answer(
        "trustee-1",
        evil,
        context,
        {bundle.digest: bundle},
        journals,
        _evil_evidence(release, bundle, contributions),
    )


def _journal_bytes(journals, tid):
    return (journals / f"{tid}.journal").read_bytes()


def test_fabricated_contributions_are_refused(committee, context, tmp_path, share_reads):
    """The service makes up both contributions (randomness it chose, signed by a key of its
    own): the trustee refuses V before reading its share or writing its journal."""
    bundle = _bundle(committee, context, tmp_path)
    journals = tmp_path / "journals"
    release, honest_v = _up_to_validity(committee, context, bundle, journals)
    service = TrusteeIdentity.generate()
    made_up = tuple(
        Contribution.sign(service, CHALLENGE, bundle.digest, tid, os.urandom(32))
        for tid in ("trustee-1", "trustee-2")
    )
    evil = _v_request_for(context, bundle, honest_v, made_up)
    before = _journal_bytes(journals, "trustee-1")
    share_reads.clear()
    with pytest.raises(VerificationError, match="contribution from 'trustee-1'"):
        _answer_evil(committee, context, bundle, journals, release, evil, made_up)
    assert share_reads == []
    assert _journal_bytes(journals, "trustee-1") == before
    # the service's own state machine refuses a made-up contribution as well
    fresh = BundleRelease(context, _bundle(committee, context, tmp_path, seed=6))
    forged = Contribution.sign(service, CHALLENGE, fresh.bundle.digest, "trustee-1", bytes(32))
    with pytest.raises(VerificationError):
        fresh.add_contribution(forged)


def test_contributions_of_another_bundle_are_refused(committee, context, tmp_path, share_reads):
    """Genuine, signed contributions — but to another bundle: the signature binds the bundle."""
    bundle = _bundle(committee, context, tmp_path)
    other = _bundle(committee, context, tmp_path, seed=8)
    journals = tmp_path / "journals"
    release, honest_v = _up_to_validity(committee, context, bundle, journals)
    borrowed = tuple(
        committee.contribute(tid, context, other.digest, journals)
        for tid in ("trustee-1", "trustee-2")
    )
    evil = _v_request_for(context, bundle, honest_v, borrowed)
    share_reads.clear()
    with pytest.raises(MismatchError, match="another challenge or bundle"):
        _answer_evil(committee, context, bundle, journals, release, evil, borrowed)
    assert share_reads == []


def test_asking_again_gives_the_same_contribution(committee, context, tmp_path):
    """A service that asks a trustee again, hoping for a seed it likes, gets the same signed
    bytes: the randomness is drawn once per bundle and kept in the journal (also across a
    restart)."""
    journals = tmp_path / "journals"
    digest = "ab" * 32
    first = committee.contribute("trustee-1", context, digest, journals)
    again = [committee.contribute("trustee-1", context, digest, journals) for _ in range(5)]
    assert {c.to_bytes() for c in again} == {first.to_bytes()}
    assert committee.contribute("trustee-1", context, "cd" * 32, journals) != first
    first.verify(committee.record)
    assert Contribution.from_bytes(first.to_bytes()) == first


def test_a_seed_without_the_trustees_own_contribution_is_refused(
    committee, context, tmp_path, share_reads
):
    """A trustee whose journal was lost (restored from an old backup) signed a second
    contribution to the same bundle; the service picks the one it likes. The trustee holding
    the journal of its first contribution finds its own randomness missing from V's seed."""
    bundle = _bundle(committee, context, tmp_path)
    journals = tmp_path / "journals"
    release, honest_v = _up_to_validity(committee, context, bundle, journals)
    restored = tmp_path / "restored-journal"
    second = committee.contribute("trustee-1", context, bundle.digest, restored)
    honest = release.evidence().contributions
    assert second.randomness not in {c.randomness for c in honest}
    picked = tuple(second if c.trustee_id == "trustee-1" else c for c in honest)
    evil = _v_request_for(context, bundle, honest_v, picked)
    before = _journal_bytes(journals, "trustee-1")
    share_reads.clear()
    with pytest.raises(RefusedError, match="not derived from this trustee's own contribution"):
        _answer_evil(committee, context, bundle, journals, release, evil, picked)
    assert share_reads == []
    assert _journal_bytes(journals, "trustee-1") == before
    # and a trustee that never contributed to the bundle at all does not vouch for its seed
    with pytest.raises(RefusedError, match="never contributed"):
        committee.answer(
            "trustee-1",
            honest_v,
            context,
            {bundle.digest: bundle},
            tmp_path / "empty-journal",
            {bundle.digest: release.evidence()},
        )


def test_the_honest_seed_is_answered(committee, context, tmp_path):
    """Control: the same steps with the trustees' own contributions release V."""
    bundle = _bundle(committee, context, tmp_path)
    journals = tmp_path / "journals"
    release, v_request = _up_to_validity(committee, context, bundle, journals)
    evidence = {bundle.digest: release.evidence()}
    for tid in ("trustee-1", "trustee-2"):
        release.add_partial(
            committee.answer(tid, v_request, context, {bundle.digest: bundle}, journals, evidence)
        )
    release.advance()
    assert release.state == ReleaseState.VALID
