"""The share-exposure attack (``tests/helpers/exposure.py``,
``cryptoscore/threshold/lineage.py``) over real HTTP, against a real service and the real
trustee loop (``cryptoscore_cli/trustee_loop.py``).

A 3-of-5 committee; trustee j and active sets S0, S1 ∋ j with the widest Lagrange ratio
λ_j(S1)/λ_j(S0) = A/B (B = 64 > 42): trustee j's pad share of a ciphertext under S0 plus a
noise-check partial of the same ciphertext under S1 would give λ_j(S0)·s_j·a exactly.

1. A participant with an honest service names S0 for its pads, opens every pad share (so it
   holds h for trustee j), uploads; all five trustees run their loops. Round 1 is answered by
   the pad set S0 alone (contributions and every partial), the audit bundle verifies, and the
   algebra on every (pad share, noise partial) pair recovers nothing. The same pad share with
   an unguarded partial under S1 does recover the share (the test can fail).
2. A malicious service offers noise checks of that bundle under S1 (plain and re-randomized)
   and a re-randomized one under S0, stored as the service stores requests (and not logged).
   Every trustee's loop refuses them before reading its share, stores no partial, leaves its
   journal byte-for-byte as it was, and goes on serving other tasks.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import json
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from cryptoscore import BFV8192, encrypt_labels, encrypt_predictions
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.protocol.recompute import recompute
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence
from cryptoscore.protocol.signed_inputs import Enrolment, sign_pad_request, sign_upload
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import (
    CeremonyResult,
    KeyShare,
    RosterEntry,
    open_share_file,
    run_ceremony,
)
from cryptoscore.threshold.pad_shares import PadKey, PadShare, open_pads
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.verify import CHECKS, verify_bundle
from cryptoscore_cli.api import ApiError, ProtocolClient
from cryptoscore_cli.trustee_loop import TrusteeLoop
from cryptoscore_server.app import create_app
from cryptoscore_server.auth import create_token
from cryptoscore_server.blobs import get_blob_store, record_blob
from cryptoscore_server.db import dispose, get_session
from cryptoscore_server.jobs import drain
from cryptoscore_server.launch import serving_in_thread
from cryptoscore_server.ledger import append_event, challenge_context, sign_head
from cryptoscore_server.models import Challenge, StoredPartial, StoredRequest
from tests.helpers.exposure import (
    lagrange,
    pad_share_of,
    recover,
    truth,
    unguarded_partial,
    widest_pair,
)

pytestmark = pytest.mark.slow

SIGNERS = {"organizer": Identity.generate(), "ann": Identity.generate()}
"""The organizer's and the participant's signing identities."""
CHALLENGE = "exposure-http"
N_ITEMS = 64
T, N = 3, 5
J, S0, S1, RATIO = widest_pair(N, T)  # 1, (1, 2, 4), (1, 3, 5), 45/64
TID = {i: f"trustee-{i}" for i in range(1, N + 1)}
J_ID = TID[J]


def _ids(active: tuple[int, ...]) -> list[str]:
    return [TID[i] for i in active]


@dataclass
class Story:
    """The service, the committee (shares kept for ``truth``), the five trustee loops, and
    what the participant holds after submitting: its pad request, key and opened shares."""

    app: Any
    url: str
    ceremony: CeremonyResult
    shares: dict[str, KeyShare]
    tokens: dict[str, str]
    loops: dict[str, TrusteeLoop]
    said: dict[str, list[str]]
    journal_dir: Path
    pad_request: PadRequest | None = None
    pad_key: PadKey | None = None
    pad_shares: dict[str, PadShare] = field(default_factory=dict)
    bundle: EncryptedBundle | None = None
    correct: int = -1
    labels: np.ndarray | None = None

    def client(self, who: str) -> ProtocolClient:
        return ProtocolClient(self.url, self.tokens[who])

    def journal(self, tid: str) -> Path:
        return self.journal_dir / f"{tid}.journal"

    def journal_bytes(self) -> dict[str, bytes]:
        return {
            tid: self.journal(tid).read_bytes() if self.journal(tid).exists() else b""
            for tid in TID.values()
        }

    def passes(self, done: Callable[[], bool], what: str, timeout: float = 300) -> None:
        """Every trustee's loop runs one pass (``trustee run`` does this every few seconds),
        then the service's jobs run; until ``done``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            for loop in self.loops.values():
                loop.run_once()
            assert not drain(self.app)

    def request_pads(self, who: str, kind: str, trustees: list[str] | None = None):
        """``who`` asks for pads for a ``kind`` bundle, signing the request; (created, key)."""
        key, seed = PadKey.generate(), os.urandom(32)
        signature = sign_pad_request(SIGNERS[who], CHALLENGE, kind, seed, key.public_bytes)
        created = self.client(who).request_pads(
            CHALLENGE, kind, seed, key.public_bytes, trustees, signature=signature
        )
        return created, key

    def upload(self, who: str, bundle: Any) -> Any:
        """``who`` uploads ``bundle`` (labels or a submission), signed."""
        kind = bundle.header.kind
        signature = sign_upload(SIGNERS[who], CHALLENGE, kind, bundle.digest)
        client = self.client(who)
        send = client.upload_labels if kind == "labels" else client.submit
        return send(CHALLENGE, bundle.to_bytes(), signature)

    def pads(self, who: str, kind: str, trustees: list[str] | None = None):
        """A submitter asks for pads, the loops answer, it downloads and opens every share."""
        client = self.client(who)
        created, key = self.request_pads(who, kind, trustees)
        request = PadRequest.from_bytes(base64.b64decode(created["record"]))
        self.passes(lambda: client.pad_request(CHALLENGE, request.digest)["ready"], "pads")
        status = client.pad_request(CHALLENGE, request.digest)
        shares = {
            tid: PadShare.from_bytes(client.pad_share(CHALLENGE, request.digest, tid))
            for tid in status["trustees"]
        }
        pads = open_pads(request, list(shares.values()), self.ceremony.record, key)
        return request, key, shares, pads


