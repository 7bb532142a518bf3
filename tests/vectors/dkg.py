"""Known answers for the dealerless ceremony's messages (``threshold/dkg/``).

One tiny deterministic ceremony without PRSS keys (a version 1 plan: the format these vectors
pinned before PRSS keys existed, which must still be produced and read byte for byte):
bfv-8192, 2 of 3 (t1, t2, t3, the fixed Ed25519 keys of
``streams.trustee_identity``), the plan's nonce and every trustee's seed drawn from
:class:`Stream` (test-only), ``created_at`` fixed. Every message is a deterministic function of
its trustee's seed, the plan and the earlier messages (``randomness.seeded_stream`` with one
label per purpose; Ed25519 signatures are deterministic, RFC 8032), so the vector pins:

* the plan's bytes (whole) and digest, the seeds;
* per trustee, each round's message — hello, contribution, response, confirmation,
  completion — by its digest (SHA-256 of the record without its signature: what the ceremony
  record lists), the SHA-256 and length of its bytes, and its signature; records of at most
  :data:`WHOLE` bytes (hellos, completions, the confirmation without a test partial) whole;
* a reveal (t1's, as it would be sent on an abort) and t1's seed file (ACTIVE, sealed under a
  fixed passphrase with a fixed salt and nonce), whole;
* the collective key's id, the evaluation keys' digest and the ceremony record's digest and
  length.

Big bodies (contributions ≈ 21 MB, responses, test partials) are pinned by SHA-256 only. Any
change to a message format, a stream label, the seeded-stream derivation, the key assembly or
the record changes a pinned value (``test_dkg_vectors.py``). Built once per process by
:func:`dkg_run`; :func:`dkg_vectors` is what ``generate.py`` writes to ``dkg.json``.
"""

from __future__ import annotations

import functools
import hashlib
from typing import NamedTuple

from cryptoscore.params import BFV8192
from cryptoscore.threshold.ceremony import CeremonyRecord, RosterEntry
from cryptoscore.threshold.dkg import (
    ROUNDS,
    CeremonyPlan,
    DkgTrustee,
    SeedFile,
    SeedStatus,
    SignedMessage,
    Transcript,
    new_seed,
)
from cryptoscore.threshold.dkg.plan import LEGACY_PLAN_VERSION
from tests.vectors.streams import Stream, trustee_identity

CREATED_AT = "2026-12-07T00:00:00Z"
TRUSTEES = ("t1", "t2", "t3")
THRESHOLD = 2
SEED_FILE_PASSPHRASE = b"passphrase of t1"
WHOLE = 2048
"""Messages of at most this many bytes are stored whole (hex)."""


class DkgRun(NamedTuple):
    plan: CeremonyPlan
    seeds: dict[str, bytes]
    transcript: Transcript
    record: CeremonyRecord
    reveal: SignedMessage
    seed_file: bytes


@functools.cache
def dkg_run() -> DkgRun:
    """The ceremony (module docstring), every round in index order, as ``inprocess`` runs it."""
    identities = {tid: trustee_identity(i) for i, tid in enumerate(TRUSTEES, start=1)}
    roster = [
        RosterEntry(tid, i, identities[tid].public_key) for i, tid in enumerate(TRUSTEES, start=1)
    ]
    plan = CeremonyPlan.create(
        BFV8192,
        roster,
        THRESHOLD,
        created_at=CREATED_AT,
        rng=Stream("dkg/plan"),
        version=LEGACY_PLAN_VERSION,
    )
    seed_stream = Stream("dkg/seeds")
    seeds = {tid: new_seed(rng=seed_stream) for tid in TRUSTEES}
    trustees = [DkgTrustee(plan, tid, identities[tid], seeds[tid]) for tid in TRUSTEES]
    transcript = Transcript(plan)
    for kind in ROUNDS:
        for trustee in trustees:
            transcript.add(
                {
                    "hello": trustee.hello,
                    "contribution": lambda t=trustee: t.contribute(transcript),
                    "response": lambda t=trustee: t.respond(transcript),
                    "confirmation": lambda t=trustee: t.confirm(transcript),
                    "completion": lambda t=trustee: t.complete(transcript),
                }[kind]()
            )
    record = transcript.check_transcript(created_at=plan.created_at)
    reveal = DkgTrustee(plan, "t1", identities["t1"], seeds["t1"]).reveal()
    seed_file = SeedFile(BFV8192, plan.digest, "t1", SeedStatus.ACTIVE, seeds["t1"]).seal(
        SEED_FILE_PASSPHRASE, rng=Stream("dkg/seed-file")
    )
    return DkgRun(plan, seeds, transcript, record, reveal, seed_file)


def _message(message: SignedMessage) -> dict[str, object]:
    raw = message.to_bytes()
    out: dict[str, object] = {
        "digest": message.digest,
        "length": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "signature": message.signature.hex(),
    }
    if len(raw) <= WHOLE:
        out["record"] = raw.hex()
    return out


def dkg_vectors() -> dict[str, object]:
    run = dkg_run()
    plan_bytes = run.plan.to_bytes()
    messages: dict[str, dict[str, object]] = {}
    for kind in ROUNDS:
        messages[kind] = {}
        for message in run.transcript.messages(kind):
            messages[kind][message.trustee_id] = _message(message)
    record = run.record.to_bytes()
    return {
        "params": run.plan.params.ID,
        "threshold": run.plan.threshold,
        "created_at": CREATED_AT,
        "plan": {"record": plan_bytes.hex(), "sha256": run.plan.digest},
        "seeds": {tid: seed.hex() for tid, seed in run.seeds.items()},
        "messages": messages,
        "reveal": _message(run.reveal),
        "seed_file": {
            "passphrase": SEED_FILE_PASSPHRASE.decode(),
            "record": run.seed_file.hex(),
            "sha256": hashlib.sha256(run.seed_file).hexdigest(),
        },
        "key_id": run.record.key_id,
        "evaluation_keys": run.record.evaluation_keys,
        "record": {"length": len(record), "sha256": run.record.digest},
    }
