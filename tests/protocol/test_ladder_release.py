"""A challenge under the Ladder, whole, in one process (``LocalChallenge``): the log and the
public audit bundle show only laddered counts and commitments, the restricted bundle opens
them, and the verifier checks every ladder decision (docs/design.md, "Ladder")."""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cryptoscore.local
from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions, verify_bundle
from cryptoscore.envelope import canonical_json
from cryptoscore.protocol.ladder import LadderRule, ladder_sequence
from cryptoscore.protocol.rules import SplitRule
from cryptoscore.scoring.encoding import draw_public_mask, split_label_indices
from tests.helpers.committee import Committee
from tests.helpers.lying_trustee import LyingAgent

N_ITEMS = 30
MARGIN = 3
POLICY = ReleasePolicy(2, ("correct", "errors"))
SERVICE_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


def exact(predictions: np.ndarray, labels: np.ndarray) -> dict[str, int]:
    correct = int((predictions == labels).sum())
    return {"correct": correct, "errors": len(labels) - correct}


class Ladder:
    """A challenge of 30 binary items, margin 3, with ``participants``; labels uploaded."""

    def __init__(self, committee, tmp_path, participants=("alice", "bob"), margin=MARGIN):
        rules = committee.rules(ladder=None if margin is None else LadderRule(margin))
        context = committee.context("ladder", POLICY, N_ITEMS, rules)
        self.local = committee.local_challenge(
            context, tmp_path, SERVICE_KEY, participants=participants
        )
        self.labels = np.random.default_rng(3).integers(0, 2, N_ITEMS)
        self.local.upload_labels(
            encrypt_labels(
                self.labels,
                context.public,
                classes=2,
                challenge="ladder",
                pads=self.local.pads("labels"),
            )
        )
        self.tmp = tmp_path

    def submit(self, name: str, right: int, outcome: str = "released") -> dict[str, int]:
        """``name`` submits predictions with exactly ``right`` items right (the submission ends
        ``outcome``); their exact values."""
        predictions = self.labels.copy()
        predictions[right:] = 1 - predictions[right:]
        bundle = encrypt_predictions(
            predictions,
            self.local.context.public,
            classes=2,
            challenge="ladder",
            pads=self.local.pads("predictions", name),
        )
        assert self.local.submit(name, bundle) == outcome
        return exact(predictions, self.labels)

    def export(self, restricted: bool) -> Path:
        path = self.tmp / ("restricted.zip" if restricted else "public.zip")
        self.local.export_audit_bundle(path, restricted=restricted)
        return path

    def entries(self) -> list[dict]:
        return [json.loads(raw) for raw in self.local.transcript.entries]


ALICE = [20, 22, 25, 23, 30]  # exact correct counts, in order
BOB = [10, 14]


@pytest.fixture(scope="module")
def played(committee, tmp_path_factory):
    lad = Ladder(committee, tmp_path_factory.mktemp("ladder"))
    values = {"alice": [lad.submit("alice", c) for c in ALICE]}
    values["bob"] = [lad.submit("bob", c) for c in BOB]
    return lad, values


def test_the_log_shows_the_ladder_of_each_participants_exact_counts(played):
    lad, values = played
    shown = [e["values"] for e in lad.entries() if e["type"] == "ladder_release"]
    want_alice = ladder_sequence(ALICE, MARGIN, N_ITEMS)
    want_bob = ladder_sequence(BOB, MARGIN, N_ITEMS)
    assert want_alice == [21, 21, 24, 24, 30] and want_bob == [9, 15]
    assert shown == [{"correct": s} for s in want_alice + want_bob]
    assert not [e for e in lad.entries() if e["type"] in ("release", "part_release")]
    # the service (the combiner) decrypted the exact values, numpy's
    assert lad.local.released()["alice"] == values["alice"][-1]
    assert lad.local.shown() == {"alice": 30, "bob": 15}


