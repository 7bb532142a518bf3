"""A lying trustee against the release invariants (open issue 14; docs/design.md, "Release
invariants"), through a whole local challenge: trustee-1 answers round 1 honestly and then adds
Δ·k to coefficients of its round-2 partials (``tests/helpers/lying_trustee.py``). Its
signature is valid, the score recomputes, and the logged partials re-combine to the same wrong
numbers: only the arithmetic every honest release obeys can notice.

* one released count shifted → disputed (correct + errors ≠ n), nothing released, the
  verifier re-derives the dispute and accepts it as not released;
* one confusion cell shifted → disputed (the cells no longer sum to n);
* a shift that keeps every sum but moves items between labels → disputed by the label
  histogram the first release fixed;
* a consistent lie (correct + k, errors − k, and the matching cells) → released wrong: the
  documented limit of invariants alone.
"""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import cryptoscore.protocol.release as release_module
from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.errors import FormatError, InconsistentReleaseError
from cryptoscore.identity import Identity
from cryptoscore.local import LocalChallenge
from cryptoscore.protocol.release import ReleaseState, SubmissionRelease
from cryptoscore.transparency.entries import parse_entry
from cryptoscore.verify import verify_bundle
from tests.helpers.committee import Committee
from tests.helpers.lying_trustee import LyingAgent

N_ITEMS = 240
CHALLENGE = "lying-trustee"
POLICY = ReleasePolicy(2, ("correct", "errors", "confusion"))
LIAR = "trustee-1"  # in every active set: the first t online trustees in roster order


def _truth(p: np.ndarray, y: np.ndarray) -> dict[str, int]:
    values = {"correct": int(np.count_nonzero(p == y)), "errors": int(np.count_nonzero(p != y))}
    for a in range(2):
        for b in range(2):
            values[f"confusion:{a}:{b}"] = int(np.count_nonzero((p == a) & (y == b)))
    return values


class Setting:
    def __init__(self, tmp, *, first_lie: dict[str, int] | None = None) -> None:
        self.committee = Committee(2, 3)
        self.context = self.committee.context(CHALLENGE, POLICY, N_ITEMS)
        trustees = self.committee.local_trustees(tmp)
        honest = trustees[LIAR].agent
        self.liar = LyingAgent(honest.share, honest.identity, honest.journal_path, say=honest.say)
        trustees[LIAR].agent = self.liar
        self.local = LocalChallenge(
            self.context, trustees, Ed25519PrivateKey.generate(), self.committee.organizer
        )
        gen = np.random.default_rng(14)
        self.y = gen.integers(0, 2, N_ITEMS)
        self.gen = gen
        self.local.upload_labels(
            encrypt_labels(
                self.y,
                self.context.public,
                classes=2,
                challenge=CHALLENGE,
                pads=self.local.pads("labels"),
            )
        )
        self.truth: dict[str, dict[str, int]] = {}
        # the first release fixes the label histogram: honest unless the test says otherwise
        self.submit("first", first_lie or {})
        self.path = tmp / "audit.zip"

    def submit(self, name: str, lies: dict[str, int]) -> str:
        self.local.enrol(name, Identity.generate())
        p = np.where(self.gen.random(N_ITEMS) < 0.75, self.y, 1 - self.y)
        self.truth[name] = _truth(p, self.y)
        bundle = encrypt_predictions(
            p,
            self.context.public,
            classes=2,
            challenge=CHALLENGE,
            pads=self.local.pads("predictions", name),
        )
        self.liar.lies = dict(lies)
        try:
            return self.local.submit(name, bundle)
        finally:
            self.liar.lies = {}

    def audit(self):
        self.local.export_audit_bundle(self.path)
        return verify_bundle(self.path)

    def entries(self, kind: str) -> list[dict]:
        with zipfile.ZipFile(self.path) as zf:
            lines = zf.read("log.jsonl").splitlines()
        return [e for e in map(parse_entry, lines) if e["type"] == kind]


@pytest.fixture(scope="module")
def setting(tmp_path_factory) -> Setting:
    s = Setting(tmp_path_factory.mktemp("lying"))
    assert s.local.released()["first"] == s.truth["first"]
    s.outcomes = {  # type: ignore[attr-defined]
        "count": s.submit("count", {"correct": 5}),
        "cell": s.submit("cell", {"confusion:0:1": 3}),
        "histogram": s.submit(
            "histogram", {"confusion:1:1": 4, "confusion:1:0": -4, "correct": 4, "errors": -4}
        ),
        "consistent": s.submit(
            "consistent", {"correct": 3, "errors": -3, "confusion:1:1": 3, "confusion:0:1": -3}
        ),
    }
    s.report = s.audit()  # type: ignore[attr-defined]
    return s


def test_a_shifted_count_is_disputed_and_nothing_released(setting):
    """correct + 5: signature valid, ciphertext recomputes — but correct + errors ≠ n."""
    assert setting.liar.lied, "the liar answered a score"
    assert setting.outcomes["count"] == ReleaseState.DISPUTED.value
    assert "count" not in setting.local.released()
    reason = setting.local.disputed()["count"]
    assert reason.startswith("correct-plus-errors: ")
    want = setting.truth["count"]
    assert f"{want['correct'] + 5} + {want['errors']}" in reason
    sub = setting.local.submissions["count"]
    assert sub.released == {} and sub.invariant == "correct-plus-errors"


