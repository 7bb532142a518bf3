"""The dealerless ceremony's known answers (``dkg.py``, ``dkg.json``) still hold: the same
seeds, plan and keys give byte-identical messages of every kind, and the stored records parse
back, verify and do their job."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.dkg import (
    KINDS,
    ROUNDS,
    CeremonyPlan,
    Completion,
    Hello,
    Reveal,
    SeedFile,
    SeedStatus,
    SignedMessage,
)
from tests.vectors.dkg import dkg_run, dkg_vectors

HERE = Path(__file__).resolve().parent


def _committed() -> dict:
    return json.loads((HERE / "dkg.json").read_text())


def test_ceremony_vectors_are_reproduced():
    """Every pinned value, kind by kind and trustee by trustee (a readable first difference),
    then the whole vector."""
    got, pinned = dkg_vectors(), _committed()
    assert got["plan"] == pinned["plan"], "the plan"
    assert got["seeds"] == pinned["seeds"], "the seeds"
    for kind in ROUNDS:
        for tid, want in pinned["messages"][kind].items():
            assert got["messages"][kind][tid] == want, f"the {kind} of {tid}"
    for name in ("reveal", "seed_file", "key_id", "evaluation_keys", "record"):
        assert got[name] == pinned[name], name
    assert got == pinned


def test_every_kind_is_pinned_for_every_trustee():
    pinned = _committed()
    assert set(pinned["messages"]) == set(ROUNDS) == set(KINDS) - {"reveal"}
    for kind in ROUNDS:
        assert sorted(pinned["messages"][kind]) == ["t1", "t2", "t3"]
    sizes = {kind: pinned["messages"][kind]["t1"]["length"] for kind in ROUNDS}
    assert sizes["contribution"] > 20_000_000 and sizes["completion"] < 1000
    for kind in ("hello", "completion"):
        assert all("record" in v for v in pinned["messages"][kind].values()), kind


def test_stored_records_parse_back_and_verify():
    """The stored plan hashes to its digest; every message stored whole parses under it (its
    signature verifies), re-serializes to the same bytes and has the pinned digest; the
    completions name the pinned key; the reveal carries the pinned seed and the seed file
    opens to it; the record built from the run lists exactly the pinned digests."""
    pinned = _committed()
    plan_bytes = bytes.fromhex(pinned["plan"]["record"])
    plan = CeremonyPlan.from_bytes(plan_bytes)
    assert plan.to_bytes() == plan_bytes and plan.digest == pinned["plan"]["sha256"]
    assert (plan.params.ID, plan.threshold, plan.created_at) == (
        pinned["params"],
        pinned["threshold"],
        pinned["created_at"],
    )
    whole = 0
    for kind in ROUNDS:
        for tid, vector in pinned["messages"][kind].items():
            if "record" not in vector:
                continue
            raw = bytes.fromhex(vector["record"])
            message = SignedMessage.from_bytes(raw, plan)
            assert message.to_bytes() == raw and message.digest == vector["digest"]
            assert (message.kind, message.trustee_id) == (kind, tid)
            if isinstance(message.payload, Completion):
                assert message.payload.key_id == pinned["key_id"]
                assert message.payload.evaluation_keys == pinned["evaluation_keys"]
            if isinstance(message.payload, Hello):
                assert len(message.payload.transport_key) == 32
            whole += 1
    assert whole >= 7  # hellos, completions and t3's confirmation (no test partial)
    reveal = SignedMessage.from_bytes(bytes.fromhex(pinned["reveal"]["record"]), plan)
    assert isinstance(reveal.payload, Reveal)
    assert reveal.payload.seed.hex() == pinned["seeds"]["t1"]
    seed_file = SeedFile.open(
        bytes.fromhex(pinned["seed_file"]["record"]), pinned["seed_file"]["passphrase"].encode()
    )
    assert (seed_file.plan, seed_file.trustee_id, seed_file.status) == (
        plan.digest,
        "t1",
        SeedStatus.ACTIVE,
    )
    assert seed_file.seed.hex() == pinned["seeds"]["t1"]
    record = CeremonyRecord.from_bytes(dkg_run().record.to_bytes())
    assert hashlib.sha256(record.to_bytes()).hexdigest() == pinned["record"]["sha256"]
    assert record.verify_signatures() == 15
    record.check_completions()
    assert {(ROUNDS[m.round - 1], m.trustee_id): m.digest for m in record.transcript} == {
        (kind, tid): v["digest"] for kind in ROUNDS for tid, v in pinned["messages"][kind].items()
    }