def _ceremony() -> tuple[CeremonyResult, dict[str, KeyShare], dict[str, TrusteeIdentity]]:
    identities = {tid: TrusteeIdentity.generate() for tid in TID.values()}
    roster = [RosterEntry(tid, i, identities[tid].public_key) for i, tid in TID.items()]
    passphrases = {tid: f"share passphrase {tid}".encode() for tid in TID.values()}
    # additive answers: the attack below is on Lagrange coefficients, which Shamir answers lack
    # (tests/threshold/test_attack_share_exposure.py runs it against those too)
    result = run_ceremony(BFV8192, roster, T, passphrases, answers="lagrange")
    shares = {
        tid: open_share_file(result.share_files[tid], passphrases[tid]) for tid in TID.values()
    }
    return result, shares, identities


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Iterator[Story]:
    """Everything up to the participant's released score, over HTTP."""
    tmp = tmp_path_factory.mktemp("exposure-http")
    ceremony, shares, identities = _ceremony()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REDIS_URL", raising=False)  # jobs in this process: drain() waits for them
        app = create_app(
            {
                "DATA_DIR": tmp / "data",
                "DATABASE_URL": f"sqlite:///{tmp / 'service.sqlite3'}",
                "MAX_UPLOAD_BYTES": 64 << 20,
            }
        )
    roles = {"organizer": "organizer", "ann": "participant", "auditor": "auditor"}
    roles.update({tid: "trustee" for tid in TID.values()})
    tokens = {}
    with app.app_context():
        session = get_session()
        for name, role in roles.items():
            _row, tokens[name] = create_token(session, role, name)
        session.commit()
    try:
        with serving_in_thread(app, threads=4) as url:
            said: dict[str, list[str]] = {tid: [] for tid in TID.values()}
            loops = {
                tid: TrusteeLoop(
                    ProtocolClient(url, tokens[tid]),
                    shares[tid],
                    identities[tid],
                    tmp / "journals" / f"{tid}.journal",
                    said[tid].append,
                    False,
                )
                for tid in TID.values()
            }
            s = Story(app, url, ceremony, shares, tokens, loops, said, tmp / "journals")
            _run_story(s)
            yield s
    finally:
        dispose(app)


