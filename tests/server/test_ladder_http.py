"""The Ladder through the networked service (issue 16, item 3), on SQLite and PostgreSQL, with
the trustees acting over HTTP: a challenge created with ``ladder_margin``; the leaderboard, a
submission's status and its public log record show the shown count only; the public audit
bundle holds no exact value and no round-2 partial, the restricted one (auditor, or the
challenge's organizer) opens every commitment; both verify. Bad input is a 4xx problem."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from flask import Flask

from cryptoscore.envelope import canonical_json
from cryptoscore.protocol.ladder import ladder_sequence
from cryptoscore.protocol.rules import DP_WITH_LADDER
from cryptoscore.verify import verify_bundle
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    Committee,
    challenge_with_trustees,
    encrypt_via_service,
    make_tokens,
    upload,
)
from tests.helpers.service import API, bearer, challenge_meta, post_challenge

PARTIES = {
    "organizer": "organizer",
    "other-organizer": "organizer",
    "alice": "participant",
    "auditor": "auditor",
    "t0": "trustee",
    "t1": "trustee",
    "t2": "trustee",
}
MARGIN = 9  # η = 0.03 of 300 items


def _bundle(client, token: str, restricted: str | None, path: Path) -> tuple[int, Path]:
    query = "" if restricted is None else f"?restricted={restricted}"
    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle{query}", headers=bearer(token)
    )
    path.write_bytes(response.data)
    return response.status_code, path


def test_ladder_flow_over_http(
    make_app: Callable[..., Flask], committee: Committee, tmp_path: Path
) -> None:
    app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, PARTIES, ladder_margin="0.03"
    )
    created = client.get(f"{API}/challenges/{CHALLENGE}").get_json()
    assert created["rules"]["ladder"] == {"margin": MARGIN}
    assert created["leakage"]["ladder"]["margin"] == MARGIN

    gen = np.random.default_rng(21)
    labels = gen.integers(0, 2, N_ITEMS)
    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", labels)
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    rights = [200, 205, 230]  # exact correct counts
    exact, digests = [], []
    for right in rights:
        preds = labels.copy()
        preds[right:] = 1 - preds[right:]
        sub = encrypt_via_service(trustees, tokens["alice"], "predictions", preds)
        response = upload(client, tokens["alice"], "submissions", sub)
        assert response.status_code == 201, response.get_json()
        digests.append(response.get_json()["submission"])
        exact.append({"correct": right, "errors": N_ITEMS - right})
        trustees.run(app)  # released in order: each decision follows the last
    shown = ladder_sequence(rights, MARGIN, N_ITEMS)
    assert shown == [198, 198, 234]

    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard?view=all").get_json()
    rows = {row["submission"]: row for row in board["rows"]}
    for digest, s in zip(digests, shown, strict=True):
        assert rows[digest]["values"] == {"correct": s}
        assert rows[digest]["release"] == "ladder" and rows[digest]["ladder_margin"] == MARGIN
        assert rows[digest]["correct"] == s
    status = client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{digests[1]}", headers=bearer(tokens["alice"])
    ).get_json()
    assert status["values"] == {"correct": 198}
    logged = client.get(f"{API}/challenges/{CHALLENGE}/log/submissions/{digests[2]}").get_json()
    assert logged["state"] == "released" and logged["values"] == {"correct": 234}

    code, public = _bundle(client, tokens["auditor"], None, tmp_path / "public.zip")
    assert code == 200
    raw = public.read_bytes()
    for values in exact:
        assert (
            canonical_json(values) not in raw and f'"errors":{values["errors"]}'.encode() not in raw
        )
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        names = set(zf.namelist())
        entries = [json.loads(line) for line in zf.read("log.jsonl").splitlines()]
    round2 = {e["request_id"] for e in entries if e["type"] == "ladder_release"}
    assert len(round2) == 3
    withheld = [e for e in entries if e["type"] == "partial" and e["request_id"] in round2]
    assert withheld and all(f"blobs/{e['partial']}" not in names for e in withheld)
    report = verify_bundle(public)
    assert report.complete, report.first_failure

    code, restricted = _bundle(client, tokens["organizer"], "true", tmp_path / "restricted.zip")
    assert code == 200
    with zipfile.ZipFile(restricted) as zf:
        openings = json.loads(zf.read("ladder.json"))
    assert [o["values"] for o in openings] == exact
    report = verify_bundle(restricted)
    assert report.complete, report.first_failure
    assert "each commitment opens" in {c.name: c.detail for c in report.checks}["ladder"]

    # who may read what
    assert _bundle(client, tokens["organizer"], None, tmp_path / "x.zip")[0] == 403
    assert _bundle(client, tokens["other-organizer"], "true", tmp_path / "x.zip")[0] == 403
    assert _bundle(client, tokens["alice"], "true", tmp_path / "x.zip")[0] == 403
    assert _bundle(client, tokens["auditor"], "yes", tmp_path / "x.zip")[0] == 422


def test_a_bad_ladder_margin_is_a_problem(
    make_app: Callable[..., Flask], committee: Committee
) -> None:
    app = make_app(JOB_THREAD=False)
    client = app.test_client()
    tokens = make_tokens(app, {"organizer": "organizer"})
    fields = {"id": CHALLENGE, "classes": 2, "n_items": N_ITEMS, "metrics": ["correct"]}
    for bad, says in (
        ("0.0", "strictly between 0 and 1"),
        ("0", "ladder_margin"),
        ("0.0125", "whole number of items"),  # 3.75 of 300
        ("abc", "ladder_margin"),
        ("1.5", "ladder_margin"),
    ):
        meta = challenge_meta(**fields, ladder_margin=bad)
        response = post_challenge(client, tokens["organizer"], committee.files, meta)
        assert response.status_code in (400, 422), (bad, response.get_json())
        assert says in json.dumps(response.get_json()), response.get_json()
    assert client.get(f"{API}/challenges/{CHALLENGE}").status_code == 404


def test_dp_with_the_ladder_is_a_422_problem(
    make_app: Callable[..., Flask], committee: Committee
) -> None:
    app = make_app(JOB_THREAD=False)
    client = app.test_client()
    tokens = make_tokens(app, {"organizer": "organizer"})
    meta = challenge_meta(
        id=CHALLENGE,
        classes=2,
        n_items=N_ITEMS,
        metrics=["correct"],
        ladder_margin="0.03",
        dp={"rho": 0.5, "budget": 1.0},
    )
    response = post_challenge(client, tokens["organizer"], committee.files, meta)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["detail"] == DP_WITH_LADDER
    assert response.content_type == "application/problem+json"
    assert client.get(f"{API}/challenges/{CHALLENGE}").status_code == 404
