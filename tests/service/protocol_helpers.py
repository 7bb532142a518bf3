"""A whole challenge over the Flask test client: ceremony, parties, and trustees that act
exactly as ``trustee run`` does (poll tasks, contribute, download, recompute, answer)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask
from flask.testing import FlaskClient
from svc_helpers import API, CeremonyFiles, bearer, challenge_meta, post_challenge

from cryptoscore import (
    BFV8192,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    raw_encrypt_vectors,
)
from cryptoscore.bundle import EncryptedBundle
from cryptoscore.ceremony import KeyShare, RosterEntry, open_share_file, run_ceremony
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.release import ChallengeContext, DecryptionRequest, answer_request, contribute
from cryptoscore.threshold import PartialJournal
from service.auth import create_token
from service.db import get_session
from service.jobs import drain

CHALLENGE = "e2e-binary"
N_ITEMS = 300
POLICY = ReleasePolicy(2, ("correct", "errors"))
OCTETS = "application/octet-stream"


@dataclass
class Committee:
    files: CeremonyFiles
    context: ChallengeContext
    shares: dict[str, KeyShare]
    identities: dict[str, TrusteeIdentity]


def make_committee() -> Committee:
    identities = {f"t{i}": TrusteeIdentity.generate() for i in range(3)}
    roster = [
        RosterEntry(tid, i + 1, ident.public_key)
        for i, (tid, ident) in enumerate(identities.items())
    ]
    passphrases = {tid: b"passphrase-" + tid.encode() for tid in identities}
    result = run_ceremony(BFV8192, roster, 2, passphrases)
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


def upload(client: FlaskClient, token: str, what: str, bundle: EncryptedBundle | bytes) -> Any:
    data = bundle.to_bytes() if isinstance(bundle, EncryptedBundle) else bundle
    return client.post(
        f"{API}/challenges/{CHALLENGE}/{what}",
        data=data,
        content_type=OCTETS,
        headers=bearer(token),
    )


@dataclass
class Trustees:
    """The online trustees of a committee, acting over HTTP."""

    client: FlaskClient
    committee: Committee
    tokens: dict[str, str]
    journal_dir: Path
    online: tuple[str, ...]
    answered: list[str] = field(default_factory=list)

    def step(self) -> int:
        """One poll of every online trustee; returns how many messages they posted."""
        posted = 0
        for tid in self.online:
            headers = bearer(self.tokens[tid])
            tasks = self.client.get(f"{API}/trustee/tasks", headers=headers).get_json()
            for task in tasks["contributions"]:
                c = contribute(self.committee.context, tid)
                body = {
                    "challenge": task["challenge"],
                    "bundle": task["bundle"],
                    "randomness": c.randomness.hex(),
                }
                response = self.client.post(
                    f"{API}/trustee/contributions", json=body, headers=headers
                )
                if response.status_code == 201:
                    posted += 1
            for task in tasks["requests"]:
                request = DecryptionRequest.from_bytes(base64.b64decode(task["request"]))
                bundles = {}
                for digest in request.inputs:
                    got = self.client.get(
                        f"{API}/challenges/{task['challenge']}/bundles/{digest}", headers=headers
                    )
                    assert got.status_code == 200
                    bundles[digest] = EncryptedBundle.from_bytes(got.data)
                with PartialJournal(self.journal_dir / f"{tid}.journal") as journal:
                    partial = answer_request(
                        request,
                        self.committee.context,
                        bundles,
                        self.committee.shares[tid],
                        self.committee.identities[tid],
                        journal,
                    )
                response = self.client.post(
                    f"{API}/trustee/partials",
                    data=partial.to_bytes(),
                    content_type=OCTETS,
                    headers=headers,
                )
                assert response.status_code == 201, response.get_json()
                self.answered.append(request.request_id)
                posted += 1
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


def make_story_data(committee: Committee) -> dict[str, Any]:
    """Labels, two honest submissions and a weighted (non-binary) one, with numpy's truth."""
    gen = np.random.default_rng(7)
    y = gen.integers(0, 2, N_ITEMS)
    public = committee.context.public
    preds = {
        "alice": np.where(gen.random(N_ITEMS) < 0.9, y, 1 - y),
        "bob": np.where(gen.random(N_ITEMS) < 0.7, y, 1 - y),
    }
    bundles = {
        name: encrypt_predictions(p, public, classes=2, challenge=CHALLENGE)
        for name, p in preds.items()
    }
    weighted = [np.array([pow(2, i % 20, 1032193) for i in range(N_ITEMS)])]
    bundles["mallory"] = raw_encrypt_vectors(
        "predictions", weighted, public, classes=2, n=N_ITEMS, challenge=CHALLENGE
    )
    return {
        "labels": encrypt_labels(y, public, classes=2, challenge=CHALLENGE),
        "bundles": bundles,
        "truth": {n: int(np.count_nonzero(p == y)) for n, p in preds.items()},
    }