def _run_story(s: Story) -> None:
    now = datetime.now(UTC)
    s.client("organizer").create_challenge(
        {
            "id": CHALLENGE,
            "name": CHALLENGE,
            "classes": 2,
            "n_items": N_ITEMS,
            "metrics": ["correct"],
            "submission_limit_per_day": 5,
            "organizer_key": SIGNERS["organizer"].public_key.hex(),
            "opens_at": (now - timedelta(minutes=1)).isoformat(),
            "closes_at": (now + timedelta(days=1)).isoformat(),
        },
        s.ceremony.record.to_bytes(),
        s.ceremony.public.to_bytes(),
        s.ceremony.evaluation.to_bytes(),
    )
    for loop in s.loops.values():  # one pass: the service sees all five trustees online
        assert loop.run_once() == 0
    s.client("ann").enrol(CHALLENGE, Enrolment.sign(SIGNERS["ann"], CHALLENGE, "ann").to_bytes())
    gen = np.random.default_rng(2026)
    y = gen.integers(0, 2, N_ITEMS)
    p = np.where(gen.random(N_ITEMS) < 0.8, y, 1 - y)
    public = s.ceremony.public
    _, _, _, label_pads = s.pads("organizer", "labels")
    labels = encrypt_labels(y, public, classes=2, challenge=CHALLENGE, pads=label_pads)
    s.upload("organizer", labels)
    # the participant names S0: trustee j's pad share is one it opens itself
    request, key, shares, pads = s.pads("ann", "predictions", _ids(S0))
    assert request.active_set == S0 and sorted(shares) == _ids(S0)
    bundle = encrypt_predictions(p, public, classes=2, challenge=CHALLENGE, pads=pads)
    digest = s.upload("ann", bundle)["submission"]
    assert digest == bundle.digest
    ann = s.client("ann")
    s.passes(lambda: ann.submission(CHALLENGE, digest)["state"] == "released", "the release")
    s.pad_request, s.pad_key, s.pad_shares, s.bundle = request, key, shares, bundle
    s.correct = int(np.count_nonzero(p == y))
    s.labels = y


class _Shares:
    """What ``truth`` needs: the committee's real key shares."""

    def __init__(self, shares: dict[str, KeyShare]) -> None:
        self.shares = shares


def _h(s: Story, tid: str, index: int):
    """The participant's opened pad share of trustee ``tid`` for ciphertext ``index``."""
    return pad_share_of(None, tid, s.pad_request, s.pad_shares[tid], s.pad_key, index)


def _audit(s: Story, tmp_path: Path):
    raw = s.client("auditor").audit_bundle(CHALLENGE)
    path = tmp_path / "audit.zip"
    path.write_bytes(raw)
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        entries = [json.loads(line) for line in zf.read("log.jsonl").split(b"\n") if line]
        blobs = {
            n.removeprefix("blobs/"): zf.read(n) for n in zf.namelist() if n.startswith("blobs/")
        }
    return path, entries, blobs


