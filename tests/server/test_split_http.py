"""A public/private split through the networked service (issue 16, item 1), on SQLite and
PostgreSQL, with the trustees acting over HTTP exactly as ``trustee run`` does
(``tests/helpers/protocol.Trustees``): the organizer creates a split challenge and uploads its
labels (one-hot over part and class, with a secret public mask); participants submit and
select finals; the leaderboard shows public scores; after the close the organizer closes, the
service's private jobs ask and the trustees release the private part of each identity's final
only; the leaderboard shows private scores, each row labelled with its part; the audit bundle
verifies. Bad input (a replayed or older selection, a selection after the close, a close by a
non-organizer or before the close time) is a 4xx problem and changes nothing stored."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask

from cryptoscore.protocol.driver import PRIVATE_PENDING
from cryptoscore.protocol.rules import DAY_MS
from cryptoscore.protocol.signed_inputs import sign_selection
from cryptoscore.scoring.encoding import draw_public_mask
from cryptoscore.trustee import agent as agent_module
from cryptoscore.verify import verify_bundle
from cryptoscore_server.db import get_session
from cryptoscore_server.jobs import drain
from cryptoscore_server.models import UploadedBundle
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    Committee,
    FlaskPort,
    ServiceRefusal,
    Trustees,
    challenge_with_trustees,
    create_challenge,
    encrypt_split_labels,
    encrypt_via_service,
    leaf_entries,
    make_tokens,
    upload,
)
from tests.helpers.service import API, bearer, identity_of

PUBLIC = 120
PARTIES = {
    "organizer": "organizer",
    "other-organizer": "organizer",
    "alice": "participant",
    "bob": "participant",
    "auditor": "auditor",
    "t0": "trustee",
    "t1": "trustee",
    "t2": "trustee",
}


def _select(client: Any, token: str, sequence: int, submissions: list[str]) -> Any:
    signature = sign_selection(identity_of(token), CHALLENGE, sequence, submissions)
    body = {"sequence": sequence, "submissions": submissions, "signature": signature.hex()}
    return client.post(f"{API}/challenges/{CHALLENGE}/selections", json=body, headers=bearer(token))


def _truth(predictions: np.ndarray, labels: np.ndarray, members: np.ndarray) -> dict[str, int]:
    correct = int(np.count_nonzero(predictions[members] == labels[members]))
    return {"correct": correct, "errors": int(np.count_nonzero(members)) - correct}


def _log_size(client: Any) -> int:
    return int(client.get(f"{API}/challenges/{CHALLENGE}/log/head").get_json()["size"])


def test_split_flow_over_http(
    make_app: Callable[..., Flask],
    committee: Committee,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, PARTIES, split={"public_items": PUBLIC}
    )
    created = client.get(f"{API}/challenges/{CHALLENGE}").get_json()
    assert created["rules"]["split"]["public_items"] == PUBLIC
    assert created["rules"]["split"]["finals"] == 1

    gen = np.random.default_rng(11)
    labels = gen.integers(0, 2, N_ITEMS)
    mask = draw_public_mask(N_ITEMS, PUBLIC)
    bundle = encrypt_split_labels(trustees, tokens["organizer"], labels, mask)
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201

    preds = {
        "alice-1": np.where(gen.random(N_ITEMS) < 0.9, labels, 1 - labels),
        "alice-2": np.where(gen.random(N_ITEMS) < 0.6, labels, 1 - labels),
        "bob": np.where(gen.random(N_ITEMS) < 0.75, labels, 1 - labels),
    }
    digests: dict[str, str] = {}
    for name, values in preds.items():
        owner = name.split("-")[0]
        sub = encrypt_via_service(trustees, tokens[owner], "predictions", values)
        response = upload(client, tokens[owner], "submissions", sub)
        assert response.status_code == 201, response.get_json()
        digests[name] = response.get_json()["submission"]
    trustees.run(app)

    # during the challenge: public scores only, labelled, over the public items
    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard?view=all").get_json()
    assert board["part"] == "public"
    assert board["split"]["public_items"] == PUBLIC and board["split"]["closed"] is False
    by_digest = {row["submission"]: row for row in board["rows"]}
    assert set(by_digest) == set(digests.values())
    for name, digest in digests.items():
        assert by_digest[digest]["values"] == _truth(preds[name], labels, mask)
        assert by_digest[digest]["part"] == "public" and by_digest[digest]["n"] == PUBLIC
    part_entries = [
        e
        for e in leaf_entries(
            client.get(
                f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
            ).data
        )
        if e["type"] in ("release", "part_release")
    ]
    assert {e["part"] for e in part_entries} == {"public"}

    # alice keeps her first (better on the public part) as final; a replay or an older
    # sequence changes nothing
    assert _select(client, tokens["alice"], 2, [digests["alice-1"]]).status_code == 201
    size = _log_size(client)
    replayed = _select(client, tokens["alice"], 2, [digests["alice-1"]])
    older = _select(client, tokens["alice"], 1, [digests["alice-2"]])
    for response in (replayed, older):
        assert response.status_code == 409, response.get_json()
        assert response.mimetype == "application/problem+json"
    foreign = _select(client, tokens["alice"], 3, [digests["bob"]])
    assert foreign.status_code == 422, foreign.get_json()
    forged = _select(client, tokens["bob"], 1, [digests["alice-1"]])
    assert forged.status_code == 422, forged.get_json()
    assert _log_size(client) == size

    # only the challenge's organizer closes it, and only after its close time
    for who in ("alice", "other-organizer"):
        refused = client.post(f"{API}/challenges/{CHALLENGE}/close", headers=bearer(tokens[who]))
        assert refused.status_code == 403, refused.get_json()
    early = client.post(f"{API}/challenges/{CHALLENGE}/close", headers=bearer(tokens["organizer"]))
    assert early.status_code == 409, early.get_json()
    assert early.get_json()["type"] == "urn:cryptoscore:problem:not-closed-yet"
    assert _log_size(client) == size

    # a week and a day later (the service's and the trustees' clocks)
    real_time, real_ns = time.time, time.time_ns
    monkeypatch.setattr(time, "time", lambda: real_time() + 8 * DAY_MS / 1000)
    monkeypatch.setattr(time, "time_ns", lambda: real_ns() + 8 * DAY_MS * 1_000_000)
    closed = client.post(f"{API}/challenges/{CHALLENGE}/close", headers=bearer(tokens["organizer"]))
    assert closed.status_code == 201, closed.get_json()
    assert set(closed.get_json()["finals"]) == {digests["alice-1"], digests["bob"]}
    late = _select(client, tokens["alice"], 9, [digests["alice-2"]])
    assert late.status_code == 409, late.get_json()
    again = client.post(f"{API}/challenges/{CHALLENGE}/close", headers=bearer(tokens["organizer"]))
    assert again.status_code == 200 and again.get_json()["index"] == closed.get_json()["index"]
    assert not drain(app)
    trustees.run(app)

    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard?view=all").get_json()
    assert board["part"] == "private" and board["split"]["closed"] is True
    private = {row["submission"]: row for row in board["rows"]}
    assert set(private) == {digests["alice-1"], digests["bob"]}  # never alice's non-final
    for name in ("alice-1", "bob"):
        row = private[digests[name]]
        assert row["values"] == _truth(preds[name], labels, ~mask)
        assert row["part"] == "private" and row["n"] == N_ITEMS - PUBLIC
    status = client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{digests['alice-1']}",
        headers=bearer(tokens["alice"]),
    ).get_json()
    assert status["part"] == "public" and status["state"] == "released"
    assert status["private"]["state"] == "released"
    assert status["private"]["values"] == _truth(preds["alice-1"], labels, ~mask)
    other = client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{digests['alice-2']}",
        headers=bearer(tokens["alice"]),
    ).get_json()
    assert other["private"] is None  # not a final: its private part is never asked
    logged = client.get(f"{API}/challenges/{CHALLENGE}/log/submissions/{digests['alice-1']}")
    view = logged.get_json()
    assert view["state"] == "released" and view["part"] == "public"
    assert view["values"] == _truth(preds["alice-1"], labels, mask)
    assert view["private"] == {
        "state": "released",
        "values": _truth(preds["alice-1"], labels, ~mask),
        "reason": "",
    }
    assert [e["part"] for e in view["events"] if e["type"] == "part_release"] == [
        "public",
        "private",
    ]
    other = client.get(f"{API}/challenges/{CHALLENGE}/log/submissions/{digests['alice-2']}")
    assert other.get_json()["private"] is None
    public_board = client.get(
        f"{API}/challenges/{CHALLENGE}/leaderboard?view=all&part=public"
    ).get_json()
    assert len(public_board["rows"]) == 3 and public_board["part"] == "public"

    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    entries = leaf_entries(response.data)
    assert [e["type"] for e in entries].count("close") == 1
    released = [e for e in entries if e["type"] == "part_release" and e["part"] == "private"]
    assert {e["predictions"] for e in released} == {digests["alice-1"], digests["bob"]}
    path = tmp_path / "audit.zip"
    path.write_bytes(response.data)
    report = verify_bundle(path)
    assert report.ok and report.complete, (report.first_failure, report.in_progress)


def test_leaderboard_part_is_refused_without_a_split(
    make_app: Callable[..., Flask], committee: Committee
) -> None:
    app = make_app(JOB_THREAD=False)
    client = app.test_client()
    tokens = make_tokens(app, {"organizer": "organizer"})
    create_challenge(client, tokens["organizer"], committee)
    response = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard?part=private")
    assert response.status_code == 422
    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard").get_json()
    assert board["part"] is None and board["split"] is None
    closing = client.post(
        f"{API}/challenges/{CHALLENGE}/close", headers=bearer(tokens["organizer"])
    )
    assert closing.status_code == 409
    assert closing.get_json()["type"] == "urn:cryptoscore:problem:no-split"


def _split_with_released_public(
    make_app: Callable[..., Flask], committee: Committee, tmp_path: Path
) -> tuple[Flask, Any, dict[str, str], Trustees, str]:
    """A split challenge, its labels and one submission of alice's, the public part released."""
    app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, PARTIES, split={"public_items": PUBLIC}
    )
    gen = np.random.default_rng(12)
    labels = gen.integers(0, 2, N_ITEMS)
    mask = draw_public_mask(N_ITEMS, PUBLIC)
    bundle = encrypt_split_labels(trustees, tokens["organizer"], labels, mask)
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    sub = encrypt_via_service(trustees, tokens["alice"], "predictions", gen.integers(0, 2, N_ITEMS))
    response = upload(client, tokens["alice"], "submissions", sub)
    assert response.status_code == 201, response.get_json()
    trustees.run(app)
    return app, client, tokens, trustees, response.get_json()["submission"]