def test_the_leaderboard_ranks_by_shown_counts_and_names_the_ladder(played):
    lad, _ = played
    board = lad.local.transcript.leaderboard(POLICY, view="best")
    assert [(r["participant"], r["values"], r["rank"]) for r in board] == [
        ("alice", {"correct": 30}, 1),
        ("bob", {"correct": 15}, 2),
    ]
    assert all(r["release"] == "ladder" for r in board)


def _exact_fragments(values: dict[str, list[dict[str, int]]]) -> list[bytes]:
    """Every exact release as the log would spell it, where it differs from the shown."""
    out = []
    for counts in values.values():
        for v in counts:
            out.append(canonical_json(v))  # {"correct":c,"errors":e}
            out.append(f'"errors":{v["errors"]}'.encode())
    return out


def _public_leaks(path: Path, values: dict[str, list[dict[str, int]]]) -> list[str]:
    """What of the exact values a bundle holds: their spelling anywhere in it, or round-2
    partials (which combine to them)."""
    found = []
    with zipfile.ZipFile(path) as zf:
        raw = b"".join(zf.read(name) for name in zf.namelist())
        names = zf.namelist()
        entries = [json.loads(line) for line in zf.read("log.jsonl").splitlines()]
    found += [f.decode() for f in _exact_fragments(values) if f in raw]
    round2 = {e["request_id"] for e in entries if e["type"] in ("release", "ladder_release")}
    found += [
        f"partial {e['partial'][:8]}"
        for e in entries
        if e["type"] == "partial" and e["request_id"] in round2 and f"blobs/{e['partial']}" in names
    ]
    return found


def test_the_public_bundle_holds_no_exact_value(played):
    lad, values = played
    assert _public_leaks(lad.export(restricted=False), values) == []
    # the restricted bundle (organizer, designated auditor) holds them: the search finds them
    assert _public_leaks(lad.export(restricted=True), values)


def test_without_the_guard_the_bundle_gives_exact_values_away(committee, tmp_path):
    """The same search against a challenge releasing exact values (the guard off) finds
    every one of them, in the log and in the partials: the search can fail."""
    lad = Ladder(committee, tmp_path, participants=("alice",), margin=None)
    values = {"alice": [lad.submit("alice", c) for c in (20, 22)]}
    leaks = _public_leaks(lad.export(restricted=False), values)
    assert '"errors":10' in leaks and '"errors":8' in leaks
    assert sum(leak.startswith("partial") for leak in leaks) == 2 * 2  # t partials each


def test_the_verifier_checks_every_ladder_decision(played):
    lad, _ = played
    report = verify_bundle(lad.export(restricted=True))
    assert report.complete, report.first_failure
    detail = {c.name: c.detail for c in report.checks}["ladder"]
    assert "each commitment opens" in detail
    public = verify_bundle(lad.export(restricted=False))
    assert public.complete, public.first_failure
    detail = {c.name: c.detail for c in public.checks}["ladder"]
    assert "not checked without the restricted bundle" in detail
    assert "the partials of 7 score requests" in detail


def _rewrite(path: Path, name: str, data: bytes) -> Path:
    out = path.with_name("tampered-" + path.name)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for member in src.namelist():
            dst.writestr(member, data if member == name else src.read(member))
    return out


def test_the_verifier_catches_a_commitment_that_does_not_open(played):
    lad, _ = played
    path = lad.export(restricted=True)
    with zipfile.ZipFile(path) as zf:
        openings = json.loads(zf.read("ladder.json"))
    openings[1]["nonce"] = "00" * 32
    report = verify_bundle(_rewrite(path, "ladder.json", canonical_json(openings)))
    failure = report.first_failure
    assert failure is not None and failure.name == "ladder"
    assert "commitment does not open" in failure.detail
    # an opening to other values than the partials combine to fails before
    openings = json.loads(zipfile.ZipFile(path).read("ladder.json"))
    openings[1]["values"] = {"correct": 29, "errors": 1}
    report = verify_bundle(_rewrite(path, "ladder.json", canonical_json(openings)))
    assert report.first_failure is not None and report.first_failure.name == "release-values"


