"""Dealerless ceremonies at bfv-8192 give working keys: a real scoring circuit evaluated with
the collective evaluation keys on data encrypted under the collective public key, decrypted
by EVERY active subset of t trustees from their opened share files, equals numpy exactly
(docs/design.md, "Key ceremony v2 (dealerless)")."""

from __future__ import annotations

import itertools
import time

import pytest

from cryptoscore import BFV8192
from cryptoscore.errors import MismatchError, VerificationError
from cryptoscore.threshold.ceremony import CeremonyRecord, open_share_file
from cryptoscore.threshold.dkg import ROUNDS, run_dealerless_ceremony
from tests.helpers.dkg import DkgRun, accuracy_aggregate, release


@pytest.mark.slow
@pytest.mark.parametrize("t, n", [(2, 3), (3, 5), (4, 7)], ids=["2of3", "3of5", "4of7"])
def test_every_active_subset_releases_the_exact_scores(t, n, tmp_path):
    setup = DkgRun(t, n)
    passphrases = {tid: f"passphrase of {tid}".encode() for tid in setup.identities}
    steps: list[int] = []
    start = time.monotonic()
    result = run_dealerless_ceremony(
        BFV8192,
        setup.roster,
        t,
        passphrases,
        identities=setup.identities,
        progress=steps.append,
    )
    elapsed = time.monotonic() - start
    record = CeremonyRecord.from_bytes(result.record.to_bytes())
    assert record.mode == "dealerless" and record.to_bytes() == result.record.to_bytes()
    assert record.verify_signatures() == 5 * n
    record.check_keys(result.public, result.evaluation)
    assert steps == sorted(steps) and steps[-1] == len(steps)
    shares = {}
    for tid, raw in result.share_files.items():
        record.check_share_file(tid, raw)
        shares[tid] = open_share_file(raw, passphrases[tid])
        assert shares[tid].key_id == record.key_id and shares[tid].threshold == t
    aggregate, want = accuracy_aggregate(result.public, result.evaluation, seed=n)
    for k, subset in enumerate(itertools.combinations(sorted(shares), t)):
        got = release(
            aggregate,
            result.public,
            record,
            shares,
            setup.identities,
            subset,
            tmp_path / f"run-{k}",
            f"req-{k}",
        )
        assert got == want, subset
    print(f"{t}-of-{n}: ceremony {elapsed:.1f} s")


@pytest.fixture(scope="module")
def small() -> DkgRun:
    return DkgRun(2, 3)


@pytest.fixture(scope="module")
def finished(small):
    transcript, trustees = small.run()
    return transcript, trustees, transcript.check_transcript()


def test_record_names_every_signed_message_and_verifies_from_the_record_alone(small, finished):
    transcript, _, record = finished
    assert record.plan == small.plan.digest
    assert [(m.round, m.trustee_id) for m in record.transcript] == [
        (r, tid) for r in (1, 2, 3, 4, 5) for tid in sorted(small.identities)
    ]
    for entry in record.transcript:
        kind = ROUNDS[entry.round - 1]
        message = transcript.message(kind, entry.trustee_id)
        assert message is not None and message.digest == entry.digest
    assert record.verify_signatures() == 15
    # a signature moved to another message no longer verifies
    forged = list(record.transcript)
    forged[0], forged[1] = (
        type(forged[0])(
            forged[0].round, forged[0].trustee_id, forged[0].digest, forged[1].signature
        ),
        forged[1],
    )
    bad = CeremonyRecord(
        params=record.params,
        key_id=record.key_id,
        evaluation_keys=record.evaluation_keys,
        threshold=record.threshold,
        roster=record.roster,
        share_commitments={},
        created_at=record.created_at,
        dealer_statement="",
        mode="dealerless",
        plan=record.plan,
        transcript=tuple(forged),
        plan_record=record.plan_record,
        completions=record.completions,
    )
    with pytest.raises(VerificationError, match="hello of 'trustee-1' \\(round 1\\)"):
        bad.verify_signatures()


def test_every_trustee_finishes_with_shares_of_one_key_and_never_reveals_after(small, finished):
    transcript, trustees, record = finished
    for tid, trustee in trustees.items():
        share = trustee.finish(transcript)
        assert (share.key_id, share.trustee_id, share.index) == (
            record.key_id,
            tid,
            small.plan.entry(tid).index,
        )
        with pytest.raises(Exception, match="never reveals its seed"):
            trustee.reveal()


def test_dealerless_share_file_is_checked_by_its_header(small, finished, tmp_path):
    from cryptoscore.threshold.ceremony import write_share_file

    transcript, _, record = finished
    share = small.trustee("trustee-2").finish(transcript)
    raw = write_share_file(share, 3, b"a long passphrase")
    record.check_share_file("trustee-2", raw)
    with pytest.raises(MismatchError, match="header does not match"):
        record.check_share_file("trustee-3", raw)
    assert open_share_file(raw, b"a long passphrase").index == 2