@pytest.mark.parametrize("guard", ["kept", "removed"])
def test_a_service_asking_a_private_part_before_the_close_is_refused(
    make_app: Callable[..., Flask],
    committee: Committee,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    guard: str,
) -> None:
    """A malicious service skips the close route and queues ``private_start`` at once: the
    trustees (``trustee run``'s agent over HTTP) refuse the round-3 request, so nothing of the
    private part is released. With their close rule patched out (``guard=removed``) the same
    request is answered and the private part released: the rule is what stops it."""
    app, client, tokens, trustees, digest = _split_with_released_public(
        make_app, committee, tmp_path
    )
    with app.app_context():
        session = get_session()
        row = session.get(UploadedBundle, (CHALLENGE, digest))
        assert row is not None
        row.private_state = PRIVATE_PENDING  # what only the close route should do
        session.commit()
    run_job("private_start", CHALLENGE, digest, app)
    if guard == "removed":
        monkeypatch.setattr(agent_module, "check_part_released", lambda *args, **kwargs: None)
    for tid in trustees.online:
        trustees.agent(tid).run_once(
            FlaskPort(client, tokens[tid]), lambda exc: isinstance(exc, ServiceRefusal)
        )
    assert not drain(app)
    with app.app_context():
        row = get_session().get(UploadedBundle, (CHALLENGE, digest))
        assert row is not None
        state, values = row.private_state, row.private_values
    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    private = [
        e
        for e in leaf_entries(response.data)
        if e["type"] == "part_release" and e["part"] == "private"
    ]
    if guard == "kept":
        refused = [line for line in trustees.said if " refused " in line]
        assert len(refused) == 2 and all("close" in line for line in refused), refused
        assert state == "scoring" and values is None and private == []
    else:
        assert state == "released" and values is not None
        assert [e["predictions"] for e in private] == [digest]


