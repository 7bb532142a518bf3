"""A whole challenge over the Flask test client: ceremony, parties, and trustees that act
exactly as ``trustee run`` does (poll tasks, contribute, download, recompute, answer)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask
from flask.testing import FlaskClient

from cryptoscore import (
    BFV8192,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    raw_encrypt_vectors,
)
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.signed_inputs import Enrolment, sign_pad_request, sign_upload
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.encoding import split_label_indices
from cryptoscore.scoring.pad_request import PadRequest, Pads
from cryptoscore.threshold.ceremony import KeyShare, RosterEntry, open_share_file
from cryptoscore.threshold.dkg import run_dealerless_ceremony
from cryptoscore.threshold.pad_shares import PadKey, PadShare, open_pads
from cryptoscore.trustee.agent import TrusteeAgent
from cryptoscore_server.auth import create_token
from cryptoscore_server.db import get_session
from cryptoscore_server.jobs import drain
from tests.helpers.service import (
    API,
    ORGANIZER,
    CeremonyFiles,
    bearer,
    challenge_meta,
    identity_of,
    post_challenge,
)

CHALLENGE = "e2e-binary"
N_ITEMS = 300
POLICY = ReleasePolicy(2, ("correct", "errors"))
OCTETS = "application/octet-stream"
PARTIES = {
    "organizer": "organizer",
    "alice": "participant",
    "bob": "participant",
    "mallory": "participant",
    "auditor": "auditor",
    "t0": "trustee",
    "t1": "trustee",
    "t2": "trustee",
}
"""The story's parties, ``{name: role}``: an organizer, three participants, an auditor and
the committee's trustees (t0, t1 online)."""


@dataclass
class Committee:
    files: CeremonyFiles
    context: ChallengeContext
    shares: dict[str, KeyShare]
    identities: dict[str, TrusteeIdentity]


def make_committee(t: int = 2, n: int = 3) -> Committee:
    """A dealerless t-of-n ceremony (Shamir answers) of trustees t0 … t(n−1)."""
    identities = {f"t{i}": TrusteeIdentity.generate() for i in range(n)}
    roster = [
        RosterEntry(tid, i + 1, ident.public_key)
        for i, (tid, ident) in enumerate(identities.items())
    ]
    passphrases = {tid: b"passphrase-" + tid.encode() for tid in identities}
    result = run_dealerless_ceremony(BFV8192, roster, t, passphrases, identities=identities)
    shares = {tid: open_share_file(result.share_files[tid], passphrases[tid]) for tid in identities}
    files = CeremonyFiles(
        record=result.record.to_bytes(),
        public=result.public.to_bytes(),
        evaluation=result.evaluation.to_bytes(),
        trustee_ids=tuple(identities),
        key_id=result.public.key_id,
        other_public=b"",
    )
    context = ChallengeContext(
        CHALLENGE, result.record, result.public, result.evaluation, POLICY, N_ITEMS
    )
    return Committee(files, context, shares, identities)


def make_tokens(app: Flask, names: dict[str, str]) -> dict[str, str]:
    """``{name: role}`` → ``{name: token}`` (trustee tokens are named by roster id)."""
    out: dict[str, str] = {}
    with app.app_context():
        session = get_session()
        for name, role in names.items():
            _row, out[name] = create_token(session, role, name)
        session.commit()
    return out


def create_challenge(
    client: FlaskClient, organizer: str, committee: Committee, **meta: Any
) -> None:
    fields = {"id": CHALLENGE, "classes": 2, "n_items": N_ITEMS, "metrics": ["correct", "errors"]}
    fields.update(meta)
    response = post_challenge(client, organizer, committee.files, challenge_meta(**fields))
    assert response.status_code == 201, response.get_json()


def challenge_with_trustees(
    make_app: Callable[..., Flask],
    committee: Committee,
    journal_dir: Path,
    parties: dict[str, str] = PARTIES,
    online: tuple[str, ...] = ("t0", "t1"),
    **meta: Any,
) -> tuple[Flask, FlaskClient, dict[str, str], Trustees]:
    """A service without its job thread, ``parties``' tokens, the challenge (``meta`` added to
    its fields) and its ``online`` trustees (t0 and t1: their submitters name them in pad
    requests, :attr:`Trustees.asked`).

    When not every roster trustee is online, the challenge is created with ``pad_sets: "any"``
    (unless ``meta`` says otherwise): its submitters name the online trustees, which under the
    default ``"checked"`` can be too few to check (docs/design.md, "Checked pad sets"), and the
    trustees would refuse them."""
    if not set(online) >= {e.trustee_id for e in committee.context.record.roster}:
        meta.setdefault("pad_sets", "any")
    app = make_app(JOB_THREAD=False)
    client = app.test_client()
    tokens = make_tokens(app, parties)
    create_challenge(client, tokens["organizer"], committee, **meta)
    return (
        app,
        client,
        tokens,
        Trustees(client, committee, tokens, journal_dir, online=online),
    )