def test_the_verifier_catches_a_wrong_shown_value(committee, tmp_path, monkeypatch):
    """A service that shows more than the Ladder gives (a rise below the margin): the
    restricted audit names it; the public one sees an off-grid step."""
    decide = cryptoscore.local.ladder_decision

    def generous(context, previous, request_id, values):
        decision = decide(context, previous, request_id, values)
        return replace(decision, shown=previous + 1) if previous is not None else decision

    lad = Ladder(committee, tmp_path, participants=("alice",))
    lad.submit("alice", 21)
    monkeypatch.setattr(cryptoscore.local, "ladder_decision", generous)
    lad.submit("alice", 22)
    report = verify_bundle(lad.export(restricted=True))
    failure = report.first_failure
    assert failure is not None and failure.name == "ladder"
    assert "shows 22, the Ladder shows 21" in failure.detail
    public = verify_bundle(lad.export(restricted=False))
    assert public.first_failure is not None and public.first_failure.name == "ladder"


def test_a_split_challenge_ladders_its_public_part(committee, tmp_path):
    """With a split the Ladder counts over the public part (margin in its counts); the
    entries name the part; the audit passes."""
    public_items = 12
    rules = committee.rules(ladder=LadderRule(2), split=SplitRule(public_items, 1 << 50, 1))
    context = committee.context("ladder", POLICY, N_ITEMS, rules)
    local = committee.local_challenge(context, tmp_path, SERVICE_KEY, participants=("alice",))
    labels = np.random.default_rng(5).integers(0, 2, N_ITEMS)
    mask = draw_public_mask(N_ITEMS, public_items)
    local.upload_labels(
        encrypt_labels(
            split_label_indices(labels, mask, 2),
            context.public,
            classes=4,
            challenge="ladder",
            pads=local.pads("labels"),
        )
    )
    counts = []
    for seed in (1, 2, 3):
        predictions = np.random.default_rng(seed).integers(0, 2, N_ITEMS)
        bundle = encrypt_predictions(
            predictions,
            context.public,
            classes=2,
            challenge="ladder",
            pads=local.pads("predictions", "alice"),
        )
        assert local.submit("alice", bundle) == "released"
        counts.append(int((predictions[mask] == labels[mask]).sum()))
    entries = [json.loads(raw) for raw in local.transcript.entries]
    laddered = [e for e in entries if e["type"] == "ladder_release"]
    assert [e["values"]["correct"] for e in laddered] == ladder_sequence(counts, 2, public_items)
    assert {e["part"] for e in laddered} == {"public"}
    path = tmp_path / "audit.zip"
    local.export_audit_bundle(path, restricted=True)
    report = verify_bundle(path)
    assert report.ok, report.first_failure


def test_a_forced_dispute_gives_no_exact_value_away(committee, tmp_path):
    """A trustee colluding with a participant shifts its `correct` by a known k: the combined
    values break correct + errors = n and the release is disputed. The public dispute entry
    names the invariant only, so the participant cannot subtract k from a logged value to
    read its exact count; the verifier still re-derives the dispute from the restricted
    bundle's partials."""
    k, right = 5, 17
    lad = Ladder(committee, tmp_path, participants=("mallory",))
    trustees = lad.local.trustees
    honest = trustees["trustee-1"].agent
    liar = LyingAgent(honest.share, honest.identity, honest.journal_path, say=honest.say)
    trustees["trustee-1"].agent = liar
    liar.lies = {"correct": k}
    assert lad.submit("mallory", right, "disputed") == {"correct": right, "errors": N_ITEMS - right}
    (dispute,) = [e for e in lad.entries() if e["type"] == "dispute"]
    assert dispute["invariant"] == "correct-plus-errors"
    # the attack: every number the public entry carries, minus the known shift
    read = {int(x) - k for x in re.findall(r"-?\d+", json.dumps(dispute))}
    assert right not in read
    assert not re.search(r"\d", dispute["reason"])
    assert not re.search(r"\d", lad.local.disputed()["mallory"])
    report = verify_bundle(lad.export(restricted=True))
    assert report.first_failure is None, report.first_failure
