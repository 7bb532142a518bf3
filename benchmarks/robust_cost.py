"""Added cost of robust threshold decryption (issue 14; docs/design.md, "Robust threshold
decryption (core)", Costs): Shamir answers from all n trustees, decoded
(``combine.decrypt_answers`` with ``robust.reconstruct``), against additive answers from the t
trustees of a set, summed — at bfv-8192 for 2-of-3, 3-of-5 and 4-of-7.

    python -m benchmarks.robust_cost [--repeat 3] [--committees 2of3,3of5,4of7] [--json]

Per release (one score of 8192 binary items, correct and errors): the answers (each trustee's
``partial_decrypt``, its journal claim included: fresh journals per repetition) and the
combiner's decision. Per 1M-item round 1: one noise check (the pad complement) and one V are
answered and decided for a one-ciphertext bundle, and the round is the noise check's cost times
the 123 ciphertexts of a 1,000,000-item binary bundle at bfv-8192 plus V's — measured per
ciphertext and scaled, not run on a 1M bundle: a noise check's answer and decoding depend on the
ciphertext, not on the bundle's size. CPU sums every trustee's answers and the decision (what
the committee spends); latency takes the slowest answer plus the decision (trustees answer in
parallel). Not included, being the same per trustee in both schemes: recomputing the ciphertext
before answering (with every trustee answering, n − t more trustees do it). Timings are medians
of ``--repeat`` runs with ``time.perf_counter``; the table's ratios are Shamir over additive.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cryptoscore import (
    BFV8192,
    KeySet,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    generate_keys,
    score,
)
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.recompute import noise_check_passed, validity_passed
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.noise_check import noise_check
from cryptoscore.scoring.validity import validity
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.combine import decrypt_answers
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import bundle_claim, bundle_lineage
from cryptoscore.threshold.pad_shares import PadErrorSource
from cryptoscore.threshold.partial import (
    PadComplement,
    PartialDecryption,
    partial_decrypt,
    standalone_lineage,
)
from tests.helpers.committee import Committee, set_with

COMMITTEES = ((2, 3), (3, 5), (4, 7))
ITEMS = BFV8192.POLY_MODULUS_DEGREE
"""Items of the measured bundles: one ciphertext each."""
ROUND1_ITEMS = 1_000_000
POLICY = ReleasePolicy(2, ("correct", "errors"))
KINDS = ("score", "noise", "validity")


def round1_ciphertexts(n_items: int = ROUND1_ITEMS) -> int:
    """Noise checks of a binary bundle of ``n_items`` at bfv-8192: one per ciphertext."""
    return math.ceil(n_items / BFV8192.POLY_MODULUS_DEGREE)


@dataclass(frozen=True)
class Scheme:
    """One committee under one kind of answers, with a score, a noise check and a V to answer:
    additive answers by the t trustees of the pad set, or Shamir answers by all n."""

    committee: Committee
    context: ChallengeContext
    predictions: EncryptedBundle
    aggregates: dict[str, AggregateCiphertext]
    expected: dict[str, int]

    @property
    def robust(self) -> bool:
        return self.committee.record.robust

    @property
    def pad_set(self) -> ActiveSet:
        pad = self.predictions.header.pad_request
        assert pad is not None  # encrypted with pads
        return ActiveSet(pad.active_set)

    @property
    def answering(self) -> tuple[int, ...]:
        """Who answers: every trustee (Shamir), or the pad set's t (additive)."""
        if self.robust:
            return tuple(e.index for e in self.committee.roster)
        return self.pad_set.indices