def enrol(client: FlaskClient, token: str, challenge: str = CHALLENGE) -> None:
    """The participant of ``token`` enrols its identity (``identity_of``); again is a no-op."""
    record = Enrolment.sign(identity_of(token), challenge, f"p-{token[:8]}").to_bytes()
    response = client.post(
        f"{API}/challenges/{challenge}/enrolment",
        data=record,
        content_type=OCTETS,
        headers=bearer(token),
    )
    assert response.status_code in (200, 201), response.get_json()


def signer_of(token: str, kind: str) -> Any:
    """Who signs a ``kind`` input of ``token``'s: the organizer, or the participant."""
    return ORGANIZER if kind == "labels" else identity_of(token)


def upload(
    client: FlaskClient,
    token: str,
    what: str,
    bundle: EncryptedBundle | bytes,
    challenge: str = CHALLENGE,
    signature: bytes | None = None,
) -> Any:
    """Upload ``bundle`` signed by its owner (``signature`` overrides; b"" sends none)."""
    data = bundle.to_bytes() if isinstance(bundle, EncryptedBundle) else bundle
    kind = "labels" if what == "labels" else "predictions"
    if signature is None:
        digest = hashlib.sha256(data).hexdigest()
        signature = sign_upload(signer_of(token, kind), challenge, kind, digest)
    headers = bearer(token)
    if signature:
        headers["X-CryptoScore-Signature"] = signature.hex()
    return client.post(
        f"{API}/challenges/{challenge}/{what}", data=data, content_type=OCTETS, headers=headers
    )


