"""The dealerless ceremony deals the PRSS keys of robust decryption (docs/design.md, "Key
ceremony v2 (dealerless)", PRSS keys): every member of every set A ends with the same r_A,
the one its leader committed to in the record; no payload sealed to a non-member carries it;
a leader that gives one member another key, or commits to another key, is caught by that
member's complaint and named by blame; a false complaint names the complainer. Without the
members' commitment check the split key goes through, and the members' noise shares are no
longer shares of one polynomial."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os

import numpy as np
import pytest

from cryptoscore import BFV8192
from cryptoscore.envelope import pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.randomness import seeded_stream
from cryptoscore.threshold import prss
from cryptoscore.threshold.ceremony import (
    CeremonyRecord,
    MissingPrssKeysError,
    open_share_file,
    write_share_file,
)
from cryptoscore.threshold.dkg import CeremonyAbort, DkgTrustee, Transcript, blame
from cryptoscore.threshold.dkg.blame import reveals_needed
from cryptoscore.threshold.dkg.messages import (
    MESSAGE_MAGIC,
    Accusation,
    Confirmation,
    SignedMessage,
)
from cryptoscore.threshold.dkg.prss_dealing import carried_sets, commitments_digest, led_sets
from cryptoscore.threshold.dkg.sizes import largest_message_bytes, message_bound
from cryptoscore.threshold.dkg.transport import open_share, transport_key
from tests.helpers.dkg import DkgRun
from tests.vectors.dkg import dkg_run
from tests.vectors.streams import trustee_identity

_RUNS: dict[tuple[int, int], tuple[DkgRun, Transcript, dict[str, prss.PrssKeys]]] = {}


def _finished(t: int, n: int) -> tuple[DkgRun, Transcript, dict[str, prss.PrssKeys]]:
    """An honest t-of-n ceremony (version 2 plan), every trustee finished: its PRSS keys."""
    if (t, n) not in _RUNS:
        run = DkgRun(t, n)
        transcript, trustees = run.run()
        keys = {tid: trustee.finish(transcript).prss_keys() for tid, trustee in trustees.items()}
        _RUNS[(t, n)] = (run, transcript, keys)
    return _RUNS[(t, n)]


@pytest.mark.parametrize(("t", "n"), [(2, 3), (3, 5)], ids=["2of3", "3of5"])
def test_every_member_holds_its_sets_key_matching_the_record(t: int, n: int) -> None:
    run, transcript, keys = _finished(t, n)
    prss.check_committee(n, t)
    record = transcript.check_transcript(created_at=run.plan.created_at)
    assert (record.format_version, record.answers, record.robust) == (5, "shamir", True)
    assert [a for a, _ in record.prss_commitments] == list(prss.prss_sets(n, t))
    by_set: dict[prss.PrssSet, set[bytes]] = {}
    for entry in run.plan.roster:
        held = keys[entry.trustee_id]
        assert (held.key_id, held.n, held.t, held.index) == (record.key_id, n, t, entry.index)
        assert held.sets == prss.trustee_sets(n, t, entry.index)
        record.check_prss_keys(held, entry.index)
        for members, key in held.set_keys:
            by_set.setdefault(members, set()).add(key)
    # every set is held by all its members, with one key, committed under the plan's digest
    assert sorted(by_set) == list(prss.prss_sets(n, t))
    commitments = dict(record.prss_commitments)
    for members, found in by_set.items():
        assert len(found) == 1
        (key,) = found
        assert prss.ceremony_commitment(key, members, run.plan.digest) == commitments[members]
        holders = [tid for tid, k in keys.items() if members in k.sets]
        assert holders == [run.plan.roster[i - 1].trustee_id for i in members]
    # the keys give one degree-(t - 1) sharing of the noise: every t answers agree on E(0)
    q = run.plan.params.DATA_PRIMES[0]
    ctx = os.urandom(32)
    at_zero = prss.shared_noise_at_zero(list(keys.values()), ctx, "pad-error", (q,), 16)
    shares = {k.index: prss.shared_noise(k, ctx, "pad-error", (q,), 16) for k in keys.values()}
    for subset in itertools.combinations(sorted(shares), t):
        total = np.zeros(16, dtype=object)
        for j in subset:
            total += shares[j][0].astype(object) * lagrange_at_zero(j, list(subset), q)
        assert np.array_equal((total % q).astype(np.uint64), at_zero[0])


@pytest.mark.parametrize(("t", "n"), [(2, 3), (3, 5)], ids=["2of3", "3of5"])
def test_no_payload_sealed_to_a_non_member_carries_the_key(t: int, n: int) -> None:
    """Open every sealed payload with its recipient's transport key: r_A appears only in
    those sealed to the members of A."""
    run, transcript, keys = _finished(t, n)
    key_of = {a: k for held in keys.values() for a, k in held.set_keys}
    for recipient in run.plan.roster:
        own = transport_key(rng=seeded_stream(run.seeds[recipient.trustee_id], "transport"))
        received = b"".join(
            open_share(
                own,
                transcript.hello(dealer.trustee_id).transport_key,
                plan=run.plan.digest,
                sender=dealer.trustee_id,
                recipient=recipient.trustee_id,
                sealed=transcript.contribution(dealer.trustee_id).sealed[recipient.trustee_id],
            )
            for dealer in run.plan.roster
            if dealer != recipient
        )
        for members, key in key_of.items():
            leader_or_outside = recipient.index == members[0] or recipient.index not in members
            assert (key in received) is not leader_or_outside, (recipient.index, members)


class SplitKeyLeader(DkgTrustee):
    """Trustee 1 leads {1, 3} at 2-of-3 and seals trustee 3 another r_{1,3} than its own."""

    def _dealt_share(self, recipient_index, f, m0, m1):
        out = super()._dealt_share(recipient_index, f, m0, m1)
        if recipient_index == 3:
            out[-1] ^= 1  # the last key sealed to 3: r_{1,3}
        return out


class WrongCommitmentLeader(DkgTrustee):
    """Trustee 1 commits to another key than the r_{1,3} it seals and holds."""

    def _prss_commitments(self):
        out = list(super()._prss_commitments())
        sets = led_sets(self.plan.n, self.plan.threshold, self.entry.index)
        out[sets.index((1, 3))] = prss.ceremony_commitment(os.urandom(32), (1, 3), "00" * 32)
        return tuple(out)


@pytest.mark.parametrize("deviant", [SplitKeyLeader, WrongCommitmentLeader])
def test_a_leader_giving_a_member_another_key_is_named(deviant: type[DkgTrustee]) -> None:
    run = DkgRun(2, 3)
    transcript, trustees = run.run({"trustee-1": deviant})
    complaint = transcript.confirmation("trustee-3")
    assert complaint.verdict == "complaint"
    assert [(a.trustee_id, a.reason) for a in complaint.accused] == [
        ("trustee-1", "its PRSS key for set [1, 3] does not match its commitment")
    ]
    assert transcript.confirmation("trustee-2").verdict == "ack"  # r_{1,2} is fine
    with pytest.raises(CeremonyAbort) as caught:
        transcript.check_confirmations()
    assert caught.value.needs_reveal
    assert reveals_needed(transcript) == ["trustee-1", "trustee-2", "trustee-3"]
    assert blame(transcript, run.reveals(trustees)) == {
        "trustee-1": "its contribution (round 2) is not what its seed gives"
    }


def test_without_the_members_check_a_split_key_goes_through() -> None:
    """The attack against the unguarded ceremony: members accept any sealed key. It finishes,
    and trustees 1 and 3 hold different keys for {1, 3}: the PRSS noise is no sharing."""

    class Unchecking(DkgTrustee):
        def _open_keys(self, leader, commitments, raw, keys):
            plan = self.plan
            for k, a in enumerate(carried_sets(plan.n, plan.threshold, leader, self.entry.index)):
                keys[a] = bytes(raw[k * 32 : (k + 1) * 32])
            return None

    run = DkgRun(2, 3)
    leader = type("SplitUnchecking", (SplitKeyLeader, Unchecking), {})
    classes = {"trustee-1": leader, "trustee-2": Unchecking, "trustee-3": Unchecking}
    transcript, trustees = run.run(classes, reuse=False)
    record = transcript.check_transcript()
    held = {tid: trustee.finish(transcript).prss_keys() for tid, trustee in trustees.items()}
    assert dict(held["trustee-1"].set_keys)[(1, 3)] != dict(held["trustee-3"].set_keys)[(1, 3)]
    with pytest.raises(MismatchError, match="different keys for set"):
        prss.shared_noise_at_zero(list(held.values()), b"ctx", "pad-error", (97,), 4)
    with pytest.raises(MismatchError, match=r"set \[1, 3\]"):
        record.check_prss_keys(held["trustee-3"], 3)  # the record's check alone would catch it


class FalseComplainer(DkgTrustee):
    """Trustee 3 claims its key of {1, 3} does not match trustee 1's commitment."""

    def _verdict(self, transcript, final_share, accused):
        reason = "its PRSS key for set [1, 3] does not match its commitment"
        return Confirmation("complaint", accused=(Accusation("trustee-1", reason),))