def make_scheme(keys: KeySet, t: int, n: int, robust: bool, tmp: Path) -> Scheme:
    """A t-of-n committee on ``keys`` (Shamir answers if ``robust``), a labels and a
    predictions bundle of :data:`ITEMS` binary items encrypted with its pads, and the three
    ciphertexts to answer: the score, the predictions' noise check 0 and V."""
    committee = Committee(t, n, keys=keys, robust=robust)
    context = committee.context("robust-cost", POLICY, ITEMS)
    data = np.random.default_rng(14)  # benchmark data, not key material
    y = data.integers(0, 2, ITEMS)
    p = np.where(data.random(ITEMS) < 0.8, y, 1 - y)
    public = context.public
    labels = encrypt_labels(
        y, public, classes=2, challenge="robust-cost", pads=committee.pads(context, "labels", tmp)
    )
    pads = committee.pads(context, "predictions", tmp)
    predictions = encrypt_predictions(p, public, classes=2, challenge="robust-cost", pads=pads)
    aggregates = {
        "score": score(predictions, labels, POLICY, context.evaluation),
        "noise": noise_check(predictions, 0),
        "validity": validity(predictions, b"\x07" * 32, context.evaluation),
    }
    correct = int((p == y).sum())
    return Scheme(
        committee, context, predictions, aggregates, {"correct": correct, "errors": ITEMS - correct}
    )


def _answer(scheme: Scheme, kind: str, index: int, journal: PartialJournal) -> PartialDecryption:
    """Trustee ``index``'s answer to ``kind``: under the pad set (additive), or under the pad
    set with its last member swapped for it (Shamir answers do not depend on the set)."""
    committee = scheme.committee
    tid = committee.record.entry_by_index(index).trustee_id
    share = committee.shares[tid]
    aggregate = scheme.aggregates[kind]
    active = set_with(scheme.pad_set.indices, index)
    pad = scheme.predictions.header.pad_request
    assert pad is not None
    complement = None
    lineage = standalone_lineage(aggregate, active)
    if kind == "noise":
        complement = PadComplement(
            pad.active_set,
            bundle_lineage(pad.c1_seed),
            pad.key_id,
            0,
            lambda moduli: PadErrorSource(share, committee.record, pad).residues(0, moduli),
        )
        lineage = bundle_claim(pad.c1_seed, pad.count, "noise:0", active.indices)
    return partial_decrypt(
        share,
        aggregate,
        active,
        f"bench:{kind}",
        committee.identity(tid),
        journal,
        committee.record,
        lineage=lineage,
        mask=kind == "noise",
        pad=complement,
    )


def answers(
    scheme: Scheme, kind: str, journal_dir: Path
) -> tuple[list[PartialDecryption], list[float]]:
    """Every answering trustee's answer to ``kind`` (fresh journals in ``journal_dir``), and
    the seconds each took."""
    out, seconds = [], []
    for index in scheme.answering:
        with PartialJournal(journal_dir / f"{kind}-{index}.journal") as journal:
            start = time.perf_counter()
            out.append(_answer(scheme, kind, index, journal))
            seconds.append(time.perf_counter() - start)
    return out, seconds


def decide(scheme: Scheme, kind: str, partials: Sequence[PartialDecryption]) -> None:
    """The combiner's decision on ``kind``, as the release machines take it (and checked: the
    noise check passes, V is valid, the score is numpy's)."""
    record, aggregate = scheme.committee.record, scheme.aggregates[kind]
    args = (aggregate, list(partials), record, f"bench:{kind}", scheme.pad_set)
    if kind == "noise":
        assert noise_check_passed(*args)
    elif kind == "validity":
        assert validity_passed(*args)
    else:
        out = decrypt_answers(*args)
        assert out.values == scheme.expected and out.verified == scheme.robust


@dataclass(frozen=True)
class Measured:
    """Medians, in seconds, of one kind's answers (each) and decision."""

    per_answer: float
    answers_total: float
    slowest_answer: float
    decision: float

    @property
    def cpu(self) -> float:
        return self.answers_total + self.decision

    @property
    def latency(self) -> float:
        return self.slowest_answer + self.decision