# -- 1. an honest service: round 1 by the pad set alone, nothing recovered -----------------------
def test_round1_is_answered_by_the_pad_set_and_recovers_nothing(story, tmp_path):
    s = story
    bundle = s.bundle
    assert bundle is not None and RATIO.denominator == 64
    status = s.client("ann").submission(CHALLENGE, bundle.digest)
    assert status["state"] == "released" and status["values"] == {"correct": s.correct}

    path, entries, blobs = _audit(s, tmp_path)
    report = verify_bundle(path)
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == list(CHECKS)

    contributors = [
        e["trustee"]
        for e in entries
        if e.get("type") == "contribution" and e["bundle"] == bundle.digest
    ]
    assert sorted(contributors) == _ids(S0)  # not whichever trustees polled first
    round1 = [
        DecryptionRequest.from_bytes(blobs[e["request"]])
        for e in entries
        if e.get("type") == "request" and e["round"] == 1
    ]
    round1 = {r.request_id: r for r in round1 if r.inputs == (bundle.digest,)}
    circuits = sorted(r.circuit for r in round1.values())
    count = bundle.layout.ciphertexts
    assert circuits == ["noise/v1"] * count + ["validity/v1"]
    assert all(r.active_set.indices == S0 for r in round1.values())
    partials = [
        PartialDecryption.from_bytes(blobs[e["partial"]])
        for e in entries
        if e.get("type") == "partial" and e["request_id"] in round1
    ]
    assert len(partials) == len(round1) * T
    for rid in round1:
        answered = sorted(p.trustee_id for p in partials if p.request_id == rid)
        assert answered == _ids(S0), rid
    assert all(p.active_set.indices == S0 for p in partials)

    # the attacker's algebra on every (pad share, noise partial) pair it holds
    committee = _Shares(s.shares)
    tried = 0
    for part in partials:
        request = round1[part.request_id]
        if request.circuit != "noise/v1":
            continue
        k = part.index
        h = _h(s, part.trustee_id, request.index)
        a = bundle.ciphertext(request.index)[1]
        wanted = truth(committee, part.trustee_id, a, S0)
        actual = lagrange(k, request.active_set.indices) / lagrange(k, S0)
        assert actual == 1  # one coefficient per lineage: B = 1, the bracket mod B is nothing
        assert recover(h, part.data(), actual, masked=True) != wanted
        assert recover(h, part.data(), RATIO, masked=True) != wanted
        tried += 1
    assert tried == count * T

    # the control: the same pad share, with the answer an unguarded trustee would give under
    # S1 (smudged, or the pad's exact complement), does give trustee j's share away: the
    # algebra and the truth above are the real ones, and this test can fail
    a = bundle.ciphertext(0)[1]
    wanted = truth(committee, J_ID, a, S0)
    for pad in (None, s.pad_request):
        unguarded = unguarded_partial(committee, J_ID, a, S1, complement_of=pad)
        assert recover(_h(s, J_ID, 0), unguarded, RATIO, masked=True) == wanted


# -- 2. a malicious service re-routes the noise check: every trustee refuses ----------------------
def _offer(s: Story, request: DecryptionRequest, aggregate: AggregateCiphertext) -> None:
    """Store a round-1 request of the bundle as the service stores one
    (``release_ledger.SqlReleaseUpdate``: request and aggregate as blobs, an open
    ``StoredRequest`` naming its active set), so
    ``GET /trustee/tasks`` offers it — and log it under a signed head, so the trustees' log
    rules (``trustee/log_rules.py``) let it through and the lineage rules are what refuse it."""
    with s.app.app_context():
        session, store = get_session(), get_blob_store()
        blobs = [store.put_bytes(data) for data in (request.to_bytes(), aggregate.to_bytes())]
        for stored in blobs:
            record_blob(session, stored)
        assert blobs[0].sha256 == request.digest
        session.add(
            StoredRequest(
                request_id=request.request_id,
                challenge_id=CHALLENGE,
                bundle=request.inputs[0],
                round=1,
                request_blob=request.digest,
                aggregate_blob=blobs[1].sha256,
                trustees=_ids(request.active_set.indices),
            )
        )
        session.flush()
        append_event(
            session,
            store,
            CHALLENGE,
            f"request:{request.request_id}",
            lambda t, k: t.record_request(request, 1, key=k),
        )
        sign_head(session, CHALLENGE)
        session.commit()


