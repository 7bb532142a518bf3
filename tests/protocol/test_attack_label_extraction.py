"""Issue 16's attack, run as an honest participant would, with an honest service: exact
released counts give the labels away, adaptively, submission by submission.

Each test runs a whole challenge in one process (``LocalChallenge``: real pads, threshold
decryption, trustees that follow the log and hold the participant to its quota) and one
identity that only submits and reads its released counts. It recovers labels exactly, at the
rate ``cryptoscore/protocol/leakage.py`` states, within its information bound, up to the
budget the quota and the window allow:

* exact ``confusion``: K−1 labels per submission, every label before the close;
* ``correct``: a baseline, then one item changed per submission — one label per submission for
  K = 3, at least one per K−2 submissions for K = 4.

These tests document that exact policies leak: a policy that adds noise or withholds a private
split (issue 16's other items) is the one that must make them fail. Against a public/private
split (``rules.SplitRule``) the same confusion attack recovers the public labels it probes and
no private one before the close: a service that asks the trustees for a private part early is
refused; after the close the final submission's private part gives at most the stated
``private_attack_labels``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.errors import RefusedError
from cryptoscore.local import LocalChallenge
from cryptoscore.protocol.leakage import LabelLeakage, leakage_of_rules
from cryptoscore.protocol.rules import DAY_MS, SplitRule
from cryptoscore.scoring.encoding import draw_public_mask, split_label_indices
from cryptoscore.scoring.policy import confusion_cell_name
from tests.helpers.committee import Committee

N_ITEMS = 24
SERVICE_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


class Clock:
    """The service's clock (ms), started ``days`` ago: the attacker waits out each day of
    quota by moving it a day on (never past the trustees' own clock)."""

    def __init__(self, days: int) -> None:
        self.now = int(time.time() * 1000) - days * DAY_MS

    def __call__(self) -> int:
        self.now += 1
        return self.now


class Attacker:
    """One enrolled identity that submits predictions and reads its released counts, at most
    ``per_day`` a day (its quota), for ``days`` days (the window)."""

    def __init__(
        self,
        committee,
        tmp_path,
        policy: ReleasePolicy,
        per_day: int,
        days: int,
        public_items: int | None = None,
    ):
        self.clock = Clock(days + 1)
        self.closes = self.clock.now + days * DAY_MS
        split = None if public_items is None else SplitRule(public_items, self.closes)
        rules = committee.rules(
            submissions_per_day=per_day, pad_requests_per_day=per_day, split=split
        )
        context = committee.context("leaky", policy, N_ITEMS, rules)
        self.local: LocalChallenge = committee.local_challenge(
            context, tmp_path, SERVICE_KEY, participants=("eve",), clock=self.clock
        )
        self.classes = policy.classes
        self.labels = np.random.default_rng(16).integers(0, self.classes, N_ITEMS)
        encoded, classes = self.labels, self.classes
        self.public = np.ones(N_ITEMS, dtype=np.bool_)
        if public_items is not None:  # the organizer's secret split, inside the labels
            self.public = draw_public_mask(N_ITEMS, public_items)
            encoded, classes = split_label_indices(self.labels, self.public, classes), 2 * classes
        self.local.upload_labels(
            encrypt_labels(
                encoded,
                context.public,
                classes=classes,
                challenge="leaky",
                pads=self.local.pads("labels"),
            )
        )
        self.last = ""
        opens = datetime.now(UTC)
        self.leakage: LabelLeakage = leakage_of_rules(
            policy, N_ITEMS, rules, opens, opens + timedelta(days=days)
        )
        self.per_day, self.days_left, self.used_today = per_day, days, 0
        self.submissions = 0

    @property
    def budget_left(self) -> bool:
        return self.used_today < self.per_day or self.days_left > 1

    def submit(self, predictions: np.ndarray) -> dict[str, int]:
        """Submit within the quota (waiting a day when today's is used) and read the counts."""
        if self.used_today == self.per_day:
            assert self.days_left > 1, "past the close"
            self.clock.now += DAY_MS
            self.days_left, self.used_today = self.days_left - 1, 0
        bundle = encrypt_predictions(
            predictions,
            self.local.context.public,
            classes=self.classes,
            challenge="leaky",
            pads=self.local.pads("predictions", "eve"),
        )
        assert self.local.submit("eve", bundle) == "released"
        self.last = bundle.digest
        self.used_today += 1
        self.submissions += 1
        return self.local.released()["eve"]


def _probe_predictions(probe: list[int]) -> np.ndarray:
    """Class 0 everywhere but class ``row`` at the ``row``-th probed item (rows from 1): row
    ``row`` of the released confusion matrix holds that item alone, in its label's column."""
    predictions = np.zeros(N_ITEMS, dtype=np.int64)
    for row, item in enumerate(probe, start=1):
        predictions[item] = row
    return predictions


def _hit_columns(cells: dict[str, int], probe: list[int], k: int) -> dict[int, list[int]]:
    """Each probed item's columns holding a 1 in its row (none: outside the released part)."""
    return {
        item: [b for b in range(k) if cells[confusion_cell_name(row, b)] == 1]
        for row, item in enumerate(probe, start=1)
    }


def test_exact_confusion_gives_k_minus_1_labels_per_submission(committee, tmp_path):
    """Predict class 0 everywhere but class k at one unknown item, k = 1..K−1: row k of the
    released matrix holds that item alone, in its label's column. At 4 a day for 2 days, one
    identity has every label before the close, as the leakage statement says."""
    k = 4
    eve = Attacker(committee, tmp_path, ReleasePolicy(k, ("confusion",)), per_day=4, days=2)
    assert eve.leakage.attack_labels == k - 1 and eve.leakage.attack_submissions == 1
    assert eve.leakage.one_identity_recovers_all and eve.leakage.days_for_all == 2
    recovered: dict[int, int] = {}
    unknown = list(range(N_ITEMS))
    while unknown:
        probe, unknown = unknown[: k - 1], unknown[k - 1 :]
        cells = eve.submit(_probe_predictions(probe))
        for item, hits in _hit_columns(cells, probe, k).items():
            (label,) = hits
            recovered[item] = label
        assert len(recovered) == (k - 1) * eve.submissions  # the stated rate, exactly
        assert len(recovered) <= eve.submissions * eve.leakage.labels_per_release_bound
    assert eve.submissions == eve.leakage.submissions_for_all == 8
    assert len(recovered) == eve.leakage.labels_per_identity == N_ITEMS
    assert [recovered[i] for i in range(N_ITEMS)] == eve.labels.tolist()


@pytest.mark.parametrize(("k", "per_day", "days"), [(3, 2, 2), (4, 3, 2)])
def test_exact_correct_gives_a_label_per_changed_item(committee, tmp_path, k, per_day, days):
    """A baseline (class 0 everywhere), then each submission moves one item to one class: the
    released count goes up 1 (that class is its label), down 1 (its label is 0) or stays
    (neither; the last class left is its label). K = 3: one label per submission; K = 4: at
    least one per two. The window's 4 or 6 submissions recover exactly what the statement says
    one identity recovers before the close, or more (it is a worst case)."""
    eve = Attacker(committee, tmp_path, ReleasePolicy(k, ("correct",)), per_day, days)
    stated = eve.leakage
    assert (stated.attack_labels, stated.attack_submissions) == (1, max(1, k - 2))
    assert stated.attack_baseline == 1
    baseline = np.zeros(N_ITEMS, dtype=np.int64)
    reference = eve.submit(baseline)["correct"]
    recovered: dict[int, int] = {}
    for item in range(N_ITEMS):
        candidates = list(range(1, k))  # class 0 is tested by every change of this item
        while len(candidates) > 1 and eve.budget_left:
            tried = candidates.pop(0)
            changed = baseline.copy()
            changed[item] = tried
            moved = eve.submit(changed)["correct"] - reference
            if moved != 0:
                recovered[item] = tried if moved == 1 else 0
                break
        else:
            if len(candidates) == 1:
                recovered[item] = candidates[0]
        probes = eve.submissions - stated.attack_baseline
        assert len(recovered) >= probes // stated.attack_submissions  # the stated worst case
        assert len(recovered) <= eve.submissions * stated.labels_per_release_bound
        if not eve.budget_left:
            break
    assert eve.submissions == stated.submissions_per_identity == per_day * days
    assert len(recovered) >= stated.labels_per_identity
    if k == 3:
        assert len(recovered) == stated.labels_per_identity == eve.submissions - 1
    assert all(recovered[i] == eve.labels[i] for i in recovered)


def test_split_confusion_gives_public_labels_only_before_the_close(committee, tmp_path):
    """The exact-confusion attack against a split (8 of 24 items public, secretly): each probe
    of a public item gives its label, each probe of a private one only that it is private
    (its row comes back empty). Every label recovered before the close is a public one — all
    8, as stated — and none of the 16 private ones. A service that asks the trustees for the
    private part of the attacker's submission before the close is refused; after the close
    the final submission's private part gives at most the stated ``private_attack_labels``."""
    k, public_items = 4, 8
    eve = Attacker(
        committee,
        tmp_path,
        ReleasePolicy(k, ("confusion",)),
        per_day=4,
        days=2,
        public_items=public_items,
    )
    stated = eve.leakage
    assert stated.public_items == public_items and stated.labels_per_identity == public_items
    assert not stated.one_identity_recovers_all and len(stated.statement()) == 3
    recovered: dict[int, int] = {}
    private_seen: set[int] = set()
    unknown = list(range(N_ITEMS))
    probe: list[int] = []
    while unknown:
        probe, unknown = unknown[: k - 1], unknown[k - 1 :]
        cells = eve.submit(_probe_predictions(probe))
        for item, hits in _hit_columns(cells, probe, k).items():
            if hits:
                recovered[item] = hits[0]
            else:
                private_seen.add(item)
        assert len(recovered) <= eve.submissions * stated.labels_per_release_bound
    public_labels = {i: int(eve.labels[i]) for i in range(N_ITEMS) if eve.public[i]}
    assert recovered == public_labels  # every public label, exactly
    assert private_seen == {i for i in range(N_ITEMS) if not eve.public[i]}  # membership only
    assert len(recovered) == stated.labels_per_identity == public_items
    with pytest.raises(RefusedError):  # no private label before the close, whoever asks
        eve.local.release_private(eve.last, "leaky:private:early")
    eve.clock.now = eve.closes + 1
    final = eve.local.close()["eve"]
    assert list(final) == [eve.last]  # the last valid submission, by default
    cells = final[eve.last]
    private_labels = {
        item: hits[-1] for item, hits in _hit_columns(cells, probe, k).items() if hits
    }
    assert all(not eve.public[i] and eve.labels[i] == b for i, b in private_labels.items())
    assert len(private_labels) <= stated.private_attack_labels == k - 1