def measure(scheme: Scheme, kind: str, repeat: int) -> Measured:
    runs: list[tuple[float, float, float, float]] = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            partials, seconds = answers(scheme, kind, Path(tmp))
            start = time.perf_counter()
            decide(scheme, kind, partials)
            decision = time.perf_counter() - start
        runs.append((statistics.median(seconds), sum(seconds), max(seconds), decision))
    return Measured(*(statistics.median(r[i] for r in runs) for i in range(4)))


def committee_costs(keys: KeySet, t: int, n: int, repeat: int) -> dict[str, Any]:
    """Both schemes of one committee: per release and per 1M-item round 1."""
    out: dict[str, Any] = {"committee": f"{t}-of-{n}"}
    for name, robust in (("additive", False), ("shamir", True)):
        with tempfile.TemporaryDirectory() as tmp:
            scheme = make_scheme(keys, t, n, robust, Path(tmp))
        m = {kind: measure(scheme, kind, repeat) for kind in KINDS}
        ciphertexts = round1_ciphertexts()
        out[name] = {
            "answers": len(scheme.answering),
            "release": _figures(m["score"]),
            "noise_check": _figures(m["noise"]),
            "validity": _figures(m["validity"]),
            "round1_1m": {
                "ciphertexts": ciphertexts,
                "cpu_s": ciphertexts * m["noise"].cpu + m["validity"].cpu,
                "latency_s": ciphertexts * m["noise"].latency + m["validity"].latency,
            },
        }
    return out


def _figures(m: Measured) -> dict[str, float]:
    return {
        "per_answer_ms": 1e3 * m.per_answer,
        "decision_ms": 1e3 * m.decision,
        "cpu_ms": 1e3 * m.cpu,
        "latency_ms": 1e3 * m.latency,
    }


def table(results: Sequence[dict[str, Any]]) -> str:
    """The markdown table of docs/design.md, with Shamir/additive ratios."""
    rows = [
        "| committee | answers | release: per answer (ms) | decision (ms) | CPU (ms) | "
        "latency (ms) | noise check: CPU (ms) | round 1, 1M items: CPU (s) | latency (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for name in ("additive", "shamir"):
            s = r[name]
            rel, r1 = s["release"], s["round1_1m"]
            rows.append(
                f"| {r['committee']} {name} | {s['answers']} | {rel['per_answer_ms']:.1f} | "
                f"{rel['decision_ms']:.1f} | {rel['cpu_ms']:.1f} | {rel['latency_ms']:.1f} | "
                f"{s['noise_check']['cpu_ms']:.1f} | {r1['cpu_s']:.2f} | {r1['latency_s']:.2f} |"
            )
        a, s = r["additive"], r["shamir"]

        def ratio(get: Callable[[dict[str, Any]], float], a: Any = a, s: Any = s) -> str:
            return f"{get(s) / get(a):.2f}×"

        rows.append(
            f"| {r['committee']} Shamir/additive | {s['answers']}/{a['answers']} | "
            f"{ratio(lambda x: x['release']['per_answer_ms'])} | "
            f"{ratio(lambda x: x['release']['decision_ms'])} | "
            f"{ratio(lambda x: x['release']['cpu_ms'])} | "
            f"{ratio(lambda x: x['release']['latency_ms'])} | "
            f"{ratio(lambda x: x['noise_check']['cpu_ms'])} | "
            f"{ratio(lambda x: x['round1_1m']['cpu_s'])} | "
            f"{ratio(lambda x: x['round1_1m']['latency_s'])} |"
        )
    return "\n".join(rows)


def _committee(text: str) -> tuple[int, int]:
    t, _, n = text.partition("of")
    return int(t), int(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--committees", default=",".join(f"{t}of{n}" for t, n in COMMITTEES), help="e.g. 2of3,3of5"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    keys = generate_keys(BFV8192)
    results = [
        committee_costs(keys, *_committee(c), args.repeat) for c in args.committees.split(",")
    ]
    if args.json:
        print(json.dumps(results, sort_keys=True))
    else:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