def test_rerouted_noise_checks_are_refused_by_the_real_loop(story, monkeypatch):
    s = story
    bundle = s.bundle
    assert bundle is not None
    with s.app.app_context():
        store = get_blob_store()
        context = challenge_context(get_session().get(Challenge, CHALLENGE), store)
        rows = get_session().scalars(
            select(StoredRequest).where(StoredRequest.bundle == bundle.digest)
        )
        stored = [DecryptionRequest.from_bytes(store.read(r.request_blob)) for r in rows]
    (honest,) = [r for r in stored if r.circuit == "noise/v1"]
    bundles = {bundle.digest: bundle}

    def moved(active: tuple[int, ...], rerandomized: bool, name: str) -> DecryptionRequest:
        changed = dataclasses.replace(
            honest,
            request_id=f"{CHALLENGE}:evil:{name}:{os.urandom(4).hex()}",
            active_set=ActiveSet(active),
            rerandomize_seed=os.urandom(32) if rerandomized else b"",
        )
        aggregate = recompute(changed, context, bundles)
        changed = dataclasses.replace(changed, ciphertext_digest=aggregate.ciphertext_digest)
        _offer(s, changed, aggregate)
        return changed

    evil = {
        "S1": moved(S1, False, "s1"),
        "S1 re-randomized": moved(S1, True, "s1r"),
        "S0 re-randomized": moved(S0, True, "s0r"),
    }
    offered = {
        tid: sorted(t["request_id"] for t in s.client(tid).trustee_tasks()["requests"])
        for tid in TID.values()
    }
    for tid in TID.values():  # the service offers each request to its active set
        index = int(tid.rsplit("-", 1)[1])
        want = sorted(r.request_id for r in evil.values() if index in r.active_set.indices)
        assert offered[tid] == want, tid
    assert len(offered[J_ID]) == 3

    reads: list[str] = []
    original = KeyShare.residues

    def counted(self, level):
        reads.append(self.trustee_id)
        return original(self, level)

    monkeypatch.setattr(KeyShare, "residues", counted)
    before = s.journal_bytes()
    heard = {tid: len(lines) for tid, lines in s.said.items()}
    for tid, loop in s.loops.items():
        assert loop.run_once() == 0, tid  # refused, reported, and the pass goes on
    assert reads == []  # no share was read
    assert s.journal_bytes() == before  # no journal was written
    reasons = {
        "S1": "answered by its pads' own active set [1, 2, 4], not [1, 3, 5]",
        "S1 re-randomized": "answered by its pads' own active set [1, 2, 4], not [1, 3, 5]",
        "S0 re-randomized": "already answered noise:0",
    }
    for tid in TID.values():
        new = s.said[tid][heard[tid] :]
        index = int(tid.rsplit("-", 1)[1])
        want = [
            (f"refused {r.request_id}: ", reasons[name])
            for name, r in evil.items()
            if index in r.active_set.indices
        ]
        assert len(new) == len(want), (tid, new)
        for prefix, reason in want:
            (line,) = [line for line in new if line.startswith(prefix)]
            assert reason in line, line

    with s.app.app_context():
        stored = (
            get_session()
            .scalars(
                select(StoredPartial).where(
                    StoredPartial.request_id.in_([r.request_id for r in evil.values()])
                )
            )
            .all()
        )
    assert stored == []
    evidence = Round1Evidence.from_json(s.client(J_ID).round1_evidence(CHALLENGE, bundle.digest))
    for r in evil.values():
        assert list(evidence.partials[r.request_id]) == []

    # nothing recovered: trustee j's partials of this bundle are its noise check and V, both
    # under S0, and the noise check with its pad share gives nothing under either ratio
    mine = [p for parts in evidence.partials.values() for p in parts if p.trustee_id == J_ID]
    assert len(mine) == 2 and all(p.active_set.indices == S0 for p in mine)
    noise = [p for p in mine if p.request_id == honest.request_id]
    assert len(noise) == 1
    wanted = truth(_Shares(s.shares), J_ID, bundle.ciphertext(0)[1], S0)
    h = _h(s, J_ID, 0)
    assert recover(h, noise[0].data(), RATIO, masked=True) != wanted
    assert recover(h, noise[0].data(), Fraction(1), masked=True) != wanted

    # and the loop keeps serving: a fresh pad request naming S1 is answered in the next pass,
    # while the re-routed requests are refused again
    heard = len(s.said[J_ID])
    reads.clear()
    created, _key = s.request_pads("ann", "predictions", _ids(S1))
    assert s.loops[J_ID].run_once() == 1
    new = s.said[J_ID][heard:]
    assert new[0] == f"answered pads {created['request'][:16]}"
    assert sorted(line.split(" ", 2)[1].rstrip(":") for line in new[1:]) == sorted(
        r.request_id for r in evil.values()
    )
    assert reads == [J_ID]  # the pad's, once
    after = s.journal(J_ID).read_bytes()
    assert after.startswith(before[J_ID]) and len(after) > len(before[J_ID])


