"""The auditor checks a dealerless ceremony's record: a whole challenge on keys from a
dealerless ceremony verifies, and a record whose key is not the one every trustee signed for,
a completion naming another key, a broken transcript signature or a missing completion fail
``ceremony-record``, naming the trustee. And the record's wire format for its plan and
completions (docs/design.md, "Key ceremony v2 (dealerless)")."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

from cryptoscore import BFV8192, ReleasePolicy, generate_keys
from cryptoscore.envelope import canonical_json, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError
from cryptoscore.threshold.ceremony import (
    MAX_COMPLETION_BYTES,
    MAX_PLAN_BYTES,
    CeremonyRecord,
    TranscriptEntry,
)
from cryptoscore.threshold.dkg import CeremonyPlan, SignedMessage
from cryptoscore.verify import CHECKS, verify_bundle
from tests.helpers.committee import Committee
from tests.transparency.test_audit import SERVICE_KEY, _entries, _members, _resign, _write

N_ITEMS = 200
CHALLENGE = "audit-dealerless"


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    committee = Committee(2, 3, dealerless=True)
    context = committee.context(CHALLENGE, ReleasePolicy(2, ("correct", "errors")), N_ITEMS)
    tmp = tmp_path_factory.mktemp("audit-dealerless")
    local = committee.local_challenge(context, tmp, SERVICE_KEY, participants=("alice",))
    _, y, p = committee.one_submission(local, "alice", 13)
    assert local.released()["alice"]["correct"] == int(np.count_nonzero(p == y))
    path = tmp / "audit.zip"
    local.export_audit_bundle(path)
    return committee, path


def test_a_challenge_on_a_dealerless_ceremony_verifies(challenge):
    committee, path = challenge
    report = verify_bundle(path)
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == list(CHECKS)
    detail = report.checks[1].detail
    assert detail == (
        f"dealerless: 2 of 3 trustees, 15 signed messages, every trustee signed key "
        f"{committee.record.key_id[:16]}…"
    )


# -- a malicious service (its own log key only), a malicious trustee ----------------------------
def _blob(members: dict[str, bytes], raw: bytes) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    members[f"blobs/{digest}"] = raw
    return digest


def _with_record(path, record: CeremonyRecord, keys=None) -> dict[str, bytes]:
    """The bundle at ``path`` with ``record`` (and ``keys``' public context and evaluation
    keys) in place of its ceremony's, the challenge definition naming it, the log re-signed:
    everything a service can redo with its own key."""
    members = _members(path)
    entries = _entries(members)
    cer = next(e for e in entries if e["type"] == "ceremony")
    chal = next(e for e in entries if e["type"] == "challenge")
    cer["record"] = _blob(members, record.to_bytes())
    if keys is not None:
        cer["public"] = _blob(members, keys.public.to_bytes())
        cer["evaluation"] = _blob(members, keys.evaluation.to_bytes())
    definition = json.loads(members[f"blobs/{chal['definition']}"])
    definition["ceremony"] = record.digest
    chal["definition"] = _blob(members, canonical_json(definition))
    return _resign(members, entries)


def _ceremony_failure(tmp_path, members: dict[str, bytes]) -> str:
    report = verify_bundle(_write(tmp_path / "t.zip", members))
    assert not report.ok
    assert report.first_failure.name == "ceremony-record", report.first_failure
    return report.first_failure.detail


def test_the_verifier_sees_through_a_record_made_honest_by_the_service(challenge, tmp_path):
    """The baseline of the attacks below: re-writing the same record verifies."""
    committee, path = challenge
    assert verify_bundle(_write(tmp_path / "s.zip", _with_record(path, committee.record))).ok


def test_a_key_the_trustees_did_not_sign_for(challenge, tmp_path):
    """The service swaps in a key it holds: record, public context, evaluation keys and the
    challenge all agree, the transcript's signatures all verify — but every trustee's signed
    completion names the ceremony's key."""
    committee, path = challenge
    own = generate_keys(BFV8192)
    record = dataclasses.replace(
        committee.record, key_id=own.public.key_id, evaluation_keys=own.evaluation.digest
    )
    detail = _ceremony_failure(tmp_path, _with_record(path, record, own))
    assert f"completion of 'trustee-1' names key {committee.record.key_id[:16]}…" in detail
    assert own.public.key_id[:16] in detail


def _resigned_completion(committee: Committee, tid: str, key_id: str) -> CeremonyRecord:
    """``tid`` (a malicious trustee: its own key) signs a completion naming ``key_id``; the
    record lists it in its transcript and completions."""
    record = committee.record
    plan = CeremonyPlan.from_bytes(record.plan_record)
    honest = SignedMessage.from_bytes(record.completions[tid], plan)
    forged = SignedMessage.sign(
        plan,
        tid,
        committee.identity(tid),
        honest.previous,
        dataclasses.replace(honest.payload, key_id=key_id),
    )
    transcript = tuple(
        TranscriptEntry(5, tid, forged.digest, forged.signature)
        if (m.round, m.trustee_id) == (5, tid)
        else m
        for m in record.transcript
    )
    return dataclasses.replace(
        record,
        transcript=transcript,
        completions=dict(record.completions) | {tid: forged.to_bytes()},
    )


def test_a_completion_naming_another_key(challenge, tmp_path):
    committee, path = challenge
    record = _resigned_completion(committee, "trustee-2", "ab" * 32)
    assert record.verify_signatures() == 15  # every signature is the trustee's own
    detail = _ceremony_failure(tmp_path, _with_record(path, record))
    assert "completion of 'trustee-2' names key abababababababab…" in detail