class FlaskPort:
    """``trustee.agent.TrusteePort`` over the Flask test client, as one trustee's token."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.headers = client, bearer(token)
        self.posted = 0
        self.log_reads: list[str] = []

    def _get(self, path: str) -> Any:
        got = self.client.get(f"{API}{path}", headers=self.headers)
        if got.status_code != 200:
            raise ServiceRefusal(got.status_code, got.get_json())
        return got

    def _post(self, path: str, data: bytes) -> Any:
        got = self.client.post(f"{API}{path}", data=data, content_type=OCTETS, headers=self.headers)
        if got.status_code not in (200, 201):
            raise ServiceRefusal(got.status_code, got.get_json())
        self.posted += got.status_code == 201
        return got.get_json()

    def trustee_tasks(self) -> Any:
        return self._get("/trustee/tasks").get_json()

    def challenge(self, challenge_id: str) -> Any:
        return self._get(f"/challenges/{challenge_id}").get_json()

    def ceremony_record(self, challenge_id: str) -> bytes:
        return bytes(self._get(f"/challenges/{challenge_id}/ceremony-record").data)

    def public_context(self, challenge_id: str) -> bytes:
        return bytes(self._get(f"/challenges/{challenge_id}/public-context").data)

    def evaluation_keys(self, challenge_id: str) -> bytes:
        return bytes(self._get(f"/challenges/{challenge_id}/evaluation-keys").data)

    def bundle(self, challenge_id: str, digest: str) -> bytes:
        return bytes(self._get(f"/challenges/{challenge_id}/bundles/{digest}").data)

    def round1_evidence(self, challenge_id: str, digest: str) -> Any:
        return self._get(f"/trustee/evidence/{challenge_id}/{digest}").get_json()

    def log_entries(self, challenge_id: str, start: int) -> Any:
        self.log_reads.append(challenge_id)
        return self._get(f"/challenges/{challenge_id}/log/entries?from={start}").get_json()

    def report_refusal(self, report: Any) -> Any:
        response = self.client.post(f"{API}/trustee/refusals", json=report, headers=self.headers)
        if response.status_code >= 400:
            raise ServiceRefusal(response.status_code, response.get_json())
        return response.get_json()

    def post_pad_share(self, share: bytes) -> Any:
        return self._post("/trustee/pads", share)

    def post_contribution(self, contribution: bytes) -> Any:
        return self._post("/trustee/contributions", contribution)

    def post_partial(self, partial: bytes) -> Any:
        return self._post("/trustee/partials", partial)


class ServiceRefusal(Exception):
    """The test service answered one call with a 4xx (a trustee skips that task)."""

    def __init__(self, status: int, problem: Any) -> None:
        super().__init__(f"{status}: {problem}")
        self.status = status


@dataclass
class Trustees:
    """The online trustees of a committee, acting over HTTP through their agents
    (``trustee/agent.py``), exactly as ``trustee run`` does."""

    client: FlaskClient
    committee: Committee
    tokens: dict[str, str]
    journal_dir: Path
    online: tuple[str, ...]
    said: list[str] = field(default_factory=list)
    agents: dict[str, TrusteeAgent] = field(default_factory=dict)

    @property
    def asked(self) -> list[str] | None:
        """Who a submitter names in its pad requests: nobody (the service asks every roster
        trustee not named a liar) when the whole roster is online, else the online trustees
        (as ``--trustees`` would: a request to an offline trustee stalls its bundle)."""
        roster = [e.trustee_id for e in self.committee.context.record.roster]
        return None if set(self.online) >= set(roster) else list(self.online)

    def agent(self, tid: str) -> TrusteeAgent:
        if tid not in self.agents:
            self.agents[tid] = TrusteeAgent(
                self.committee.shares[tid],
                self.committee.identities[tid],
                self.journal_dir / f"{tid}.journal",
                say=lambda line, tid=tid: self.said.append(f"{tid}: {line}"),
            )
        return self.agents[tid]

    def step(self) -> int:
        """One pass of every online trustee; returns how many new records they posted.
        A refusal by the rules would be a bug in an honest story: it fails the test."""
        posted = 0
        for tid in self.online:
            port = FlaskPort(self.client, self.tokens[tid])
            heard = len(self.said)
            self.agent(tid).run_once(port, lambda exc: isinstance(exc, ServiceRefusal))
            refused = [line for line in self.said[heard:] if " refused " in line]
            assert not refused, refused
            # the log is caught up on once per challenge per pass, however many tasks
            assert len(port.log_reads) == len(set(port.log_reads)), port.log_reads
            posted += port.posted
        return posted

    def run(self, app: Flask, settle: Any = None, rounds: int = 20) -> None:
        """Poll and run jobs until nothing is left to do."""
        for _ in range(rounds):
            posted = self.step()
            failures = drain(app) if settle is None else settle()
            assert not failures, failures
            if posted == 0:
                return
        raise AssertionError("the protocol did not settle")


def leaf_entries(zip_bytes: bytes) -> list[dict[str, Any]]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        return [json.loads(line) for line in zf.read("log.jsonl").split(b"\n") if line]


def post_pad_share(
    client: FlaskClient,
    committee: Committee,
    request: PadRequest,
    tid: str,
    token: str,
    journal_dir: Path,
) -> None:
    """Trustee ``tid`` answers a pad request (through its agent, following the service's
    log as ``trustee run`` does) and posts its share."""
    agent = TrusteeAgent(
        committee.shares[tid], committee.identities[tid], journal_dir / f"{tid}.journal"
    )
    port = FlaskPort(client, token)
    try:
        context = agent.context(port, request.challenge_id)
        share = agent.answer_pads(request, context, agent._followed(port, request.challenge_id))
    finally:
        agent.close()
    response = client.post(
        f"{API}/trustee/pads", data=share.to_bytes(), content_type=OCTETS, headers=bearer(token)
    )
    assert response.status_code == 201, response.get_json()


def request_pads(
    client: FlaskClient,
    token: str,
    kind: str,
    challenge: str = CHALLENGE,
    trustees: list[str] | None = None,
) -> tuple[PadRequest, PadKey, dict[str, Any]]:
    """A submitter asks the service for pads (fresh seed and key, signed; a participant
    enrols first), of ``trustees`` (default: the service's choice)."""
    if kind == "predictions":
        enrol(client, token, challenge)
    body = pad_request_body(token, kind, challenge)
    key = body.pop("_key")
    if trustees is not None:
        body["trustees"] = trustees
    response = client.post(f"{API}/challenges/{challenge}/pads", json=body, headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    return PadRequest.from_bytes(base64.b64decode(created["record"])), key, created


def pad_request_body(token: str, kind: str, challenge: str = CHALLENGE) -> dict[str, Any]:
    """A signed pad request body (and, under ``_key``, the X25519 key it names)."""
    key = PadKey.generate()
    body = signed_pad_body(token, kind, os.urandom(32), key.public_bytes, challenge)
    body["_key"] = key
    return body


def signed_pad_body(
    token: str, kind: str, seed: bytes, recipient: bytes, challenge: str = CHALLENGE
) -> dict[str, Any]:
    """A pad request body for these fields, signed by ``token``'s signer of ``kind``."""
    signature = sign_pad_request(signer_of(token, kind), challenge, kind, seed, recipient)
    return {
        "kind": kind,
        "seed": seed.hex(),
        "recipient": recipient.hex(),
        "signature": signature.hex(),
    }


def signed_upload_headers(
    token: str, kind: str, data: bytes, challenge: str = CHALLENGE
) -> dict[str, str]:
    """Bearer and signature headers of an upload of ``data`` by ``token``."""
    signature = sign_upload(
        signer_of(token, kind), challenge, kind, hashlib.sha256(data).hexdigest()
    )
    return {**bearer(token), "X-CryptoScore-Signature": signature.hex()}


def collect_pads(
    client: FlaskClient,
    token: str,
    committee: Committee,
    request: PadRequest,
    key: PadKey,
    challenge: str = CHALLENGE,
) -> Pads:
    """The submitter downloads every share (all must be in) and opens them."""
    status = client.get(
        f"{API}/challenges/{challenge}/pads/{request.digest}", headers=bearer(token)
    ).get_json()
    assert status["ready"], status
    shares = []
    for tid in status["trustees"]:
        got = client.get(
            f"{API}/challenges/{challenge}/pads/{request.digest}/shares/{tid}",
            headers=bearer(token),
        )
        assert got.status_code == 200
        shares.append(PadShare.from_bytes(got.data))
    return open_pads(request, shares, committee.context.record, key)


def service_pads(
    client: FlaskClient,
    token: str,
    committee: Committee,
    kind: str,
    trustee_tokens: dict[str, str],
    journal_dir: Path,
) -> Pads:
    """Ask ``trustee_tokens``' trustees, have them answer directly (no polling), collect."""
    request, key, created = request_pads(client, token, kind, trustees=list(trustee_tokens))
    for tid in created["trustees"]:
        post_pad_share(client, committee, request, tid, trustee_tokens[tid], journal_dir)
    return collect_pads(client, token, committee, request, key)


def encrypt_for(committee: Committee, kind: str, values: Any, pads: Pads) -> EncryptedBundle:
    public = committee.context.public
    if kind == "labels":
        return encrypt_labels(values, public, classes=2, challenge=CHALLENGE, pads=pads)
    if isinstance(values, list):  # raw slot vectors: a malicious participant
        return raw_encrypt_vectors(
            "predictions", values, public, classes=2, n=N_ITEMS, challenge=CHALLENGE, pads=pads
        )
    return encrypt_predictions(values, public, classes=2, challenge=CHALLENGE, pads=pads)


def encrypt_via_service(
    trustees: Trustees,
    token: str,
    kind: str,
    values: Any,
    challenge: str = CHALLENGE,
    asked: list[str] | None = None,
) -> EncryptedBundle:
    """A submitter's whole path: pads from the service (:func:`pads_via_service`, of
    ``asked``), encrypt."""
    pads = pads_via_service(trustees, token, kind, challenge, asked)
    return encrypt_for(trustees.committee, kind, values, pads)


def pads_via_service(
    trustees: Trustees,
    token: str,
    kind: str,
    challenge: str = CHALLENGE,
    asked: list[str] | None = None,
) -> Pads:
    """Ask for pads (of ``asked``, default :attr:`Trustees.asked`), the online trustees answer
    them in their next poll, collect."""
    client, committee = trustees.client, trustees.committee
    request, key, _ = request_pads(client, token, kind, challenge, asked or trustees.asked)
    trustees.step()
    return collect_pads(client, token, committee, request, key, challenge)


def encrypt_split_labels(
    trustees: Trustees, token: str, labels: np.ndarray, mask: np.ndarray
) -> EncryptedBundle:
    """A split challenge's binary labels, one-hot over (part, class) with the secret public
    ``mask`` inside, encrypted with pads from the service."""
    return encrypt_labels(
        split_label_indices(labels, mask, 2),
        trustees.committee.context.public,
        classes=4,
        challenge=CHALLENGE,
        pads=pads_via_service(trustees, token, "labels"),
    )


def make_story_data(committee: Committee) -> dict[str, Any]:
    """Labels, two honest submissions and a weighted (non-binary) one, with numpy's truth.

    Plaintexts only: each party encrypts with pads it asks the service's trustees for."""
    gen = np.random.default_rng(7)
    y = gen.integers(0, 2, N_ITEMS)
    preds: dict[str, Any] = {
        "alice": np.where(gen.random(N_ITEMS) < 0.9, y, 1 - y),
        "bob": np.where(gen.random(N_ITEMS) < 0.7, y, 1 - y),
    }
    truth = {n: int(np.count_nonzero(p == y)) for n, p in preds.items()}
    preds["mallory"] = [np.array([pow(2, i % 20, 1032193) for i in range(N_ITEMS)])]
    return {"labels": y, "predictions": preds, "truth": truth}
