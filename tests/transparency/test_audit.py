"""An audit bundle from a whole challenge verifies; every tampering fails the right check."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.envelope import canonical_json
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.rules import DAY_MS
from cryptoscore.protocol.signed_inputs import sign_upload
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.partial import PartialDecryption, partial_decrypt, standalone_lineage
from cryptoscore.transparency.log import MerkleLog, sign_tree_head
from cryptoscore.verify import CHECKS, _Verifier, verify_bundle
from tests.helpers.audit_zip import log_entries, resigned, write_zip, zip_members
from tests.helpers.committee import Committee, weighted_submission, with_c0_offset
from tests.helpers.exposure import forged_noise_partial

N_ITEMS = 3000
SERVICE_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def challenge(tmp_path_factory):
    committee = Committee(2, 3)
    context = committee.context("audit-demo", ReleasePolicy(2, ("correct", "errors")), N_ITEMS)
    tmp = tmp_path_factory.mktemp("audit")
    local = committee.local_challenge(
        context, tmp, SERVICE_KEY, ["trustee-2"], participants=("alice", "bob", "mallory", "nora")
    )
    gen = np.random.default_rng(5)
    y = gen.integers(0, 2, N_ITEMS)
    labels = encrypt_labels(
        y, context.public, classes=2, challenge="audit-demo", pads=local.pads("labels")
    )
    local.upload_labels(labels)
    truth = {}
    for name, accuracy in (("alice", 0.9), ("bob", 0.7)):
        p = np.where(gen.random(N_ITEMS) < accuracy, y, 1 - y)
        truth[name] = int(np.count_nonzero(p == y))
        bundle = encrypt_predictions(
            p,
            context.public,
            classes=2,
            challenge="audit-demo",
            pads=local.pads("predictions", name),
        )
        assert local.submit(name, bundle) == "released"
    evil = weighted_submission(local, "mallory")
    assert local.submit("mallory", evil) == "invalid"
    # nora adds 2^70 to c0 of every ciphertext: same plaintext, noise far above the bound
    honest = encrypt_predictions(
        y, context.public, classes=2, challenge="audit-demo", pads=local.pads("predictions", "nora")
    )
    assert local.submit("nora", with_c0_offset(honest, 1 << 70)) == "invalid"
    path = tmp / "audit.zip"
    local.export_audit_bundle(path)
    return local, committee, path, truth


def _request_entry(request, round_) -> dict:
    """A log entry for ``request``, as ``Transcript.record_request`` writes it."""
    return {
        "type": "request",
        "request": request.digest,
        "round": round_,
        "circuit": request.circuit,
        "inputs": list(request.inputs),
    }


def test_bundle_from_a_whole_challenge_verifies(challenge):
    local, _, path, truth = challenge
    report = verify_bundle(path)
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == list(CHECKS)
    assert report.checks[1].detail.startswith("dealer (legacy ceremony v1): 2 of 3 trustees")
    decoding = report.checks[CHECKS.index("decoding")].detail
    assert decoding.startswith("does not apply: the ceremony record's answers are additive")
    assert {k: v["correct"] for k, v in local.released().items()} == truth
    assert set(local.rejected()) == {"mallory", "nora"}
    assert "noise" in local.rejected()["nora"] and "encoding" in local.rejected()["mallory"]
    board = json.loads(zipfile.ZipFile(path).read("leaderboard.json"))
    assert [row["participant"] for row in board] == ["alice", "bob"]


# -- tampering -----------------------------------------------------------------------------------
_members, _write, _entries = zip_members, write_zip, log_entries


def _resign(members: dict[str, bytes], entries: list[dict]) -> dict[str, bytes]:
    """What a malicious service holding its own key can do: rewrite the log and re-sign."""
    return resigned(members, entries, SERVICE_KEY)


def _failed(path: Path) -> str:
    report = verify_bundle(path)
    assert not report.ok
    return report.first_failure.name


def test_changed_ciphertext_byte(challenge, tmp_path):
    _, _, path, _ = challenge
    members = _members(path)
    bundle_digest = next(e["bundle"] for e in _entries(members) if e["type"] == "bundle")
    data = bytearray(members[f"blobs/{bundle_digest}"])
    data[-5] ^= 1
    members[f"blobs/{bundle_digest}"] = bytes(data)
    assert _failed(_write(tmp_path / "t.zip", members)) == "blobs-present"


def test_dropped_and_reordered_log_entries(challenge, tmp_path):
    _, _, path, _ = challenge
    members = _members(path)
    lines = [line for line in members["log.jsonl"].split(b"\n") if line]
    dropped = dict(members, **{"log.jsonl": b"".join(x + b"\n" for x in lines[:5] + lines[6:])})
    assert _failed(_write(tmp_path / "d.zip", dropped)) == "log-integrity"
    lines[3], lines[4] = lines[4], lines[3]
    reordered = dict(members, **{"log.jsonl": b"".join(x + b"\n" for x in lines)})
    assert _failed(_write(tmp_path / "r.zip", reordered)) == "log-integrity"


def test_edited_released_score(challenge, tmp_path):
    _, _, path, _ = challenge
    members = _members(path)
    board = json.loads(members["leaderboard.json"])
    board[0]["values"]["correct"] += 1
    edited_board = dict(members, **{"leaderboard.json": canonical_json(board)})
    assert _failed(_write(tmp_path / "b.zip", edited_board)) == "leaderboard"
    entries = _entries(members)
    release = next(e for e in entries if e["type"] == "release")
    release["values"]["correct"] += 1
    assert _failed(_write(tmp_path / "l.zip", _resign(members, entries))) == "release-values"


def test_forged_partial_signature(challenge, tmp_path):
    _, _, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    entry = next(e for e in entries if e["type"] == "partial")
    partial = PartialDecryption.from_bytes(members[f"blobs/{entry['partial']}"])
    forged = PartialDecryption(
        **{name: getattr(partial, name) for name in PartialDecryption.__dataclass_fields__}
        | {"signature": TrusteeIdentity.generate().sign(partial.signed_message())}
    )
    raw = forged.to_bytes()
    members[f"blobs/{forged.digest}"] = raw
    entry["partial"] = forged.digest
    assert _failed(_write(tmp_path / "f.zip", _resign(members, entries))) == "partials-valid"


@pytest.mark.parametrize("view", ["forked", "none", "before-the-request", "beyond-the-log"])
def test_partial_answered_on_another_log(challenge, tmp_path, view):
    """A trustee shown a log of the service's making (a split view) signs that head into its
    partial: the auditor finds the head is not this log's. So do a partial without a view, one
    on a head that did not yet hold its request, and one beyond the log."""
    from cryptoscore.threshold.partial import LogView

    _, committee, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    at, entry = next((i, e) for i, e in enumerate(entries) if e["type"] == "partial")
    partial = PartialDecryption.from_bytes(members[f"blobs/{entry['partial']}"])
    assert partial.log_view is not None and partial.log_view.size <= at
    log = MerkleLog()
    for e in entries:
        log.append(canonical_json(e))
    assert log.root(partial.log_view.size) == partial.log_view.root  # the honest view
    changed = {
        "forked": LogView(partial.log_view.size, bytes(32)),
        "none": None,
        "before-the-request": LogView(3, log.root(3)),
        "beyond-the-log": LogView(len(entries) + 5, bytes(32)),
    }[view]
    fields = {name: getattr(partial, name) for name in PartialDecryption.__dataclass_fields__}
    unsigned = PartialDecryption(**fields | {"log_view": changed})
    identity = committee.identity(partial.trustee_id)  # the trustee signs what it was shown
    forged = PartialDecryption(
        **fields | {"log_view": changed, "signature": identity.sign(unsigned.signed_message())}
    )
    members[f"blobs/{forged.digest}"] = forged.to_bytes()
    entry["partial"] = forged.digest
    report = verify_bundle(_write(tmp_path / "v.zip", _resign(members, entries)))
    assert report.first_failure.name == "log-views", report.first_failure
    assert partial.trustee_id in report.first_failure.detail


@pytest.mark.parametrize("change", ["randomness", "signature", "trustee", "dropped"])
def test_tampered_contribution(challenge, tmp_path, change):
    """A service that changes a logged contribution (to steer V's seed), signs it with a key
    of its own, credits it to another trustee, or drops one fails contributions-signed."""
    _, _, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    index, entry = next((i, e) for i, e in enumerate(entries) if e["type"] == "contribution")
    if change == "randomness":
        entry["randomness"] = bytes(32).hex()
    elif change == "signature":
        message = Contribution(
            "x", entry["bundle"], entry["trustee"], bytes(32), bytes(64)
        ).signed_message()
        entry["signature"] = TrusteeIdentity.generate().sign(message).hex()
    elif change == "trustee":
        others = {e["trustee"] for e in entries if e["type"] == "contribution"}
        entry["trustee"] = next(t for t in sorted(others) if t != entry["trustee"])
    else:
        del entries[index]
    report = verify_bundle(_write(tmp_path / "c.zip", _resign(members, entries)))
    assert report.first_failure.name == "contributions-signed", report.first_failure


def test_trustee_swapped_in_roster(challenge, tmp_path):
    _, _committee, path, _ = challenge
    from cryptoscore.threshold.ceremony import CeremonyRecord, RosterEntry

    members = _members(path)
    entries = _entries(members)
    cer = next(e for e in entries if e["type"] == "ceremony")
    record = CeremonyRecord.from_bytes(members[f"blobs/{cer['record']}"])
    roster = list(record.roster)
    roster[0] = RosterEntry(roster[0].trustee_id, 1, TrusteeIdentity.generate().public_key)
    swapped = CeremonyRecord(
        record.params,
        record.key_id,
        record.evaluation_keys,
        record.threshold,
        tuple(roster),
        record.share_commitments,
        record.created_at,
    )
    members[f"blobs/{swapped.digest}"] = swapped.to_bytes()
    cer["record"] = swapped.digest
    assert _failed(_write(tmp_path / "s.zip", _resign(members, entries))) == "ceremony-record"


def test_partial_reused_across_two_requests(challenge, tmp_path, monkeypatch):
    local, committee, path, _ = challenge
    from dataclasses import replace

    from cryptoscore.protocol.recompute import recompute

    members = _members(path)
    entries = _entries(members)
    req_entry = next(e for e in entries if e["type"] == "request" and e["round"] == 2)
    from cryptoscore.protocol.requests import DecryptionRequest

    request = DecryptionRequest.from_bytes(members[f"blobs/{req_entry['request']}"])
    aggregate = recompute(request, local.context, _bundles(members, entries))
    second = replace(
        request,
        request_id="round2-again",
        active_set=ActiveSet.of(committee.record, ["trustee-1", "trustee-2"]),
    )
    members[f"blobs/{second.digest}"] = second.to_bytes()
    entries.append(_request_entry(second, 2))
    # the journals were wiped
    entries += _forged_partials(committee, aggregate, second, members, tmp_path / "fresh")
    forged = _write(tmp_path / "u.zip", _resign(members, entries))
    assert _failed(forged) == "scored-once"  # a second score request of one submission
    # and the single-use rule alone catches the reused partials too
    monkeypatch.setattr(_Verifier, "check_scored_once", lambda self: "skipped")
    assert _failed(forged) == "single-use"


def test_release_with_another_circuit(challenge, tmp_path):
    local, _committee, path, _ = challenge
    from dataclasses import replace

    from cryptoscore import score
    from cryptoscore.protocol.requests import DecryptionRequest

    members = _members(path)
    entries = _entries(members)
    idx = next(i for i, e in enumerate(entries) if e["type"] == "request" and e["round"] == 2)
    request = DecryptionRequest.from_bytes(members[f"blobs/{entries[idx]['request']}"])
    bundles = _bundles(members, entries)
    other = score(
        bundles[request.inputs[0]],
        bundles[request.inputs[1]],
        ReleasePolicy(2, ("confusion",)),
        local.context.evaluation,
    )
    evil = replace(request, ciphertext_digest=other.ciphertext_digest)
    members[f"blobs/{evil.digest}"] = evil.to_bytes()
    entries[idx]["request"] = evil.digest
    assert _failed(_write(tmp_path / "c.zip", _resign(members, entries))) == "release-recomputed"


def _enrolled_upload(context, name: str, bundle) -> list[dict]:
    """What an (open) challenge lets anyone log: ``name`` enrols a fresh identity and uploads
    ``bundle`` signed with it, now."""
    from cryptoscore.identity import Identity
    from cryptoscore.protocol.signed_inputs import Enrolment, sign_upload

    who = Identity.generate()
    enrolment = Enrolment.sign(who, context.challenge_id, name)
    kind = bundle.header.kind
    return [
        {
            "type": "enrolment",
            "identity": enrolment.identity.hex(),
            "name": name,
            "signature": enrolment.signature.hex(),
        },
        {
            "type": "bundle",
            "kind": kind,
            "bundle": bundle.digest,
            "owner": name,
            "signer": who.public_key.hex(),
            "signature": sign_upload(who, context.challenge_id, kind, bundle.digest).hex(),
            "time": int(time.time() * 1000),
        },
    ]


def _forged_partials(committee, aggregate, request, members, journal_dir) -> list[dict]:
    """What a malicious service with cooperative trustees adds: partials for ``request``
    (stored in ``members``), as log entries."""
    out = []
    for i in request.active_set.indices:
        tid = committee.record.entry_by_index(i).trustee_id
        if aggregate.circuit == "noise/v1":  # the library answers these only under pad sets
            p = forged_noise_partial(committee, tid, aggregate, request)
        else:
            with PartialJournal(journal_dir / tid) as journal:
                p = partial_decrypt(
                    committee.shares[tid],
                    aggregate,
                    request.active_set,
                    request.request_id,
                    committee.identity(tid),
                    journal,
                    committee.record,
                    lineage=standalone_lineage(aggregate, request.active_set),
                )
        members[f"blobs/{p.digest}"] = p.to_bytes()
        out.append(
            {"type": "partial", "request_id": p.request_id, "partial": p.digest, "trustee": tid}
        )
    return out


def _bundles(members, entries):
    from cryptoscore import EncryptedBundle

    return {
        e["bundle"]: EncryptedBundle.from_bytes(members[f"blobs/{e['bundle']}"])
        for e in entries
        if e["type"] == "bundle"
    }


# -- receipts --------------------------------------------------------------------------------------
def test_receipts_verify_and_detect_a_rewritten_log(challenge):
    from cryptoscore.transparency.log import ConsistencyProof
    from cryptoscore.transparency.receipts import Receipt, verify_receipt, verify_receipt_against

    local, _, _, _ = challenge
    transcript = local.transcript
    service_key = SERVICE_KEY.public_key()
    index = next(
        i for i, raw in enumerate(transcript.entries) if json.loads(raw).get("owner") == "alice"
    )
    early_head = next(h for h in transcript.tree_heads if h.size > index)  # right after it
    from cryptoscore.transparency.receipts import issue_receipt

    receipt = issue_receipt(transcript.log, transcript.entries[index], index, early_head)
    receipt = Receipt.from_bytes(receipt.to_bytes())
    verify_receipt(receipt, service_key)
    later, proof = transcript.consistency(early_head.size)
    verify_receipt_against(receipt, later, proof, service_key)
    # a service that rewrote history (dropped alice's entry) and re-signed cannot prove it
    rewritten = MerkleLog()
    for i, raw in enumerate(transcript.entries):
        if i != index:
            rewritten.append(raw)
    forged_head = sign_tree_head(SERVICE_KEY, later.log_id, rewritten.size, rewritten.root(), 2)
    forged_proof = ConsistencyProof(
        early_head.size,
        rewritten.size,
        tuple(rewritten.consistency_proof(early_head.size, rewritten.size)),
    )
    from cryptoscore.errors import VerificationError

    with pytest.raises(VerificationError):
        verify_receipt_against(receipt, forged_head, forged_proof, service_key)
    # and a receipt for another upload, or under a forged head, does not verify
    with pytest.raises(VerificationError):
        verify_receipt(receipt, Ed25519PrivateKey.generate().public_key())


# -- round 1 in order: the validity aggregate only after passing noise checks ------------------
def test_validity_asked_before_the_noise_checks_were_answered(challenge, tmp_path):
    _local, _committee, path, _ = challenge
    from cryptoscore.protocol.requests import DecryptionRequest

    members = _members(path)
    entries = _entries(members)

    def circuit(e: dict) -> str:
        return DecryptionRequest.from_bytes(members[f"blobs/{e['request']}"]).circuit

    v_at = next(
        i for i, e in enumerate(entries) if e["type"] == "request" and circuit(e) == "validity/v1"
    )
    first_noise = next(
        i for i, e in enumerate(entries) if e["type"] == "request" and circuit(e) == "noise/v1"
    )
    moved = entries.pop(v_at)
    entries.insert(first_noise, moved)  # a service asking for V and the noise checks at once
    report = verify_bundle(_write(tmp_path / "o.zip", _resign(members, entries)))
    assert report.first_failure.name == "round1-verdicts"
    assert "before every noise check" in report.first_failure.detail


def test_validity_asked_although_a_noise_check_failed(challenge, tmp_path):
    local, committee, path, _ = challenge
    from cryptoscore.protocol.contributions import Contribution, derive_seed, round1_seed
    from cryptoscore.protocol.requests import DecryptionRequest
    from cryptoscore.scoring.validity import validity

    members = _members(path)
    entries = _entries(members)
    bundles = _bundles(members, entries)
    nora = next(e["bundle"] for e in entries if e["type"] == "bundle" and e["owner"] == "nora")
    contributions = [
        Contribution(
            local.context.challenge_id,
            nora,
            e["trustee"],
            bytes.fromhex(e["randomness"]),
            bytes.fromhex(e["signature"]),
        )
        for e in entries
        if e["type"] == "contribution" and e["bundle"] == nora
    ]
    seed = derive_seed(round1_seed(nora, contributions), b"validity")
    v = validity(bundles[nora], seed, local.context.evaluation)
    noise_request = next(
        r
        for e in entries
        if e["type"] == "request"
        for r in [DecryptionRequest.from_bytes(members[f"blobs/{e['request']}"])]
        if r.inputs == (nora,)
    )
    request = DecryptionRequest(
        request_id=noise_request.request_id.rsplit(":noise:", 1)[0] + ":validity",
        challenge_id=noise_request.challenge_id,
        circuit="validity/v1",
        inputs=(nora,),
        seed=seed,
        rerandomize_seed=b"",
        active_set=noise_request.active_set,
        ciphertext_digest=v.ciphertext_digest,
    )
    members[f"blobs/{request.digest}"] = request.to_bytes()
    verdict_at = next(
        i for i, e in enumerate(entries) if e["type"] == "round1" and e["bundle"] == nora
    )
    added: list[dict] = [_request_entry(request, 1)]
    added += _forged_partials(committee, v, request, members, tmp_path / "v")
    entries[verdict_at:verdict_at] = added
    report = verify_bundle(_write(tmp_path / "n.zip", _resign(members, entries)))
    assert report.first_failure.name == "round1-verdicts"
    assert "although a noise check failed" in report.first_failure.detail


# -- share exposure: one active set per lineage, each slot once (threshold/lineage.py) ---
def _request(members: dict[str, bytes], entry: dict):
    from cryptoscore.protocol.requests import DecryptionRequest

    return DecryptionRequest.from_bytes(members[f"blobs/{entry['request']}"])


def _reissued(request, context, bundles, request_id: str, active_set=None):
    """``request`` again under a fresh re-randomization seed (a new c1, so ``single-use``
    passes), optionally under another active set; and its recomputed ciphertext."""
    import os
    from dataclasses import replace

    from cryptoscore.protocol.recompute import recompute

    again = replace(
        request,
        request_id=request_id,
        rerandomize_seed=os.urandom(32),
        active_set=active_set or request.active_set,
    )
    aggregate = recompute(again, context, bundles)
    return replace(again, ciphertext_digest=aggregate.ciphertext_digest), aggregate


def _failure(path: Path):
    report = verify_bundle(path)
    assert not report.ok
    failure = report.first_failure
    assert [c.name for c in report.checks[:-1]] == list(CHECKS[: len(report.checks) - 1])
    return failure


@pytest.mark.parametrize("same_set", [False, True], ids=["another-set", "same-set"])
def test_score_reissued_rerandomized(challenge, tmp_path, same_set, monkeypatch):
    """A released submission scored again under a fresh re-randomization seed: under another
    active set, the common trustee holds two Lagrange coefficients on one score lineage (its
    share leaks); under the same set, the score slot is answered twice. ``scored-once`` (a
    second score request of one submission) fails first; without it, ``share-exposure``."""
    local, committee, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    request = _request(
        members, next(e for e in entries if e["type"] == "request" and e["round"] == 2)
    )
    other = ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])
    assert other != request.active_set
    again, aggregate = _reissued(
        request,
        local.context,
        _bundles(members, entries),
        "round2-again",
        None if same_set else other,
    )
    members[f"blobs/{again.digest}"] = again.to_bytes()
    entries.append(_request_entry(again, 2))
    entries += _forged_partials(committee, aggregate, again, members, tmp_path / "j")
    forged = _write(tmp_path / "s.zip", _resign(members, entries))
    assert _failure(forged).name == "scored-once"
    monkeypatch.setattr(_Verifier, "check_scored_once", lambda self: "skipped")
    failure = _failure(forged)
    assert failure.name == "share-exposure"
    assert "round2-again" in failure.detail
    want = "already answered score" if same_set else "under another set"
    assert want in failure.detail


def test_validity_reissued_rerandomized_fails_round1_recomputed(challenge, tmp_path):
    """V re-issued under a re-randomization seed (same set) is a second validity request of
    its bundle: ``round1-recomputed`` (at most one per bundle) necessarily fires first, and
    a round-2 V fails ``release-recomputed``. The tamper that reaches ``share-exposure`` on
    a bundle lineage is the pad reuse below."""
    local, committee, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    v_at = next(
        i
        for i, e in enumerate(entries)
        if e["type"] == "request" and _request(members, e).circuit == "validity/v1"
    )
    request = _request(members, entries[v_at])
    again, aggregate = _reissued(
        request, local.context, _bundles(members, entries), request.request_id + "-again"
    )
    members[f"blobs/{again.digest}"] = again.to_bytes()
    after_v = max(
        i
        for i, e in enumerate(entries)
        if e["type"] == "partial" and e["request_id"] == request.request_id
    )
    added = [_request_entry(again, 1)]
    added += _forged_partials(committee, aggregate, again, members, tmp_path / "j")
    entries[after_v + 1 : after_v + 1] = added  # after V was answered, before the verdict
    failure = _failure(_write(tmp_path / "v.zip", _resign(members, entries)))
    assert failure.name == "round1-recomputed"
    assert "more than one validity request" in failure.detail


def test_pads_reused_for_a_second_bundle(challenge, tmp_path):
    """A second bundle under an already used pad request (same c1 family, same lineage), its
    noise checks re-randomized so ``single-use`` passes: every slot is answered again."""
    from cryptoscore.protocol.requests import DecryptionRequest
    from cryptoscore.scoring.noise_check import noise_check

    local, committee, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    bundles = _bundles(members, entries)
    alice = next(e["bundle"] for e in entries if e["type"] == "bundle" and e["owner"] == "alice")
    reused = with_c0_offset(bundles[alice], 1)  # same header, pad request and plaintext
    assert reused.header.pad_request == bundles[alice].header.pad_request
    members[f"blobs/{reused.digest}"] = reused.to_bytes()
    entries += _enrolled_upload(local.context, "eve", reused)
    pad_set = ActiveSet(reused.header.pad_request.active_set)
    for i in pad_set.indices:  # the pad set colludes: its contributions are genuinely signed
        tid = committee.record.entry_by_index(i).trustee_id
        signed = Contribution.sign(
            committee.identity(tid),
            local.context.challenge_id,
            reused.digest,
            tid,
            bytes(range(32)),
        )
        entries.append(
            {
                "type": "contribution",
                "bundle": reused.digest,
                "trustee": tid,
                "randomness": signed.randomness.hex(),
                "signature": signed.signature.hex(),
            }
        )
    bundles[reused.digest] = reused
    for index in range(reused.layout.ciphertexts):
        plain = DecryptionRequest(
            request_id=f"round1-eve:noise:{index}",
            challenge_id=local.context.challenge_id,
            circuit="noise/v1",
            inputs=(reused.digest,),
            seed=b"",
            rerandomize_seed=b"",
            active_set=pad_set,
            ciphertext_digest=noise_check(reused, index).ciphertext_digest,
            index=index,
        )
        request, aggregate = _reissued(plain, local.context, bundles, plain.request_id)
        members[f"blobs/{request.digest}"] = request.to_bytes()
        entries.append(_request_entry(request, 1))
        entries += _forged_partials(committee, aggregate, request, members, tmp_path / str(index))
    failure = _failure(_write(tmp_path / "p.zip", _resign(members, entries)))
    assert failure.name == "share-exposure"
    assert "already answered noise:0" in failure.detail


def test_noise_check_under_another_set_than_the_pads(challenge, tmp_path):
    """A noise check of a bundle answered by another active set than its pads' (the
    stateless rule): the common trustee's pad share and this partial would give its share.
    The original request and partials are replaced, so ``single-use`` passes and
    ``share-exposure`` is the first check to fire."""
    from dataclasses import replace

    local, committee, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    bundles = _bundles(members, entries)
    alice = next(e["bundle"] for e in entries if e["type"] == "bundle" and e["owner"] == "alice")
    at = next(
        i
        for i, e in enumerate(entries)
        if e["type"] == "request"
        and _request(members, e).inputs == (alice,)
        and _request(members, e).circuit == "noise/v1"
    )
    request = _request(members, entries[at])
    other = ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])
    assert other != ActiveSet(bundles[alice].header.pad_request.active_set)
    moved = replace(request, active_set=other)
    members[f"blobs/{moved.digest}"] = moved.to_bytes()
    entries = [
        e for e in entries if not (e["type"] == "partial" and e["request_id"] == request.request_id)
    ]
    from cryptoscore.protocol.recompute import recompute

    aggregate = recompute(moved, local.context, bundles)
    entries[at] = _request_entry(moved, 1)
    entries[at + 1 : at + 1] = _forged_partials(
        committee, aggregate, moved, members, tmp_path / "j"
    )
    failure = _failure(_write(tmp_path / "d.zip", _resign(members, entries)))
    assert failure.name == "share-exposure"
    assert request.request_id in failure.detail and "pads' own active set" in failure.detail


# -- signed inputs, enrolment, quotas (issue 11) ---------------------------------------------
def _with_rules(local, members: dict[str, bytes], entries: list[dict], **changes) -> None:
    """Rewrite the logged challenge definition with other rules (the service re-signs)."""
    rules = dataclasses.replace(local.context.rules, **changes)
    definition = dataclasses.replace(local.context, rules=rules).definition()
    digest = hashlib.sha256(definition).hexdigest()
    members[f"blobs/{digest}"] = definition
    next(e for e in entries if e["type"] == "challenge")["definition"] = digest


@pytest.mark.parametrize("change", ["name", "signature", "twice"])
def test_tampered_enrolment(challenge, tmp_path, change):
    """An enrolment the service edited, one it signed itself, or an identity enrolled twice."""
    _, _, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    index, entry = next((i, e) for i, e in enumerate(entries) if e["type"] == "enrolment")
    if change == "name":
        entry["name"] = "someone-else"
    elif change == "signature":
        entry["signature"] = Identity.generate().sign(b"enrol").hex()
    else:
        entries.insert(index + 1, dict(entry))
    assert _failed(_write(tmp_path / "e.zip", _resign(members, entries))) == "enrolment"


def test_uninvited_enrolment(challenge, tmp_path):
    """The log says invite-only, inviting one identity; the others enrolled anyway."""
    local, _, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    _with_rules(
        local,
        members,
        entries,
        enrolment="invite",
        invited=(local.participants["alice"].public_key,),
    )
    assert _failed(_write(tmp_path / "i.zip", _resign(members, entries))) == "enrolment"


@pytest.mark.parametrize(
    "change", ["unsigned", "labels-by-another-key", "moved-signature", "unenrolled-signer"]
)
def test_unsigned_or_wrongly_signed_bundle(challenge, tmp_path, change):
    """A bundle logged without its owner's signature, labels signed by a key that is not the
    organizer's, a participant's signature moved to another bundle, predictions signed by an
    identity that never enrolled: each is an input the service could have made itself."""
    local, _, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    bundles = [e for e in entries if e["type"] == "bundle"]
    labels = next(e for e in bundles if e["kind"] == "labels")
    alice, bob = (next(e for e in bundles if e["owner"] == n) for n in ("alice", "bob"))
    if change == "unsigned":
        for member in ("signer", "signature", "time"):
            del alice[member]
    elif change == "labels-by-another-key":
        other = Identity.generate()
        labels["signer"] = other.public_key.hex()
        labels["signature"] = sign_upload(
            other, local.context.challenge_id, "labels", labels["bundle"]
        ).hex()
    elif change == "moved-signature":
        alice["signature"] = bob["signature"]
    else:
        stranger = Identity.generate()
        alice["signer"] = stranger.public_key.hex()
        alice["signature"] = sign_upload(
            stranger, local.context.challenge_id, "predictions", alice["bundle"]
        ).hex()
    assert _failed(_write(tmp_path / "s.zip", _resign(members, entries))) == "inputs-signed"


def test_pad_request_signature_changed(challenge, tmp_path):
    _, _, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    entry = next(e for e in entries if e["type"] == "pad_request")
    entry["signature"] = Identity.generate().sign(b"pads").hex()
    assert _failed(_write(tmp_path / "p.zip", _resign(members, entries))) == "inputs-signed"


@pytest.mark.parametrize("what", ["submissions", "pad-requests", "backwards", "after-head"])
def test_quota_and_time_tampering(challenge, tmp_path, what):
    """The logged rules allow fewer submissions or pad requests a day than the log holds for
    one identity; or the log's times go backwards, or run past the head that covers them."""
    local, _, path, _ = challenge
    members = _members(path)
    entries = _entries(members)
    timed = [e for e in entries if "time" in e]
    if what == "submissions":  # alice's pad request and submission, twice: 2 > 1
        alice_bundle = next(e for e in entries if e.get("owner") == "alice")
        entries.append(dict(alice_bundle, time=timed[-1]["time"]))
        _with_rules(local, members, entries, submissions_per_day=1)
        # the second entry of one bundle is not another submission to the trustees, but it is
        # a second signed upload in the log: counted
    elif what == "pad-requests":
        _with_rules(local, members, entries, pad_requests_per_day=1)
        first = next(e for e in entries if e["type"] == "pad_request")
        entries.append(dict(first, time=timed[-1]["time"]))
    elif what == "backwards":
        timed[-1]["time"] = timed[0]["time"] - 1
    else:
        timed[-1]["time"] = int(time.time() * 1000) + DAY_MS
    assert _failed(_write(tmp_path / "q.zip", _resign(members, entries))) == "quotas"
