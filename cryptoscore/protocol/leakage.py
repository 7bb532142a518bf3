"""What a challenge's released counts can tell its participants about the labels.

Released counts are exact functions of the hidden labels, so a participant who chooses its
predictions adaptively learns labels from them (issue 16). For a challenge's release policy,
item count, classes, daily quota, window and enrolment, :func:`label_leakage` states:

* **the information bound** — one release is one of at most ``outcomes`` values, so it carries
  at most ``log2(outcomes)`` bits, i.e. ``log2(outcomes) / log2(K)`` labels' worth. ``correct``
  and ``errors`` (``errors = n − correct``) take n + 1 values. A confusion matrix is a K×K
  table of counts whose row sums the submitter knows (it chose the predictions): row ``a`` is
  one of ``C(r_a + K − 1, K − 1)`` splits of its ``r_a`` items, and the product over rows is
  largest with the rows as equal as they can be (``log C(r + K − 1, K − 1)`` is concave in
  ``r``). No attack recovers all n labels in fewer than ``n·log2(K) / bits`` releases.
* **the demonstrated attack** — what ``tests/protocol/test_attack_label_extraction.py`` does
  through a whole challenge:

  - ``confusion``: predict class 0 everywhere but class k at one unknown item for each
    k = 1..K−1; row k of the released matrix holds that one item, in the column of its label:
    **K−1 labels per submission**, no baseline needed;
  - ``correct``/``errors``: one baseline submission (class 0 everywhere), then each
    submission changes one item's prediction to one class against that known baseline: the
    count moves by +1 (the label is the new class), −1 (it was class 0) or 0 (neither). That
    settles one item per submission when K ≤ 3; for K > 3 a label takes up to K−2 submissions
    (the last class left is the label): **one label per max(1, K−2) submissions**, worst case.

* **the consequences at the quota** — one identity may submit ``submissions_per_day`` times in
  any 24 hours of the log (``trustee/input_rules.py``), so over the window it has
  ``submissions_per_day · ⌈window / 24 h⌉`` submissions: how many labels the attack recovers
  with them, whether that is all n before the close, and in how many days; the same for the
  whole enrolment (the invite list, or an open challenge's cap; unbounded for open without
  one), whose identities may pool their releases.

* **with a public/private split** (``rules.SplitRule``, docs/design.md "Public/private split")
  — before the close only the public part's counts are released, so the attack (and every
  other) recovers at most the ``public_items`` public labels, none of the private ones; it
  also learns which probed items are private (their rows come back empty), i.e. part
  membership, never a private label. After the close the private part of at most ``finals``
  submissions per identity is released, once each: at most ``finals`` releases over the
  private items per identity (``finals · log2(outcomes)`` bits), of which the demonstrated
  attack turns ``finals·(K−1)`` (confusion; ``correct`` needs a baseline it never gets: 0 for
  one final) into private labels.

* **with differential-privacy noise** (``rules.DpRule``, docs/design.md "Differential-privacy
  release") — the counts are released noised, so the exact-count statements above no longer
  describe them: each identity's releases are ρ_total-zCDP (its budget), i.e.
  (ε, δ)-DP with ε from OpenDP's conversion at δ = 10⁻⁶, per item and against t − 1 trustees
  colluding with it. On any item, whatever an identity does with its releases guesses the
  label right with probability at most :func:`dp_label_bound` =
  1/K + (K−1)/K·(2Φ(√(2ρ_total)/2) − 1) (the total variation between two labels of one item
  under the Gaussian mechanism with μ = √(2ρ_total), so ≈ for the discrete Gaussian;
  ``tests/protocol/test_dp_release.py`` runs the confusion attack against it).

* **under the Ladder** (``rules.LadderRule``, ``protocol/ladder.py``, docs/design.md
  "Ladder") — a participant sees its shown count only, which changes only when an exact count
  beats it by more than the margin ``m`` (counts of the ``n`` items the Ladder scores: the
  public part, or every item). A shown count is one of ``V = ⌊n/m⌋ + 1`` values (+1 when m
  does not divide n: n itself) and an identity's shown counts never decrease, so its ``T``
  submissions show one of ``C(V + T − 1, T)`` sequences: at most ``log2 C(V + T − 1, T)``
  bits, ``/ log2 K`` labels' worth, per identity, however adaptive. The demonstrated
  ``correct``/``errors`` attack reads ±1 changes, which the Ladder never shows (a change
  must exceed the margin, at least 1): it recovers nothing. The bound is against
  participants only: the service (the combiner) decrypts the exact counts.

No I/O: the CLI prints :meth:`LabelLeakage.statement` at ``challenge create`` and refuses on
:meth:`LabelLeakage.refusals`; the service returns :meth:`LabelLeakage.to_json` with the
challenge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptoscore.protocol.ladder import LadderRule, ladder_sequences_bits, ladder_values
from cryptoscore.protocol.rules import DAY_MS, ChallengeRules, DpRule, SplitRule
from cryptoscore.scoring.policy import ReleasePolicy

__all__ = [
    "LabelLeakage",
    "attack_rate",
    "bits_per_release",
    "dp_label_bound",
    "label_leakage",
    "leakage_of_rules",
    "part_bits_per_release",
]


def _days(count: int | None) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def bits_per_release(policy: ReleasePolicy, n_items: int) -> float:
    """``log2`` of how many values one release of ``policy`` on ``n_items`` items can take."""
    if "confusion" not in policy.metrics:
        return math.log2(n_items + 1)  # correct, errors or both: one count in 0..n
    k = policy.classes
    base, extra = divmod(n_items, k)  # rows as equal as they can be: the largest product
    return extra * math.log2(math.comb(base + 1 + k - 1, k - 1)) + (k - extra) * math.log2(
        math.comb(base + k - 1, k - 1)
    )


def part_bits_per_release(policy: ReleasePolicy, part_items: int) -> float:
    """``log2`` of the values one release over a split's part of ``part_items`` items can take.
    The submitter does not know which items are in the part, so it does not know the row sums
    of the part's confusion matrix: any K×K table of counts summing to ``part_items``."""
    if "confusion" not in policy.metrics:
        return math.log2(part_items + 1)
    cells = policy.classes * policy.classes
    return math.log2(math.comb(part_items + cells - 1, cells - 1))