def test_a_shifted_confusion_cell_is_disputed(setting):
    assert setting.outcomes["cell"] == ReleaseState.DISPUTED.value
    assert setting.local.submissions["cell"].invariant == "confusion-total"
    assert "cell" not in setting.local.released()


def test_moving_items_between_labels_breaks_the_fixed_histogram(setting):
    """Every sum of the release holds (n, correct = diagonal, errors = off-diagonal); only the
    label counts differ from the first release's."""
    assert setting.outcomes["histogram"] == ReleaseState.DISPUTED.value
    assert setting.local.submissions["histogram"].invariant == "label-histogram"


def test_a_consistent_lie_is_released_wrong(setting):
    """The limit of invariants alone: correct + 3, errors − 3 and the matching confusion cells
    keep every sum and the label histogram, so the wrong numbers are released. Robust
    reconstruction (more than t partials, naming the trustee whose answer disagrees) is what
    closes this; until then SECURITY.md says a consistent lie goes through."""
    assert setting.outcomes["consistent"] == ReleaseState.RELEASED.value
    released = setting.local.released()["consistent"]
    truth = setting.truth["consistent"]
    assert released["correct"] == truth["correct"] + 3
    assert released["errors"] == truth["errors"] - 3
    assert released != truth


def test_the_log_records_each_dispute_without_values(setting):
    disputes = {e["invariant"] for e in setting.entries("dispute")}
    assert disputes == {"correct-plus-errors", "confusion-total", "label-histogram"}
    for e in setting.entries("dispute"):
        assert "values" not in e and e["reason"].startswith(e["invariant"] + ": ")
    released = {e["predictions"] for e in setting.entries("release")}
    assert len(released) == 2  # first and the consistent lie


def test_the_verifier_accepts_the_disputes_as_not_released(setting):
    report = setting.report
    assert report.ok, report.first_failure
    assert report.complete, report.in_progress
    detail = {c.name: c.detail for c in report.checks}["release-invariants"]
    assert detail.startswith("2 releases meet the release invariants; 3 disputed")


def test_disputed_submissions_are_not_ranked(setting):
    with zipfile.ZipFile(setting.path) as zf:
        rows = json.loads(zf.read("leaderboard.json"))
    assert len(rows) == 2
    disputed = {e["predictions"] for e in setting.entries("dispute")}
    assert not disputed & {r["submission"] for r in rows}


def test_a_lie_in_the_first_release_disputes_the_honest_ones_after_it(tmp_path):
    """The first release fixes the label histogram, so a first release lied in consistently
    (every sum kept, items moved between labels) makes every later honest release disputed:
    the lie does not go unnoticed, it shows as a dispute of everyone after it."""
    s = Setting(
        tmp_path, first_lie={"confusion:1:1": 2, "confusion:1:0": -2, "correct": 2, "errors": -2}
    )
    assert s.local.released()["first"] != s.truth["first"]
    assert s.submit("honest", {}) == ReleaseState.DISPUTED.value
    assert s.local.submissions["honest"].invariant == "label-histogram"
    report = s.audit()
    assert report.ok, report.first_failure


def test_restore_re_derives_the_dispute_from_the_partials(setting):
    """Nobody sets ``disputed`` (or ``released``) from outside: ``restore`` recombines."""
    local, ctx = setting.local, setting.context
    fixed = local.ledger.label_histogram(local.labels.bundle.digest)
    disputed = local.submissions["count"]
    snap = disputed.snapshot()
    assert snap.state == ReleaseState.DISPUTED and snap.reason.startswith("correct-plus-errors")
    back = SubmissionRelease.restore(
        ctx, disputed.predictions, disputed.labels, snap, fixed_histogram=fixed
    )
    assert back.state == ReleaseState.DISPUTED and back.reason == disputed.reason
    with pytest.raises(FormatError, match="claims released, its partials say disputed"):
        SubmissionRelease.restore(
            ctx,
            disputed.predictions,
            disputed.labels,
            dataclasses.replace(snap, state=ReleaseState.RELEASED),
            fixed_histogram=fixed,
        )
    honest = local.submissions["first"]
    with pytest.raises(FormatError, match="claims disputed, its partials say released"):
        SubmissionRelease.restore(
            ctx,
            honest.predictions,
            honest.labels,
            dataclasses.replace(honest.snapshot(), state=ReleaseState.DISPUTED, released={}),
            fixed_histogram=fixed,
        )


def test_the_verifier_fails_a_release_that_breaks_an_invariant(tmp_path, monkeypatch):
    """A service that skips the check releases the lie; the auditor's release-invariants
    check names the invariant and the values."""
    s = Setting(tmp_path)
    monkeypatch.setattr(release_module, "check_release", lambda *args, **kwargs: None)
    assert s.submit("count", {"correct": 5}) == ReleaseState.RELEASED.value
    report = s.audit()
    failure = report.first_failure
    assert failure is not None and failure.name == "release-invariants"
    assert "released values break correct-plus-errors: correct + errors = " in failure.detail


def test_the_verifier_fails_a_dispute_of_consistent_values(tmp_path, monkeypatch):
    """A service cannot hide an honest score by calling it disputed."""
    s = Setting(tmp_path)

    def always(values, policy, n, fixed=None, **_noise):
        raise InconsistentReleaseError("count-range", "made up", dict(values))

    monkeypatch.setattr(release_module, "check_release", always)
    assert s.submit("hidden", {}) == ReleaseState.DISPUTED.value
    report = s.audit()
    failure = report.first_failure
    assert failure is not None and failure.name == "release-invariants"
    assert "meet every release invariant: it should have been released" in failure.detail
