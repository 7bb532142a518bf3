"""Challenges with a public record, written straight into the service's tables and log.

For the tests of what the public reads show (the web page, the submission's log record,
trustee presence): no ceremony and no encryption. The challenge rows come from
``benchmarks.log_growth.add_challenge``; the log entries are made by the library
(``ENTRY_TYPES``) and appended through the service's own transcript under the event keys the
service logs them with (``bundle:<digest>``, ``contribution:<digest>:<trustee>``,
``request:<id>``, ``partial:<id>:<trustee>``, ``round1:<digest>``, ``release:<id>``), so the
leaderboard's projection and the log agree as in a real run.

``confusion``: 3 classes, policy correct + confusion, n = 60 — ties, a resubmission, an invalid
submission and one still in round 1. ``binary``: 2 classes, correct + errors, n = 100, 30
participants (more than one page).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from benchmarks.log_growth import add_challenge, add_release
from cryptoscore.protocol.driver import round1_prefix, round2_request_id
from cryptoscore.transparency.entries import ENTRY_TYPES
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import append_event, sign_head
from cryptoscore_server.models import Blob, Challenge, TrusteePresence, UploadedBundle

CONFUSION = "confusion"
BINARY = "binary"
TRUSTEES = ("t1", "t2", "t3")
THRESHOLD = 2
AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def confusion_values(grid: list[list[int]]) -> dict[str, int]:
    """Released values of a correct + confusion policy; ``grid[label][predicted]``."""
    values = {
        f"confusion:{predicted}:{label}": grid[label][predicted]
        for label in range(len(grid))
        for predicted in range(len(grid))
    }
    values["correct"] = sum(grid[i][i] for i in range(len(grid)))
    return values


@dataclass
class Submission:
    participant: str
    digest: str
    values: dict[str, int] | None = None  # released
    invalid: str = ""  # round 1's reason
    stage: str = "released"  # or "invalid", "noise-check"
    entries: dict[str, int] = field(default_factory=dict)  # entry type → first index


@dataclass
class Story:
    submissions: dict[str, list[Submission]]  # by challenge


def _append(session: Any, challenge_id: str, key: str, entry_type: str, **members: Any) -> int:
    entry = ENTRY_TYPES[entry_type].make(**members)
    return append_event(
        session, get_blob_store(), challenge_id, key, lambda t, k: t.append(entry, k)
    )


def _log_submission(session: Any, challenge_id: str, sub: Submission, labels: str, n: int) -> None:
    d = sub.digest
    add_release(
        session, challenge_id, 1, d, sub.participant, {}, 0, AT + timedelta(minutes=n)
    )  # the row as upload leaves it, its state as the story has it; the release entry marks it
    session.flush()
    row = session.get(UploadedBundle, (challenge_id, d))
    row.state, row.reason, row.values, row.released_index = sub.stage, sub.invalid, sub.values, None
    at = {}
    at["bundle"] = _append(
        session,
        challenge_id,
        f"bundle:{d}",
        "bundle",
        kind="predictions",
        bundle=d,
        owner=sub.participant,
        signer="ab" * 32,
        signature="cd" * 64,
        time=int((AT + timedelta(minutes=n)).timestamp() * 1000),
    )
    for trustee in TRUSTEES[:THRESHOLD]:
        index = _append(
            session,
            challenge_id,
            f"contribution:{d}:{trustee}",
            "contribution",
            bundle=d,
            trustee=trustee,
            randomness="00" * 32,
            signature="ef" * 64,
        )
        at.setdefault("contribution", index)
    r1 = round1_prefix(challenge_id, d)
    phases = [(f"{r1}:noise:0", "noise/v1")]
    if sub.stage != "noise-check":
        phases.append((f"{r1}:validity", "validity/v1"))
    for request_id, circuit in phases:
        at.setdefault(
            "request",
            _request(session, challenge_id, request_id, 1, circuit, [d]),
        )
        if sub.stage == "noise-check":
            _partial(session, challenge_id, request_id, TRUSTEES[0])  # one of two so far
        else:
            for trustee in TRUSTEES[:THRESHOLD]:
                _partial(session, challenge_id, request_id, trustee)
    if sub.stage == "noise-check":
        sub.entries = at
        return
    verdict = "invalid" if sub.invalid else "valid"
    at["round1"] = _append(
        session,
        challenge_id,
        f"round1:{d}",
        "round1",
        bundle=d,
        verdict=verdict,
        reason=sub.invalid,
    )
    if sub.invalid:
        sub.entries = at
        return
    r2 = round2_request_id(challenge_id, d)
    _request(session, challenge_id, r2, 2, "score/v1", [d, labels])
    for trustee in (TRUSTEES[0], TRUSTEES[2]):
        _partial(session, challenge_id, r2, trustee)
    at["release"] = _append(
        session,
        challenge_id,
        f"release:{r2}",
        "release",
        predictions=d,
        labels=labels,
        request_id=r2,
        values=sub.values,
    )
    sub.entries = at


def _request(
    session: Any, challenge_id: str, request_id: str, round_: int, circuit: str, inputs: list[str]
) -> int:
    return _append(
        session,
        challenge_id,
        f"request:{request_id}",
        "request",
        request=sha(request_id),
        round=round_,
        circuit=circuit,
        inputs=inputs,
    )


def _partial(session: Any, challenge_id: str, request_id: str, trustee: str) -> None:
    _append(
        session,
        challenge_id,
        f"partial:{request_id}:{trustee}",
        "partial",
        request_id=request_id,
        partial=sha(f"{request_id}:{trustee}"),
        trustee=trustee,
    )


def _challenge(
    session: Any, challenge_id: str, token_id: int, name: str, n: int, policy: dict[str, Any]
) -> str:
    add_challenge(session, challenge_id, token_id, n_items=n, policy=policy)
    row = session.get(Challenge, challenge_id)
    row.name = name
    row.description = f"{name}: held-out test images.\nScored on ciphertexts; <b>no markup</b>."
    row.roster = [
        {"id": tid, "index": i + 1, "public_key": f"{i + 1:064x}"} for i, tid in enumerate(TRUSTEES)
    ]
    row.threshold = THRESHOLD
    labels = sha(f"{challenge_id}:labels")
    session.add(Blob(sha256=labels, size=1))
    session.flush()
    _append(
        session,
        challenge_id,
        f"bundle:{labels}",
        "bundle",
        kind="labels",
        bundle=labels,
        owner="owner",
        signer="ab" * 32,
        signature="cd" * 64,
        time=int(AT.timestamp() * 1000),
    )
    return labels


CHALLENGES = [
    (CONFUSION, "Digits (3 classes)", 60, {"classes": 3, "metrics": ["correct", "confusion"]}),
    (BINARY, "Spam or not", 100, {"classes": 2, "metrics": ["correct", "errors"]}),
]


def confusion_submissions() -> list[Submission]:
    grids = {
        "ann-1": [[18, 1, 1], [2, 16, 2], [0, 3, 17]],  # 51 correct
        "bob": [[17, 2, 1], [1, 17, 2], [1, 2, 17]],  # 51: ties ann's
        "ann-2": [[15, 3, 2], [4, 14, 2], [2, 2, 16]],  # 45: ann's best stays 51
        "cy": [[14, 4, 2], [5, 12, 3], [3, 3, 14]],  # 40
    }
    subs = [
        Submission(name.split("-")[0], sha(f"confusion:{name}"), confusion_values(grid))
        for name, grid in grids.items()
    ]
    subs.append(
        Submission(
            "dee",
            sha("confusion:dee"),
            invalid="validity: V is not 0 (not an honest one-hot encoding)",
            stage="invalid",
        )
    )
    subs.append(Submission("eve", sha("confusion:eve"), stage="noise-check"))
    return subs


def binary_submissions() -> list[Submission]:
    # 30 participants; every third pair ties
    return [
        Submission(
            f"p{i:02d}",
            sha(f"binary:{i}"),
            {"correct": (correct := 90 - (i // 2) * 2), "errors": 100 - correct},
        )
        for i in range(30)
    ]


def populate(app: Flask, now: datetime | None = None) -> Story:
    """Both challenges, their logs signed, and trustee presence (t1, t2 online, t3 not)."""
    now = now or datetime.now(UTC)
    story = Story({CONFUSION: confusion_submissions(), BINARY: binary_submissions()})
    with app.app_context():
        session = get_session()
        for token_id, (cid, name, n, policy) in enumerate(CHALLENGES, start=1):
            labels = _challenge(session, cid, token_id, name, n, policy)
            for i, sub in enumerate(story.submissions[cid]):
                _log_submission(session, cid, sub, labels, i + 1)
            sign_head(session, cid)
        session.add(TrusteePresence(trustee="t1", last_seen=now - timedelta(seconds=3)))
        session.add(TrusteePresence(trustee="t2", last_seen=now - timedelta(seconds=40)))
        session.add(TrusteePresence(trustee="t3", last_seen=now - timedelta(hours=2)))
        session.commit()
    return story