def attack_rate(policy: ReleasePolicy) -> tuple[int, int, int]:
    """The demonstrated attack's ``(labels, submissions, baseline)``: it recovers ``labels``
    labels per ``submissions`` submissions, after ``baseline`` submissions of reference."""
    if "confusion" in policy.metrics:
        return policy.classes - 1, 1, 0
    return 1, max(1, policy.classes - 2), 1


DP_DELTA = 1e-6
"""δ of the (ε, δ) figure stated beside a dp challenge's ρ_total."""


def dp_label_bound(rho_total: float, classes: int) -> float:
    """The probability that any guess of one item's label from releases that are together
    ``rho_total``-zCDP is right, for a label uniform over ``classes``: at most
    1/K + (K−1)/K·TV, TV = 2Φ(μ/2) − 1 the total variation between the release distributions
    of two labels of the item under the Gaussian mechanism with μ = √(2ρ_total) (for each other
    label y, P_y(guess y) ≤ P_y0(guess y) + TV; sum over y)."""
    from statistics import NormalDist

    tv = 2 * NormalDist().cdf(math.sqrt(2 * rho_total) / 2) - 1
    return 1 / classes + (classes - 1) / classes * tv


@dataclass(frozen=True, slots=True)
class LabelLeakage:
    """How many labels a challenge's releases give away, by the bound and by the attack."""

    metrics: tuple[str, ...]
    n_items: int
    classes: int
    submissions_per_day: int
    days_open: int
    """24-hour quota windows from the opening to the close (the last one partial)."""
    enrolment_limit: int | None
    """Identities that may ever enrol: invite list size or cap; ``None`` is unbounded."""
    bits_per_release: float
    attack_labels: int
    attack_submissions: int
    attack_baseline: int
    public_items: int | None = None
    """A split's public part (``None``: no split, every item's counts are released)."""
    finals: int = 0
    """A split's final submissions per identity, whose private part is released once."""
    private_bits_per_release: float = 0.0
    """``log2`` of the values one release of the private part can take."""
    dp: DpRule | None = None
    """Differential-privacy noise on every release (``None``: exact counts)."""

    @property
    def dp_epsilon(self) -> float | None:
        """ε of (ε, δ = :data:`DP_DELTA`)-DP for one identity's whole budget."""
        if self.dp is None:
            return None
        from cryptoscore.threshold.dp_noise import approx_dp_epsilon

        return approx_dp_epsilon(self.dp.budget, DP_DELTA)

    @property
    def dp_label_probability(self) -> float | None:
        """The per-item bound :func:`dp_label_bound` at one identity's budget."""
        return None if self.dp is None else dp_label_bound(self.dp.budget, self.classes)

    def _dp_line(self) -> str:
        assert self.dp is not None
        p = self.dp_label_probability or 0.0
        return (
            f"policy {','.join(self.metrics)} on {self.n_items} items, K={self.classes}, "
            f"releases counts with discrete Gaussian noise added by every trustee: "
            f"rho = {self.dp.rho:g} per release (zCDP), budget rho_total = {self.dp.budget:g} "
            f"per identity ({self.dp.releases} releases), i.e. "
            f"(epsilon = {self.dp_epsilon:.3f}, delta = {DP_DELTA:g}) per identity, against "
            f"t-1 trustees colluding with it; any guess of one label is right with probability "
            f"at most {p:.3f} (chance {1 / self.classes:.3f}): at most "
            f"{p * self.exposed_items:.1f} of {self.exposed_items} labels expected"
        )

    ladder_margin: int | None = None
    """The Ladder's margin in counts (``None``: exact counts are released)."""

    # -- under the Ladder ---------------------------------------------------------------------
    @property
    def ladder_shown_values(self) -> int:
        """How many counts the Ladder can show (the paper's ``1/η + 1``)."""
        if self.ladder_margin is None:
            return 0
        return ladder_values(self.ladder_margin, self.exposed_items)

    @property
    def ladder_bits_per_identity(self) -> float:
        """``log2 C(V + T − 1, T)``: the bits one identity's ``T`` shown counts can carry."""
        if self.ladder_margin is None:
            return 0.0
        return ladder_sequences_bits(
            self.ladder_margin, self.exposed_items, self.submissions_per_identity
        )

    @property
    def ladder_labels_bound(self) -> float:
        """At most this many labels' worth per identity under the Ladder."""
        worth = self.ladder_bits_per_identity / math.log2(self.classes)
        return min(float(self.exposed_items), worth)

    @property
    def ladder_attack_labels(self) -> int:
        """Labels the demonstrated ±1 attack recovers under the Ladder: none. Each probe
        moves the exact count by one from the baseline's, and a shown count changes only on
        a count more than the margin (at least 1) above it."""
        return 0

    def _ladder_line(self) -> str:
        m, n, t = self.ladder_margin, self.exposed_items, self.submissions_per_identity
        v = self.ladder_shown_values
        return (
            f"warning: under the Ladder, margin {m} of {n} items (eta = {m}/{n}); a shown "
            f"count changes only when a submission beats it by more than {m}: at most {v} "
            f"distinct shown counts, so {t} submissions per identity carry at most "
            f"log2 C({v} + {t} - 1, {t}) = {self.ladder_bits_per_identity:.1f} bits "
            f"({self.ladder_labels_bound:.2f} labels' worth; the demonstrated attack: "
            f"{self.ladder_attack_labels}); the service sees the exact counts"
        )

    @property
    def exposed_items(self) -> int:
        """Items whose labels the releases before the close can give away."""
        return self.n_items if self.public_items is None else self.public_items

    # -- the information bound -------------------------------------------------------------
    @property
    def labels_per_release_bound(self) -> float:
        """At most this many labels' worth of information in one release."""
        return self.bits_per_release / math.log2(self.classes)

    @property
    def releases_for_all_bound(self) -> int:
        """No attack recovers every label with fewer releases than this."""
        labels = self.exposed_items * math.log2(self.classes)
        return max(1, math.ceil(labels / self.bits_per_release))

    @property
    def days_for_all_bound(self) -> int:
        """…nor, for one identity at the quota, in fewer days than this."""
        return math.ceil(self.releases_for_all_bound / self.submissions_per_day)

    # -- the demonstrated attack, at the quota ---------------------------------------------
    @property
    def submissions_per_identity(self) -> int:
        """Submissions one identity may make from the opening to the close."""
        return self.submissions_per_day * self.days_open

    @property
    def submissions_for_all(self) -> int:
        """Submissions the attack needs for every label."""
        rounds = math.ceil(self.n_items / self.attack_labels)
        return self.attack_baseline + rounds * self.attack_submissions

    def _recovered(self, submissions: int) -> int:
        usable = max(0, submissions - self.attack_baseline)
        return min(self.exposed_items, usable // self.attack_submissions * self.attack_labels)

    @property
    def labels_per_identity(self) -> int:
        """Labels one identity recovers before the close."""
        return self._recovered(self.submissions_per_identity)

    @property
    def days_for_all(self) -> int:
        """Days one identity needs for every label at the quota."""
        return math.ceil(self.submissions_for_all / self.submissions_per_day)

    @property
    def one_identity_recovers_all(self) -> bool:
        if self.ladder_margin is not None:
            return self.ladder_labels_bound >= self.n_items
        return self.labels_per_identity >= self.n_items

    @property
    def labels_per_enrolment(self) -> int | None:
        """Labels the whole enrolment recovers before the close, pooling its releases
        (``None``: unbounded, open enrolment without a cap)."""
        if self.enrolment_limit is None:
            return None
        return self._recovered(self.enrolment_limit * self.submissions_per_identity)

    @property
    def enrolment_days_for_all(self) -> int | None:
        """Days the whole enrolment needs for every label (``None``: unbounded enrolment)."""
        if self.enrolment_limit is None:
            return None
        per_day = self.enrolment_limit * self.submissions_per_day
        return math.ceil(self.submissions_for_all / per_day)

    # -- a split's private part, after the close ---------------------------------------------
    @property
    def private_items(self) -> int:
        return 0 if self.public_items is None else self.n_items - self.public_items

    @property
    def private_labels_bound(self) -> float:
        """At most this many private labels' worth per identity: ``finals`` releases."""
        worth = self.finals * self.private_bits_per_release / math.log2(self.classes)
        return min(float(self.private_items), worth)

    @property
    def private_attack_labels(self) -> int:
        """Private labels the demonstrated attack recovers per identity from its finals."""
        usable = max(0, self.finals - self.attack_baseline)
        return min(self.private_items, usable // self.attack_submissions * self.attack_labels)

    def _split_line(self) -> str:
        f, priv = self.finals, self.private_items
        who = "submission" if f == 1 else "submissions"
        line = (
            f"warning: after the close the private part of at most {f} final {who} per "
            f"identity is released, once: at most {self.private_labels_bound:.2f} of the "
            f"{priv} private labels' worth per identity (the attack: "
            f"{self.private_attack_labels})"
        )
        if self.enrolment_limit is None:
            return line + "; open enrolment without a cap multiplies that by any number"
        pooled = min(priv, self.enrolment_limit * self.private_attack_labels)
        return line + f"; {self.enrolment_limit} identities pooling: {pooled}"

    # -- in words ---------------------------------------------------------------------------
    def _rate(self) -> str:
        if self.attack_submissions == 1:
            plural = "" if self.attack_labels == 1 else "s"
            return f"{self.attack_labels} label{plural} per submission"
        return f"1 label per {self.attack_submissions} submissions"

    def statement(self) -> list[str]:
        """The leakage in two lines (each starts ``warning:``; a dp challenge's first line
        states its guarantee instead of the exact counts' leakage)."""
        n, q = self.n_items, self.submissions_per_day
        first = (
            f"warning: policy {','.join(self.metrics)} on {n} items, K={self.classes}, "
            f"releases exact counts (at most {self.labels_per_release_bound:.2f} labels' "
            f"worth each): one identity can recover {self._rate()}, "
        )
        if self.public_items is not None:
            first = (
                f"warning: policy {','.join(self.metrics)} on {n} items, K={self.classes}, "
                f"split {self.public_items} public / {self.private_items} private (which are "
                "public is secret): before the close only public-part counts are released "
                f"(at most {self.labels_per_release_bound:.2f} labels' worth each); one "
                f"identity can recover {self._rate()} among public items, at most "
                f"{self.labels_per_identity} of the {self.public_items} public labels before "
                f"the close at {q} a day, and no private label"
            )
        elif self.one_identity_recovers_all:
            first += f"all {n} labels in {_days(self.days_for_all)} at {q} a day"
        else:
            first += (
                f"{self.labels_per_identity} of {n} labels before the close at {q} a day "
                f"(all in {_days(self.days_for_all)})"
            )
        first += f"; the challenge is open {_days(self.days_open)}"
        if self.dp is not None:
            first = self._dp_line()
        exposed = "public labels" if self.public_items is not None else "labels"
        every = self.exposed_items
        if self.enrolment_limit is None:
            second = (
                "warning: open enrolment without a cap: every new identity recovers as many "
                "again, so nothing bounds the labels recovered"
            )
        else:
            days = self.enrolment_days_for_all
            pooled = self.labels_per_enrolment
            who = "identity" if self.enrolment_limit == 1 else "identities"
            second = f"warning: {self.enrolment_limit} enrolled {who}, pooling, "
            second += (
                f"recover all {every} {exposed} in {_days(days)}"
                if pooled is not None and pooled >= every
                else f"recover {pooled} of {every} {exposed} before the close"
            )
        if self.ladder_margin is not None:  # the counts above are what exact ones would give
            first = first.replace("releases exact counts", "shows laddered counts (last line)")
            first = first.replace("one identity can recover", "exact ones would let one recover")
        lines = (
            [first, second] if self.public_items is None else [first, second, self._split_line()]
        )
        return lines if self.ladder_margin is None else [*lines, self._ladder_line()]

    def refusals(self) -> list[str]:
        """Why ``challenge create`` refuses this challenge (empty: it need not)."""
        out = []
        if self.one_identity_recovers_all and self.dp is None:
            out.append(
                f"one identity can recover all {self.n_items} labels before the close "
                f"({self.days_for_all} of {_days(self.days_open)} at {self.submissions_per_day} "
                "a day): lower --limit-per-day, close earlier, release fewer aggregates, or "
                "pass --accept-label-leakage"
            )
        if self.enrolment_limit is None:
            out.append(
                "open enrolment without a cap lets any number of identities recover labels: "
                "give --max-enrolled N or --enrolment invite, or pass --accept-label-leakage"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "n_items": self.n_items,
            "classes": self.classes,
            "submissions_per_day": self.submissions_per_day,
            "days_open": self.days_open,
            "enrolment_limit": self.enrolment_limit,
            "bound": {
                "bits_per_release": round(self.bits_per_release, 4),
                "labels_per_release": round(self.labels_per_release_bound, 4),
                "releases_for_all": self.releases_for_all_bound,
                "days_for_all": self.days_for_all_bound,
            },
            "attack": {
                "labels": self.attack_labels,
                "per_submissions": self.attack_submissions,
                "baseline_submissions": self.attack_baseline,
                "submissions_for_all": self.submissions_for_all,
            },
            "per_identity": {
                "submissions": self.submissions_per_identity,
                "labels": self.labels_per_identity,
                "days_for_all": self.days_for_all,
                "recovers_all": self.one_identity_recovers_all,
            },
            "per_enrolment": {
                "labels": self.labels_per_enrolment,
                "days_for_all": self.enrolment_days_for_all,
            },
            "split": (
                None
                if self.public_items is None
                else {
                    "public_items": self.public_items,
                    "private_items": self.private_items,
                    "finals": self.finals,
                    "private_bits_per_release": round(self.private_bits_per_release, 4),
                    "private_labels_per_identity_bound": round(self.private_labels_bound, 4),
                    "private_labels_per_identity_attack": self.private_attack_labels,
                }
            ),
            "statement": self.statement(),
            **({} if self.ladder_margin is None else {"ladder": self._ladder_json()}),
        } | self._dp_json()

    def _dp_json(self) -> dict[str, Any]:
        """The ``dp`` member, only for a dp challenge (older answers read as before)."""
        if self.dp is None:
            return {}
        return {
            "dp": {
                "rho": self.dp.rho,
                "budget": self.dp.budget,
                "releases_per_identity": self.dp.releases,
                "epsilon": round(self.dp_epsilon or 0.0, 6),
                "delta": DP_DELTA,
                "label_probability_bound": round(self.dp_label_probability or 0.0, 6),
            }
        }

    def _ladder_json(self) -> dict[str, Any]:
        return {
            "margin": self.ladder_margin,
            "items": self.exposed_items,
            "shown_values": self.ladder_shown_values,
            "bits_per_identity": round(self.ladder_bits_per_identity, 4),
            "labels_per_identity_bound": round(self.ladder_labels_bound, 4),
            "labels_per_identity_attack": self.ladder_attack_labels,
        }


def label_leakage(
    policy: ReleasePolicy,
    n_items: int,
    submissions_per_day: int,
    opens: datetime,
    closes: datetime,
    enrolment_limit: int | None,
    split: SplitRule | None = None,
    *,
    dp: DpRule | None = None,
    ladder: LadderRule | None = None,
) -> LabelLeakage:
    """The leakage of a challenge releasing ``policy`` on ``n_items`` items, open from
    ``opens`` to ``closes`` (aware datetimes), ``submissions_per_day`` per identity, at most
    ``enrolment_limit`` identities (``None``: unbounded), with a public/private ``split`` or
    without, under the Ladder or releasing exact counts."""
    window_ms = max(0, int((closes - opens).total_seconds() * 1000))
    labels, per, baseline = attack_rate(policy)
    leakage = LabelLeakage(
        metrics=policy.metrics,
        n_items=n_items,
        classes=policy.classes,
        submissions_per_day=submissions_per_day,
        days_open=max(1, math.ceil(window_ms / DAY_MS)),
        enrolment_limit=enrolment_limit,
        bits_per_release=bits_per_release(policy, n_items),
        attack_labels=labels,
        attack_submissions=per,
        attack_baseline=baseline,
        dp=dp,
        ladder_margin=None if ladder is None else ladder.margin,
    )
    if split is None:
        return leakage
    # a split releases each part on its own: the public part before the close, the private
    # part of each identity's finals after it
    public, private = split.public_items, n_items - split.public_items
    return replace(
        leakage,
        bits_per_release=part_bits_per_release(policy, public),
        public_items=public,
        finals=split.finals,
        private_bits_per_release=part_bits_per_release(policy, private),
    )


def leakage_of_rules(
    policy: ReleasePolicy, n_items: int, rules: ChallengeRules, opens: datetime, closes: datetime
) -> LabelLeakage:
    """:func:`label_leakage` of a challenge with participation ``rules``."""
    return label_leakage(
        policy,
        n_items,
        rules.submissions_per_day,
        opens,
        closes,
        rules.enrolment_limit,
        rules.split,
        dp=rules.dp,
        ladder=rules.ladder,
    )