def test_a_false_prss_complaint_names_the_complainer() -> None:
    run = DkgRun(2, 3)
    transcript, trustees = run.run({"trustee-3": FalseComplainer})
    assert transcript.confirmation("trustee-3").verdict == "complaint"
    assert blame(transcript, run.reveals(trustees)) == {
        "trustee-3": "its confirmation (round 4) is not what its seed gives"
    }


def test_record_v5_round_trips_and_binds_its_commitments_to_the_completions() -> None:
    run, transcript, _ = _finished(2, 3)
    record = transcript.check_transcript(created_at=run.plan.created_at)
    raw = record.to_bytes()
    assert raw[8:10] == (5).to_bytes(2, "little")
    again = CeremonyRecord.from_bytes(raw)
    assert (
        again.to_bytes() == raw
        and again.prss_commitments == record.prss_commitments
        and again.robust
    )
    again.check_completions()
    assert again.verify_signatures() == 15
    digest = commitments_digest(record.prss_commitments)
    assert all(transcript.completion(e.trustee_id).prss == digest for e in run.plan.roster)
    # a record listing another commitment is not what the trustees signed
    forged = list(record.prss_commitments)
    forged[0] = (forged[0][0], bytes(32))
    swapped = dataclasses.replace(record, prss_commitments=tuple(forged))
    with pytest.raises(MismatchError, match="PRSS-key commitments"):
        CeremonyRecord.from_bytes(swapped.to_bytes()).check_completions()
    # sets out of canonical order, or a lagrange record with commitments, do not parse
    with pytest.raises(FormatError, match="canonical order"):
        dataclasses.replace(record, prss_commitments=tuple(reversed(record.prss_commitments)))
    with pytest.raises(FormatError, match="Lagrange answers carry no PRSS commitments"):
        dataclasses.replace(record, answers="lagrange")


