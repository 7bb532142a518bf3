"""The ceremony relay (issue 13): a whole dealerless 2-of-3 ceremony at bfv-8192 relayed by the
service over HTTP, each trustee a ``DkgTrustee`` reading and posting through
``ServiceCeremonyExchange``, ends with every trustee's transcript passing the public checks and
the keys of an in-memory run; and every refusal of the relay, with its status and problem type,
stores nothing (rows and blob files counted before and after)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from cryptoscore import BFV8192
from cryptoscore.threshold.dkg import CeremonyPlan, DkgTrustee, Hello, SignedMessage, Transcript
from cryptoscore.threshold.dkg.messages import KINDS
from cryptoscore.threshold.dkg.sizes import largest_message_bytes
from cryptoscore.threshold.dkg.transport import transport_key, transport_public
from cryptoscore_cli.api import ProtocolClient, ServiceCeremonyExchange
from cryptoscore_server.auth import create_token
from cryptoscore_server.db import get_session
from cryptoscore_server.launch import serving_in_thread
from tests.helpers.dkg import DkgRun
from tests.helpers.service import API, assert_problem, bearer, snapshot

URN = "urn:cryptoscore:problem:"
OCTETS = "application/octet-stream"


@pytest.fixture(scope="module")
def dkg() -> DkgRun:
    return DkgRun(2, 3)


@pytest.fixture(scope="module")
def in_memory(dkg: DkgRun) -> Transcript:
    """The same ceremony (same seeds) run in one process: the relay must give its keys."""
    transcript, _ = dkg.run()
    return transcript


@pytest.fixture
def tokens(app: Flask, dkg: DkgRun) -> dict[str, str]:
    """Tokens: the organizer, a participant, one trustee token per roster id, an outsider."""
    out: dict[str, str] = {}
    with app.app_context():
        session = get_session()
        _row, out["organizer"] = create_token(session, "organizer", "the organizer")
        _row, out["participant"] = create_token(session, "participant", "someone")
        _row, out["outsider"] = create_token(session, "trustee", "trustee-9")
        for tid in dkg.identities:
            _row, out[tid] = create_token(session, "trustee", tid)
        session.commit()
    return out


def _send(
    client: FlaskClient, token: str, path: str, raw: bytes, content_type: str = OCTETS
) -> Any:
    return client.post(f"{API}{path}", data=raw, content_type=content_type, headers=bearer(token))


def _post_plan(client: FlaskClient, token: str, raw: bytes) -> Any:
    return _send(client, token, "/ceremonies", raw)


def _post(client: FlaskClient, token: str, ceremony_id: str, raw: bytes) -> Any:
    return _send(client, token, f"/ceremonies/{ceremony_id}/messages", raw)


@pytest.fixture
def ceremony_id(client: FlaskClient, tokens: dict[str, str], dkg: DkgRun) -> str:
    response = _post_plan(client, tokens["organizer"], dkg.plan.to_bytes())
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def _refused(
    app: Flask, client: FlaskClient, token: str, ceremony_id: str, raw: bytes, status: int
) -> dict[str, Any]:
    """Post ``raw``: refused with ``status``, and nothing stored (rows and files alike)."""
    before = snapshot(app)
    body = assert_problem(_post(client, token, ceremony_id, raw), status)
    assert snapshot(app) == before
    return body


def _hello(dkg: DkgRun, tid: str) -> bytes:
    return dkg.trustee(tid).hello().to_bytes()


# -- a whole ceremony over HTTP ---------------------------------------------------------------
class CountingClient(ProtocolClient):
    downloads = 0

    def ceremony_message(self, *args: Any, **kwargs: Any) -> bytes:
        type(self).downloads += 1
        return super().ceremony_message(*args, **kwargs)


def test_a_whole_ceremony_relayed_gives_every_trustee_the_in_memory_keys(
    app: Flask, tokens: dict[str, str], dkg: DkgRun, in_memory: Transcript, tmp_path
) -> None:
    plan = dkg.plan
    with serving_in_thread(app) as base:
        organizer = ProtocolClient(base, tokens["organizer"])
        created = organizer.create_ceremony(plan.to_bytes())
        assert (created["id"], created["params"], created["threshold"], created["n"]) == (
            plan.digest,
            "bfv-8192",
            2,
            3,
        )
        assert created["roster"] == [
            {"trustee_id": e.trustee_id, "index": e.index, "public_key": e.public_key.hex()}
            for e in plan.roster
        ]
        trustees = {tid: dkg.trustee(tid) for tid in dkg.identities}
        CountingClient.downloads = 0
        exchanges = {
            tid: ServiceCeremonyExchange(
                CountingClient(base, tokens[tid]), plan.digest, tmp_path / tid
            )
            for tid in trustees
        }
        # each trustee finds its ceremony, and reads the plan from the relay
        for tid, exchange in exchanges.items():
            mine = exchange.client.list_ceremonies(trustee=tid)
            assert [c["id"] for c in mine] == [plan.digest]
            assert CeremonyPlan.from_bytes(exchange.plan()).digest == plan.digest

        def transcript(tid: str) -> Transcript:
            exchange = exchanges[tid]
            return Transcript.of(CeremonyPlan.from_bytes(exchange.plan()), exchange.messages())

        steps = {
            "hello": lambda t, tid: t.hello(),
            "contribution": lambda t, tid: t.contribute(transcript(tid)),
            "response": lambda t, tid: t.respond(transcript(tid)),
            "confirmation": lambda t, tid: t.confirm(transcript(tid)),
            "completion": lambda t, tid: t.complete(transcript(tid)),
        }
        for kind, step in steps.items():
            for tid, trustee in trustees.items():
                exchanges[tid].post(step(trustee, tid).to_bytes())
            assert organizer.ceremony(plan.digest)["counts"][kind] == 3

        summary = organizer.list_ceremonies()[0]
        assert summary["state"] == "complete"
        assert summary["counts"] == {k: 3 if k != "reveal" else 0 for k in KINDS}
        want = in_memory.check_transcript(created_at=plan.created_at)
        public, evaluation = in_memory.assemble_keys()
        for tid, trustee in trustees.items():
            relayed = transcript(tid)
            record = relayed.check_transcript(created_at=plan.created_at)
            assert record.to_bytes() == want.to_bytes()
            got_public, got_evaluation = relayed.assemble_keys()
            assert got_public.to_bytes() == public.to_bytes()
            assert got_evaluation.digest == evaluation.digest
            share = trustee.finish(relayed)
            same = dkg.trustee(tid).finish(in_memory)
            assert share.key_id == same.key_id == public.key_id
            assert np.array_equal(share.residues(2), same.residues(2))
        # every message was downloaded once per trustee, whatever the number of reads
        assert CountingClient.downloads == 3 * 15
        # the cache on disk, by digest, serves a new exchange without any download
        CountingClient.downloads = 0
        again = ServiceCeremonyExchange(
            CountingClient(base, tokens["trustee-1"]), plan.digest, tmp_path / "trustee-1"
        )
        assert again.messages() == exchanges["trustee-1"].messages()
        assert CountingClient.downloads == 0
        listed = organizer.ceremony_messages(plan.digest)
        assert [(m["round"], m["trustee_id"]) for m in listed] == [
            (r, tid) for r in (1, 2, 3, 4, 5) for tid in dkg.identities
        ]


# -- the plan ---------------------------------------------------------------------------------
def test_a_plan_is_posted_once_read_back_and_listed(
    app: Flask, client: FlaskClient, tokens: dict[str, str], dkg: DkgRun
) -> None:
    raw = dkg.plan.to_bytes()
    first = _post_plan(client, tokens["organizer"], raw)
    assert first.status_code == 201
    before = snapshot(app)
    again = _post_plan(client, tokens["organizer"], raw)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert snapshot(app) == before
    body = first.get_json()
    assert body["id"] == hashlib.sha256(raw).hexdigest() == dkg.plan.digest
    assert body["state"] == "collecting" and body["created_by"] == "the organizer"
    assert body["counts"] == dict.fromkeys(KINDS, 0)

    reader = bearer(tokens["participant"])
    plan = client.get(f"{API}/ceremonies/{body['id']}/plan", headers=reader)
    assert plan.status_code == 200 and plan.data == raw and plan.mimetype == OCTETS
    assert plan.headers["ETag"] == f'"{body["id"]}"'
    listed = client.get(f"{API}/ceremonies", headers=reader).get_json()["ceremonies"]
    assert [c["id"] for c in listed] == [body["id"]]
    for tid, want in (("trustee-2", [body["id"]]), ("trustee-9", [])):
        got = client.get(f"{API}/ceremonies?trustee={tid}", headers=reader).get_json()
        assert [c["id"] for c in got["ceremonies"]] == want
    assert_problem(client.get(f"{API}/ceremonies/{'0' * 64}", headers=reader), 404)


@pytest.mark.parametrize(
    "raw", [b"", b"not a plan", b"CSDKGPLN\x01\x00\x02\x00\x00\x00{}"], ids=["empty", "junk", "{}"]
)
def test_junk_is_not_a_plan(app: Flask, client: FlaskClient, tokens, raw: bytes) -> None:
    before = snapshot(app)
    body = assert_problem(_post_plan(client, tokens["organizer"], raw), 422)
    assert body["type"] == URN + "format-error" and body["detail"].startswith("Not a ceremony plan")
    assert snapshot(app) == before


def test_only_an_organizer_posts_a_plan(app: Flask, client: FlaskClient, tokens, dkg) -> None:
    before = snapshot(app)
    for who in ("participant", "trustee-1"):
        assert_problem(_post_plan(client, tokens[who], dkg.plan.to_bytes()), 403)
    plan = dkg.plan.to_bytes()
    assert_problem(_send(client, tokens["organizer"], "/ceremonies", plan, "text/plain"), 415)
    assert snapshot(app) == before


# -- messages -----------------------------------------------------------------------------------
def test_messages_are_stored_listed_and_served_and_a_repeat_is_idempotent(
    app: Flask, client: FlaskClient, tokens, dkg: DkgRun, ceremony_id: str
) -> None:
    raw = _hello(dkg, "trustee-1")
    digest = SignedMessage.from_bytes(raw, dkg.plan).digest
    posted = _post(client, tokens["trustee-1"], ceremony_id, raw)
    assert posted.status_code == 201
    assert posted.get_json() == {
        "kind": "hello",
        "round": 1,
        "trustee_id": "trustee-1",
        "digest": digest,
        "size": len(raw),
    }
    before = snapshot(app)
    again = _post(client, tokens["trustee-1"], ceremony_id, raw)
    assert again.status_code == 200 and again.get_json() == posted.get_json()
    assert snapshot(app) == before

    reader = bearer(tokens["participant"])
    url = f"{API}/ceremonies/{ceremony_id}/messages/hello/trustee-1"
    got = client.get(url, headers=reader)
    assert got.status_code == 200 and got.data == raw and got.headers["ETag"] == f'"{digest}"'
    assert client.get(url, headers={**reader, "If-None-Match": f'"{digest}"'}).status_code == 304
    assert_problem(
        client.get(f"{API}/ceremonies/{ceremony_id}/messages/hello/trustee-2", headers=reader), 404
    )
    listed = client.get(f"{API}/ceremonies/{ceremony_id}/messages", headers=reader).get_json()
    assert listed == {"ceremony": ceremony_id, "messages": [posted.get_json()]}
    detail = client.get(f"{API}/ceremonies/{ceremony_id}", headers=reader).get_json()
    hello = next(k for k in detail["kinds"] if k["kind"] == "hello")
    assert hello["posted"] == [{"trustee_id": "trustee-1", "digest": digest, "size": len(raw)}]
    assert hello["missing"] == ["trustee-2", "trustee-3"]
    assert [k["kind"] for k in detail["kinds"]] == list(KINDS)
    assert detail["counts"]["hello"] == 1 and detail["state"] == "collecting"


def test_who_may_post(
    app: Flask, client: FlaskClient, tokens, dkg: DkgRun, ceremony_id: str
) -> None:
    raw = _hello(dkg, "trustee-1")
    body = _refused(app, client, tokens["participant"], ceremony_id, raw, 403)
    assert body["detail"].startswith("A participant token may not do this")
    body = _refused(app, client, tokens["outsider"], ceremony_id, raw, 403)
    assert "not for a trustee of ceremony" in body["detail"]
    body = _refused(app, client, tokens["trustee-2"], ceremony_id, raw, 403)
    assert "posts only its own messages" in body["detail"]
    assert_problem(_post(client, tokens["trustee-1"], "0" * 64, raw), 404)
    before = snapshot(app)
    path = f"/ceremonies/{ceremony_id}/messages"
    assert_problem(_send(client, tokens["trustee-1"], path, raw, "text/plain"), 415)
    assert snapshot(app) == before


def test_malformed_forged_and_foreign_messages_are_refused(
    app: Flask, client: FlaskClient, tokens, dkg: DkgRun, ceremony_id: str
) -> None:
    token = tokens["trustee-1"]
    raw = _hello(dkg, "trustee-1")
    assert _refused(app, client, token, ceremony_id, b"junk", 400)["type"] == URN + "format-error"
    assert _refused(app, client, token, ceremony_id, raw[:-1], 400)["type"].startswith(URN)
    forged = raw[:-1] + bytes([raw[-1] ^ 1])
    body = _refused(app, client, token, ceremony_id, forged, 400)
    assert body["type"] == URN + "verification-error"
    other = CeremonyPlan.create(BFV8192, dkg.roster, 2)
    foreign = DkgTrustee(other, "trustee-1", dkg.identities["trustee-1"], dkg.seeds["trustee-1"])
    body = _refused(app, client, token, ceremony_id, foreign.hello().to_bytes(), 409)
    assert body["type"] == URN + "mismatch"


def test_a_round_waits_for_the_one_before_and_answers_its_stored_digest(
    app: Flask, client: FlaskClient, tokens, dkg: DkgRun, in_memory: Transcript, ceremony_id: str
) -> None:
    contribution = in_memory.message("contribution", "trustee-1")
    assert contribution is not None
    raw = contribution.to_bytes()
    assert (
        _post(client, tokens["trustee-2"], ceremony_id, _hello(dkg, "trustee-2")).status_code == 201
    )
    body = _refused(app, client, tokens["trustee-1"], ceremony_id, raw, 409)
    assert body["type"] == URN + "out-of-order" and body["title"] == "Previous round incomplete"
    assert body["kind"] == "hello" and body["missing"] == ["trustee-1", "trustee-3"]
    # a hello must answer the plan itself
    identity = dkg.identities["trustee-1"]
    hello = in_memory.message("hello", "trustee-1")
    assert hello is not None
    stale = SignedMessage.sign(dkg.plan, "trustee-1", identity, "ab" * 32, hello.payload)
    body = _refused(app, client, tokens["trustee-1"], ceremony_id, stale.to_bytes(), 422)
    assert body["type"] == URN + "wrong-previous" and body["expected"] == dkg.plan.digest
    for tid in ("trustee-1", "trustee-3"):
        assert _post(client, tokens[tid], ceremony_id, _hello(dkg, tid)).status_code == 201
    # every hello is in: the contribution that answers them is taken, one answering others not
    wrong = SignedMessage.sign(dkg.plan, "trustee-1", identity, "cd" * 32, contribution.payload)
    body = _refused(app, client, tokens["trustee-1"], ceremony_id, wrong.to_bytes(), 422)
    assert body["expected"] == in_memory.round_digest("hello") == contribution.previous
    assert _post(client, tokens["trustee-1"], ceremony_id, raw).status_code == 201
    # responses wait for every contribution
    response = in_memory.message("response", "trustee-3")
    assert response is not None
    body = _refused(app, client, tokens["trustee-3"], ceremony_id, response.to_bytes(), 409)
    assert body["kind"] == "contribution" and body["missing"] == ["trustee-2", "trustee-3"]


def test_equivocation_is_refused_and_the_first_message_stays(
    app: Flask, client: FlaskClient, tokens, dkg: DkgRun, ceremony_id: str
) -> None:
    raw = _hello(dkg, "trustee-1")
    assert _post(client, tokens["trustee-1"], ceremony_id, raw).status_code == 201
    second = SignedMessage.sign(
        dkg.plan,
        "trustee-1",
        dkg.identities["trustee-1"],
        dkg.plan.digest,
        Hello(transport_public(transport_key())),
    )
    body = _refused(app, client, tokens["trustee-1"], ceremony_id, second.to_bytes(), 409)
    assert body["type"] == URN + "equivocation" and body["title"] == "Equivocation refused"
    url = f"{API}/ceremonies/{ceremony_id}/messages/hello/trustee-1"
    assert client.get(url, headers=bearer(tokens["trustee-2"])).data == raw


def test_an_oversized_message_is_413_and_stores_nothing(
    app: Flask, client: FlaskClient, tokens, dkg: DkgRun, in_memory: Transcript, ceremony_id: str
) -> None:
    limit = largest_message_bytes(dkg.plan)
    contribution = in_memory.message("contribution", "trustee-1")
    assert contribution is not None
    assert len(contribution.to_bytes()) <= limit < len(contribution.to_bytes()) + (2 << 20)
    body = _refused(app, client, tokens["trustee-1"], ceremony_id, bytes(limit + 1), 413)
    assert body["type"] == URN + "too-large" and body["limit"] == limit


def test_a_reveal_is_taken_any_time_after_the_plan_and_aborts(
    app: Flask, client: FlaskClient, tokens, dkg: DkgRun, ceremony_id: str
) -> None:
    reveal = dkg.trustee("trustee-3").reveal().to_bytes()
    assert _post(client, tokens["trustee-3"], ceremony_id, reveal).status_code == 201
    listed = client.get(f"{API}/ceremonies", headers=bearer(tokens["trustee-1"])).get_json()
    assert listed["ceremonies"][0]["state"] == "aborted"
    assert listed["ceremonies"][0]["counts"]["reveal"] == 1