def test_a_transcript_signature_flipped(challenge, tmp_path):
    committee, path = challenge
    record = committee.record
    transcript = list(record.transcript)
    at = next(i for i, m in enumerate(transcript) if (m.round, m.trustee_id) == (3, "trustee-3"))
    signature = bytearray(transcript[at].signature)
    signature[7] ^= 1
    transcript[at] = dataclasses.replace(transcript[at], signature=bytes(signature))
    bad = dataclasses.replace(record, transcript=tuple(transcript))
    detail = _ceremony_failure(tmp_path, _with_record(path, bad))
    assert "response of 'trustee-3' (round 3)" in detail


def test_a_missing_completion(challenge, tmp_path):
    """A record without trustee-3's completion cannot even be built; its bytes fail to parse."""
    committee, path = challenge
    header, _ = unpack_record(committee.record.to_bytes(), b"CSCEREMO", 5, "r")
    del header["completions"]["trustee-3"]
    members = _with_record(path, committee.record)
    entries = _entries(members)
    cer = next(e for e in entries if e["type"] == "ceremony")
    cer["record"] = _blob(members, pack_record(b"CSCEREMO", 5, header))
    detail = _ceremony_failure(tmp_path, _resign(members, entries))
    assert "no completion of 'trustee-3'" in detail


# -- the record's plan and completions on the wire -----------------------------------------------
def test_the_record_carries_the_plan_and_every_completion(challenge):
    committee, _ = challenge
    record = committee.record
    raw = record.to_bytes()
    parsed = CeremonyRecord.from_bytes(raw)
    assert parsed == record and parsed.to_bytes() == raw and raw[8:10] == b"\x05\x00"
    assert hashlib.sha256(parsed.plan_record).hexdigest() == parsed.plan
    assert sorted(parsed.completions) == ["trustee-1", "trustee-2", "trustee-3"]
    assert all(len(c) <= MAX_COMPLETION_BYTES // 2 for c in parsed.completions.values())
    assert len(parsed.plan_record) < 1000 and len(raw) < 12_000
    parsed.check_completions()


def _reparsed(record: CeremonyRecord, **change) -> CeremonyRecord:
    header, _ = unpack_record(record.to_bytes(), b"CSCEREMO", 5, "r")
    return CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 5, header | change))


def test_malformed_or_oversized_plans_and_completions_are_refused(challenge):
    record = challenge[0].record
    completions = {k: v.hex() for k, v in record.completions.items()}
    one = completions["trustee-1"]
    plan = record.plan_record.hex()
    for change, error, message in [
        ({"completions": list(completions.values())}, FormatError, "completions must be an obj"),
        ({"completions": completions | {"trustee-1": one.upper()}}, FormatError, "lower-case"),
        ({"completions": completions | {"trustee-1": "zz"}}, FormatError, "is not hex"),
        ({"completions": completions | {"trustee-1": one[:-2]}}, MismatchError, "'trustee-1' is"),
        ({"completions": completions | {"trustee-9": one}}, FormatError, "one per trustee"),
        (
            {"completions": completions | {"trustee-2": "00" * (MAX_COMPLETION_BYTES + 1)}},
            FormatError,
            "must be hex of at most",
        ),
        (
            {"completions": completions | {"trustee-2": "00" * MAX_COMPLETION_BYTES}},
            MismatchError,
            "'trustee-2' is not the message",
        ),
        ({"completions": completions | {"trustee-2": "00" * 10}}, FormatError, "has 10 bytes"),
        ({"plan_record": plan[:-2]}, MismatchError, "do not hash to the plan digest"),
        ({"plan_record": "00" * (MAX_PLAN_BYTES + 1)}, FormatError, "plan_record"),
        ({"plan_record": ""}, FormatError, "the plan has 1.."),
    ]:
        with pytest.raises(error, match=message):
            _reparsed(record, **change)
    for missing in ("plan_record", "completions"):
        header, _ = unpack_record(record.to_bytes(), b"CSCEREMO", 5, "r")
        del header[missing]
        with pytest.raises(FormatError):
            CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 5, header))
    with pytest.raises(FormatError, match="no plan, transcript or completions"):
        dataclasses.replace(
            record,
            mode="dealer",
            share_commitments={e.trustee_id: "0" * 64 for e in record.roster},
            dealer_statement="x",
            plan="",
            transcript=(),
            plan_record=b"",
        )


def test_every_party_building_a_challenge_refuses_a_record_the_trustees_did_not_sign(challenge):
    """Not only the auditor: the service, the trustees and the organizer build a
    ``ChallengeContext`` from the record, and it refuses a completion naming another key or a
    transcript signature that does not verify — before anything is computed under the key."""
    from cryptoscore.errors import CryptoScoreError
    from cryptoscore.protocol.challenge import ChallengeContext
    from cryptoscore.scoring.policy import ReleasePolicy

    committee, _ = challenge
    policy = ReleasePolicy(2, ("correct",))
    ChallengeContext(
        "c", committee.record, committee.keys.public, committee.keys.evaluation, policy, 10
    )
    forged = _resigned_completion(committee, "trustee-2", "ab" * 32)
    with pytest.raises(CryptoScoreError, match="completion of 'trustee-2' names key"):
        ChallengeContext("c", forged, committee.keys.public, committee.keys.evaluation, policy, 10)
    transcript = list(committee.record.transcript)
    transcript[0] = dataclasses.replace(transcript[0], signature=bytes(64))
    flipped = dataclasses.replace(committee.record, transcript=tuple(transcript))
    with pytest.raises(CryptoScoreError, match="hello of 'trustee-1'"):
        ChallengeContext("c", flipped, committee.keys.public, committee.keys.evaluation, policy, 10)
