"""The whole networked protocol over the Flask test client, with real cryptography.

Ceremony (3 trustees, threshold 2; t2 stays offline) → challenge → labels → two honest
submissions and one weighted (non-binary) one → trustees poll, contribute, recompute and
answer → jobs run both rounds → released values equal numpy's, the malicious submission is
invalid with no values, the leaderboard ranks as the auditor does, receipts verify against
the log key, and the downloaded audit bundle verifies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask

from cryptoscore.transparency.log import ConsistencyProof, SignedTreeHead
from cryptoscore.transparency.receipts import Receipt, verify_receipt, verify_receipt_against
from cryptoscore.verify import CHECKS, verify_bundle
from cryptoscore_server.db import get_session
from cryptoscore_server.jobs import run_job
from cryptoscore_server.models import LogEntry, StoredRequest, UploadedBundle
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    PARTIES,
    Committee,
    Trustees,
    create_challenge,
    encrypt_via_service,
    make_tokens,
    upload,
)
from tests.helpers.service import API, bearer


def run_story(
    app: Flask,
    committee: Committee,
    data: dict[str, Any],
    tmp_path: Path,
    settle: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Everything up to the released scores; returns tokens, receipts and digests."""
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    create_challenge(client, tokens["organizer"], committee, pad_sets="any")  # t0, t1 online
    trustees = Trustees(client, committee, tokens, tmp_path, online=("t0", "t1"))

    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    labels = upload(client, tokens["organizer"], "labels", bundle)
    assert labels.status_code == 201, labels.get_json()
    assert labels.get_json()["state"] == "awaiting-contributions"
    receipts = {"organizer": labels.get_json()["receipt"]}
    digests = {}
    for name in ("alice", "bob", "mallory"):
        bundle = encrypt_via_service(
            trustees, tokens[name], "predictions", data["predictions"][name]
        )
        response = upload(client, tokens[name], "submissions", bundle)
        assert response.status_code == 201, response.get_json()
        receipts[name] = response.get_json()["receipt"]
        digests[name] = response.get_json()["submission"]
        assert response.get_json()["state"] == "awaiting-contributions"
    trustees.run(app, settle)
    return {"client": client, "tokens": tokens, "receipts": receipts, "digests": digests}


def test_whole_challenge(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    app = make_app(JOB_THREAD=False)
    story = run_story(app, committee, data, tmp_path)
    client, tokens, digests = story["client"], story["tokens"], story["digests"]

    # statuses: honest released == numpy; malicious invalid with no values
    for name in ("alice", "bob"):
        status = client.get(
            f"{API}/challenges/{CHALLENGE}/submissions/{digests[name]}",
            headers=bearer(tokens[name]),
        ).get_json()
        assert status["state"] == "released", status
        assert status["participant"] == name
        truth = data["truth"][name]
        assert status["values"] == {"correct": truth, "errors": N_ITEMS - truth}
    evil = client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{digests['mallory']}",
        headers=bearer(tokens["organizer"]),
    ).get_json()
    assert evil["state"] == "invalid" and evil["values"] is None and evil["reason"]
    # a participant sees only its own submissions
    other = client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{digests['alice']}",
        headers=bearer(tokens["bob"]),
    )
    assert other.status_code == 404

    # the public log's view of each submission agrees with the guarded status
    for name, digest in digests.items():
        logged = client.get(f"{API}/challenges/{CHALLENGE}/log/submissions/{digest}").get_json()
        status = client.get(
            f"{API}/challenges/{CHALLENGE}/submissions/{digest}",
            headers=bearer(tokens["organizer"]),
        ).get_json()
        assert [logged[k] for k in ("participant", "state", "reason", "values")] == [
            status[k] for k in ("participant", "state", "reason", "values")
        ], name
        assert logged["bundle_index"] == story["receipts"][name]["index"], name

    # leaderboard (public), ranked as the auditor ranks
    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard").get_json()["rows"]
    assert [row["participant"] for row in board] == ["alice", "bob"]
    assert [row["rank"] for row in board] == [1, 2]
    assert board[0]["submission"] == digests["alice"] and board[0]["submitted_at"]
    assert board[0]["accuracy"] == data["truth"]["alice"] / N_ITEMS

    # receipts verify against the published log key, and later heads extend them
    challenge = client.get(f"{API}/challenges/{CHALLENGE}").get_json()
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(challenge["log_key"]))
    head = SignedTreeHead.from_json(client.get(f"{API}/challenges/{CHALLENGE}/log/head").get_json())
    for raw in story["receipts"].values():
        receipt = Receipt.from_bytes(json.dumps(raw).encode())
        verify_receipt(receipt, key)
        proof = client.get(
            f"{API}/challenges/{CHALLENGE}/log/consistency?from={receipt.tree_head.size}"
        ).get_json()
        later = SignedTreeHead.from_json(proof["tree_head"])
        assert later == head
        verify_receipt_against(
            receipt, later, ConsistencyProof.from_json(proof["consistency"]), key
        )

    # the audit bundle verifies, every check
    zipped = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
    path = tmp_path / "audit.zip"
    path.write_bytes(zipped.data)
    report = verify_bundle(path)
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == list(CHECKS)

    # jobs are idempotent: running every job again changes nothing
    with app.app_context():
        session = get_session()
        entries = session.query(LogEntry).count()
        requests = session.query(StoredRequest).count()
        rows = [(b.challenge_id, b.digest) for b in session.query(UploadedBundle)]
        session.rollback()
    for job in ("round1_start", "round1_finish", "round2_start", "round2_finish"):
        for challenge_id, digest in rows:
            with app.app_context():
                run_job(job, challenge_id, digest)
    with app.app_context():
        session = get_session()
        assert session.query(LogEntry).count() == entries
        assert session.query(StoredRequest).count() == requests
    # the offline trustee has nothing to answer: it was never in an active set
    tasks = client.get(f"{API}/trustee/tasks", headers=bearer(tokens["t2"])).get_json()
    assert tasks == {"contributions": [], "requests": [], "pads": []}
