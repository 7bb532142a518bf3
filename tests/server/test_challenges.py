"""Challenges with real key-ceremony files: create, read, list, downloads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cryptoscore.scoring.keys import PublicContext
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore_server.models import Challenge
from tests.helpers.service import (
    API,
    CeremonyFiles,
    assert_problem,
    bearer,
    challenge_meta,
    post_challenge,
    snapshot,
)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_create_read_list_download(
    app: Flask, client: FlaskClient, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    before = snapshot(app)
    response = post_challenge(client, tokens["organizer"], ceremony)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert response.headers["Location"] == f"{API}/challenges/digits-2025"

    assert created["id"] == "digits-2025"
    assert created["classes"] == 10 and created["n_items"] == 360
    assert created["policy"] == {
        "classes": 10,
        "metrics": ["correct", "errors"],
        "aggregates": ["correct", "errors"],
    }
    assert created["params"] == "bfv-8192"
    assert created["key_id"] == ceremony.key_id
    assert created["threshold"] == 2
    assert [t["id"] for t in created["trustees"]] == list(ceremony.trustee_ids)
    assert [t["index"] for t in created["trustees"]] == [1, 2, 3]
    assert created["blobs"] == {
        "public_context": {"sha256": _sha(ceremony.public), "size": len(ceremony.public)},
        "evaluation_keys": {"sha256": _sha(ceremony.evaluation), "size": len(ceremony.evaluation)},
        "ceremony_record": {"sha256": _sha(ceremony.record), "size": len(ceremony.record)},
    }
    assert created["state"] == "open"
    assert created["submission_limit_per_day"] == 3
    assert created["opens_at"].endswith("+00:00")

    after = snapshot(app)
    assert after.rows["challenges"] == before.rows["challenges"] + 1
    # the three ceremony files, and the challenge definition the log names
    assert after.rows["blobs"] == before.rows["blobs"] + 4
    assert len(after.files) == len(before.files) + 4
    assert after.rows["log_entries"] == 2 and after.rows["tree_heads"] == 1

    # public reads need no token
    read = client.get(f"{API}/challenges/digits-2025")
    assert read.status_code == 200 and read.get_json() == created
    listed = client.get(f"{API}/challenges")
    assert listed.status_code == 200 and listed.get_json() == {"challenges": [created]}

    with client.get(f"{API}/challenges/digits-2025/public-context") as download:
        assert download.status_code == 200
        assert download.mimetype == "application/octet-stream"
        assert download.data == ceremony.public
        assert download.headers["ETag"].strip('"') == _sha(ceremony.public)
        assert "digits-2025.public-context" in download.headers["Content-Disposition"]
        etag = download.headers["ETag"]
    # the participant's view: the download parses, and the record vouches for it
    public = PublicContext.from_bytes(ceremony.public)
    with client.get(f"{API}/challenges/digits-2025/ceremony-record") as download:
        assert download.status_code == 200
        CeremonyRecord.from_bytes(download.data).check_keys(public)
    with client.get(
        f"{API}/challenges/digits-2025/public-context", headers={"If-None-Match": etag}
    ) as cached:
        assert cached.status_code == 304

    for role in ("trustee", "auditor"):
        with client.get(
            f"{API}/challenges/digits-2025/evaluation-keys", headers=bearer(tokens[role])
        ) as download:
            assert download.status_code == 200
            assert _sha(download.data) == _sha(ceremony.evaluation)


def test_second_challenge_shares_blobs(
    app: Flask, client: FlaskClient, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    assert post_challenge(client, tokens["organizer"], ceremony).status_code == 201
    before = snapshot(app)
    # an admin may create challenges too; same keys → same blobs, stored once
    meta = challenge_meta(id="digits-binary", classes=2, metrics=["confusion", "correct"])
    response = post_challenge(client, tokens["admin"], ceremony, meta)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["policy"]["aggregates"] == [
        "confusion:0:0",
        "confusion:0:1",
        "confusion:1:0",
        "confusion:1:1",
        "correct",
    ]
    after = snapshot(app)
    # the key files are shared; only the new challenge's definition is a new blob
    assert len(after.files) == len(before.files) + 1
    assert set(before.files) <= set(after.files)
    assert after.rows["blobs"] == before.rows["blobs"] + 1
    assert after.rows["challenges"] == before.rows["challenges"] + 1
    ids = [c["id"] for c in client.get(f"{API}/challenges").get_json()["challenges"]]
    assert ids == ["digits-2025", "digits-binary"]


def test_duplicate_id_is_409_and_changes_nothing(
    app: Flask, client: FlaskClient, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    assert post_challenge(client, tokens["organizer"], ceremony).status_code == 201
    before = snapshot(app)
    body = assert_problem(post_challenge(client, tokens["organizer"], ceremony), 409)
    assert "digits-2025" in body["detail"]
    assert snapshot(app) == before


def test_unknown_challenge_is_404(client: FlaskClient, tokens: dict[str, str]) -> None:
    for suffix in ("", "/public-context", "/ceremony-record"):
        assert_problem(client.get(f"{API}/challenges/nope{suffix}"), 404)
    assert_problem(
        client.get(f"{API}/challenges/nope/evaluation-keys", headers=bearer(tokens["trustee"])),
        404,
    )


def test_upcoming_state_and_utc_times(
    client: FlaskClient, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    meta = challenge_meta(
        id="later", opens_at="2999-01-01T00:00:00+00:00", closes_at="2999-02-01T00:00:00+01:00"
    )
    response = post_challenge(client, tokens["organizer"], ceremony, meta)
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "upcoming"
    # times are normalized to UTC
    assert body["closes_at"] == "2999-01-31T23:00:00+00:00"


@pytest.mark.parametrize(
    "error", [IntegrityError("INSERT", {}, Exception("fk")), RuntimeError("disk on fire")]
)
def test_failed_commit_leaves_no_blobs(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    ceremony: CeremonyFiles,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    before = snapshot(app)

    def failing_commit(self: Session) -> None:
        raise error

    monkeypatch.setattr(Session, "commit", failing_commit)
    body = assert_problem(post_challenge(client, tokens["organizer"], ceremony), 500)
    monkeypatch.undo()
    # nothing of the exception reaches the client; the incident id is logged
    assert "disk on fire" not in body["detail"] and body["incident"] in body["detail"]
    assert snapshot(app) == before


def test_lost_race_for_the_same_id_is_409(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    ceremony: CeremonyFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert post_challenge(client, tokens["organizer"], ceremony).status_code == 201
    before = snapshot(app)
    # make the early existence check miss, as if the other request committed just after it:
    # the insert then fails on the primary key, and the view must still answer 409
    real_get = Session.get
    missed: list[bool] = []

    def get(self: Session, entity: Any, ident: Any, **kwargs: Any) -> Any:
        if entity is Challenge and not missed:
            missed.append(True)
            return None
        return real_get(self, entity, ident, **kwargs)

    monkeypatch.setattr(Session, "get", get)
    body = assert_problem(post_challenge(client, tokens["organizer"], ceremony), 409)
    monkeypatch.undo()
    assert missed and "exists already" in body["detail"]
    assert snapshot(app) == before


def test_blobs_survive_a_failed_commit_when_another_challenge_uses_them(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    ceremony: CeremonyFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert post_challenge(client, tokens["organizer"], ceremony).status_code == 201
    before = snapshot(app)

    def failing_commit(self: Session) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Session, "commit", failing_commit)
    meta = challenge_meta(id="other")
    assert_problem(post_challenge(client, tokens["organizer"], ceremony, meta), 500)
    monkeypatch.undo()
    assert snapshot(app) == before
    with client.get(f"{API}/challenges/digits-2025/public-context") as download:
        assert download.data == ceremony.public


def test_state_follows_the_clock() -> None:
    opens = datetime(2030, 1, 1, tzinfo=UTC)
    row = Challenge(opens_at=opens, closes_at=opens + timedelta(days=1))
    assert row.state(opens - timedelta(seconds=1)) == "upcoming"
    assert row.state(opens) == "open"
    assert row.state(opens + timedelta(days=1)) == "closed"


def test_lost_blob_is_a_500_not_a_crash(
    app: Flask, client: FlaskClient, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    assert post_challenge(client, tokens["organizer"], ceremony).status_code == 201
    from cryptoscore_server.blobs import BlobStore

    store = BlobStore(app.config["DATA_DIR"] / "blobs")
    store.path(_sha(ceremony.record)).unlink()
    body = assert_problem(client.get(f"{API}/challenges/digits-2025/ceremony-record"), 500)
    assert str(app.config["DATA_DIR"]) not in body["detail"]


def test_two_apps_on_one_database(make_app: Callable[..., Flask]) -> None:
    # a second process starting on a migrated database finds the schema at head
    first, second = make_app(), make_app()
    assert first.test_client().get(f"{API}/challenges").get_json() == {"challenges": []}
    assert second.test_client().get(f"{API}/challenges").get_json() == {"challenges": []}


def test_concurrent_creates_sharing_blobs(
    app: Flask, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    import threading

    statuses: dict[str, int] = {}

    def create(challenge_id: str) -> None:
        response = post_challenge(
            app.test_client(), tokens["organizer"], ceremony, challenge_meta(id=challenge_id)
        )
        statuses[challenge_id] = response.status_code

    threads = [threading.Thread(target=create, args=(f"race-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == {"race-0": 201, "race-1": 201}
    after = snapshot(app)
    # three shared key files, one definition per challenge
    assert after.rows["blobs"] == 5 and len(after.files) == 5
    assert after.rows["challenges"] == 2


def test_a_description_is_kept_and_shown(
    client: FlaskClient, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    text = "Handwritten digits, 8×8 pixels.\nScored on 360 held-out images; <b>no</b> markup."
    meta = challenge_meta(description=text)
    assert post_challenge(client, tokens["organizer"], ceremony, meta).status_code == 201
    assert client.get(f"{API}/challenges/digits-2025").get_json()["description"] == text
    listed = client.get(f"{API}/challenges").get_json()["challenges"]
    assert [c["description"] for c in listed] == [text]


def test_without_a_description_it_is_empty(
    client: FlaskClient, tokens: dict[str, str], ceremony: CeremonyFiles
) -> None:
    assert post_challenge(client, tokens["organizer"], ceremony).status_code == 201
    assert client.get(f"{API}/challenges/digits-2025").get_json()["description"] == ""


@pytest.mark.parametrize(
    "description",
    ["x" * 4001, "bell \x07", "tab\tor\rreturn", 42],
    ids=["long", "bel", "ctl", "int"],
)
def test_a_bad_description_is_422_and_changes_nothing(
    app: Flask,
    client: FlaskClient,
    tokens: dict[str, str],
    ceremony: CeremonyFiles,
    description: object,
) -> None:
    before = snapshot(app)
    meta = challenge_meta(description=description)
    body = assert_problem(post_challenge(client, tokens["organizer"], ceremony, meta), 422)
    assert "description" in body["errors"]
    assert snapshot(app) == before