def test_share_file_v2_carries_the_prss_keys_and_v1_still_loads() -> None:
    run, transcript, _ = _finished(2, 3)
    trustee = run.trustee("trustee-2")
    share = trustee.finish(transcript)
    raw = write_share_file(share, 3, b"passphrase 2")
    assert raw[8:10] == (2).to_bytes(2, "little")
    opened = open_share_file(raw, b"passphrase 2")
    assert opened.prss_keys().to_bytes() == share.prss_keys().to_bytes()
    assert np.array_equal(opened.residues(3), share.residues(3))
    transcript.check_transcript().check_share_file("trustee-2", raw)
    # a ceremony without PRSS keys (a version 1 plan) gives version 1 files, no keys
    legacy = dkg_run()
    assert legacy.record.format_version == 3 and legacy.record.answers == "lagrange"
    old = DkgTrustee(legacy.plan, "t2", trustee_identity(2), legacy.seeds["t2"])
    old = old.finish(legacy.transcript)
    old_raw = write_share_file(old, 3, b"passphrase 2")
    assert old_raw[8:10] == (1).to_bytes(2, "little")
    with pytest.raises(MissingPrssKeysError, match="no PRSS keys"):
        open_share_file(old_raw, b"passphrase 2").prss_keys()


def test_the_relay_limit_counts_the_sealed_keys() -> None:
    # trustee 1 seals 32 bytes to each other member of each set it leads
    assert message_bound(BFV8192, 3, 2) - message_bound(BFV8192, 3, 2, prss=False) == 2 * 32
    assert message_bound(BFV8192, 5, 3) - message_bound(BFV8192, 5, 3, prss=False) == 12 * 32
    assert largest_message_bytes(dkg_run().plan) == message_bound(BFV8192, 3, 2, prss=False)


def test_version_3_messages_must_carry_the_prss_fields() -> None:
    run, transcript, _ = _finished(2, 3)
    completion = transcript.message("completion", "trustee-1")
    header, _ = unpack_record(completion.unsigned, MESSAGE_MAGIC, 3, "test")
    del header["prss"]
    stripped = pack_record(MESSAGE_MAGIC, 3, header) + completion.signature
    with pytest.raises(FormatError, match=r"missing header field\(s\) \['prss'\]"):
        SignedMessage.from_bytes(stripped, run.plan)
    legacy = pack_record(MESSAGE_MAGIC, 2, header) + completion.signature
    with pytest.raises(FormatError, match="unsupported format version 2"):
        SignedMessage.from_bytes(legacy, run.plan)
    contribution = transcript.contribution("trustee-1")
    short = dataclasses.replace(contribution, prss=contribution.prss[:-1])
    with pytest.raises(FormatError, match="one PRSS-key commitment per set"):
        SignedMessage.unsigned_record(run.plan, "trustee-1", "00" * 32, short)


def test_the_commitment_encodings_are_pinned() -> None:
    """The ceremony commitment and the completions' digest, recomputed from their documented
    encodings; the ceremony commitment differs from the key-id one over the same bytes."""
    key, ceremony = bytes(range(32)), "ab" * 32
    domain = b"cryptoscore/prss-ceremony-commitment/v1\x00"
    want = hashlib.sha256(domain + bytes.fromhex(ceremony) + b"\x02\x01\x03" + key).digest()
    assert prss.ceremony_commitment(key, (1, 3), ceremony) == want
    assert prss.commitment(key, (1, 3), ceremony) != want
    listed = [((1, 2), b"\x11" * 32), ((1, 3), want)]
    digest = hashlib.sha256(
        b"cryptoscore/dkg/prss-commitments/v1\x00"
        + b"\x02\x01\x02"
        + b"\x11" * 32
        + b"\x02\x01\x03"
        + want
    ).hexdigest()
    assert commitments_digest(listed) == digest
    assert list(led_sets(5, 3, 1)) == [a for a in prss.prss_sets(5, 3) if a[0] == 1]
    assert led_sets(5, 3, 4) == () and carried_sets(5, 3, 1, 1) == ()