# -- 3. answers lost in transit are re-sent as the same bytes, never answered twice -------------
def _lossy(loop: TrusteeLoop, method: str, after_sending: bool) -> list[bytes]:
    """The first ``method`` call of ``loop``'s client fails as a dropped connection does:
    before the service got the bytes, or after it stored them (the response lost)."""
    sent: list[bytes] = []
    real = getattr(loop.client, method)

    def flaky(data: bytes) -> Any:
        sent.append(data)
        if len(sent) == 1:
            if after_sending:
                real(data)
            raise ApiError(0, "connection to the service lost: RemoteDisconnected")
        return real(data)

    setattr(loop.client, method, flaky)
    return sent


def test_lost_answers_are_re_sent_and_the_submission_is_released(story):
    s = story
    assert s.labels is not None
    in_s0 = _ids(S0)
    lost_pad = _lossy(s.loops[in_s0[0]], "post_pad_share", after_sending=False)
    lost_before = _lossy(s.loops[in_s0[1]], "post_partial", after_sending=False)
    lost_after = _lossy(s.loops[in_s0[2]], "post_partial", after_sending=True)
    heard = {tid: len(lines) for tid, lines in s.said.items()}

    def passes(done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 300
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            for loop in s.loops.values():
                try:
                    loop.run_once()
                except ApiError as exc:  # what ``trustee run`` retries with backoff
                    assert exc.status == 0, exc
            assert not drain(s.app)

    client = s.client("ann")
    created, key = s.request_pads("ann", "predictions", in_s0)
    request = PadRequest.from_bytes(base64.b64decode(created["record"]))
    passes(lambda: client.pad_request(CHALLENGE, request.digest)["ready"], "the pads")
    shares = [
        PadShare.from_bytes(client.pad_share(CHALLENGE, request.digest, tid)) for tid in in_s0
    ]
    pads = open_pads(request, shares, s.ceremony.record, key)
    predictions = np.ones(N_ITEMS, dtype=np.int64)
    bundle = encrypt_predictions(
        predictions, s.ceremony.public, classes=2, challenge=CHALLENGE, pads=pads
    )
    digest = s.upload("ann", bundle)["submission"]
    passes(lambda: client.submission(CHALLENGE, digest)["state"] == "released", "the release")
    released = client.submission(CHALLENGE, digest)
    assert released["values"] == {"correct": int(np.count_nonzero(s.labels == 1))}

    # the pad share lost on its way was re-sent as the same bytes and accepted
    assert lost_pad.count(lost_pad[0]) == 2
    assert shares[0].to_bytes() == lost_pad[0]
    assert f"re-sent pads {request.digest[:16]}" in s.said[in_s0[0]][heard[in_s0[0]] :]
    # the partial lost before the service had it: the task came back, the same bytes went
    assert lost_before.count(lost_before[0]) == 2
    first = PartialDecryption.from_bytes(lost_before[0])
    assert f"re-sent {first.request_id}" in s.said[in_s0[1]][heard[in_s0[1]] :]
    # the partial whose response was lost: stored, so not asked again; the trustee keeps it
    # until told (no second answer either way)
    with s.app.app_context():
        session = get_session()
        stored = {
            row.blob
            for row in session.scalars(
                select(StoredPartial).where(StoredPartial.trustee == in_s0[2])
            )
        }
    assert hashlib.sha256(lost_after[0]).hexdigest() in stored
    assert lost_after.count(lost_after[0]) == 1
    # every trustee answered each lineage slot once (its journal), whatever was lost
    for tid in TID.values():
        slots = [(r.lineage, r.slot) for r in s.loops[tid].agent.journal.lineage_records()]
        assert len(slots) == len(set(slots)), tid
    assert len(s.loops[in_s0[0]].agent.outbox) == 0 and len(s.loops[in_s0[1]].agent.outbox) == 0