def run_job(name: str, challenge_id: str, digest: str, app: Flask) -> None:
    from cryptoscore_server.jobs import run_step

    with app.app_context():
        run_step(name, challenge_id, digest)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("split", "meta"),
    [
        ({"public_items": N_ITEMS}, {}),  # no private part
        ({"public_items": 0}, {}),
        ({"public_items": PUBLIC, "finals": 6}, {}),  # more than MAX_FINALS
        ({"public_items": PUBLIC, "finals": 0}, {}),
        ({"public_items": PUBLIC, "extra": 1}, {}),
        ({"public_items": PUBLIC}, {"classes": 40, "metrics": ["correct"]}),  # 2K > 64
    ],
)
def test_a_bad_split_is_refused_and_nothing_stored(
    make_app: Callable[..., Flask],
    committee: Committee,
    split: dict[str, Any],
    meta: dict[str, Any],
) -> None:
    from tests.helpers.service import challenge_meta, post_challenge

    app = make_app(JOB_THREAD=False)
    client = app.test_client()
    tokens = make_tokens(app, {"organizer": "organizer"})
    fields = {"id": CHALLENGE, "classes": 2, "n_items": N_ITEMS, "metrics": ["correct"]}
    fields |= meta
    response = post_challenge(
        client, tokens["organizer"], committee.files, challenge_meta(**fields, split=split)
    )
    assert 400 <= response.status_code < 500, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert client.get(f"{API}/challenges").get_json()["challenges"] == []
