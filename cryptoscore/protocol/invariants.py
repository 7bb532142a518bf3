"""Release invariants: what every honestly combined value of a challenge satisfies, checked
before anything is published (docs/design.md, "Release invariants").

A trustee that adds Δ·k to one coefficient of its partial decryption shifts the combined value
at that position by k, and its signature, the recomputed ciphertext and a re-combination of the
logged partials all agree with the wrong number. What a single lie of that kind cannot keep is
the *arithmetic* the policy's aggregates obey on every honest run:

* ``count-range``        — every released count is in 0..n (n = the challenge's items);
* ``correct-plus-errors`` — correct + errors = n, when both are released;
* ``confusion-total``    — the confusion cells sum to n;
* ``correct-diagonal``   — correct = the confusion diagonal's sum, when both are released;
* ``errors-off-diagonal`` — errors = the off-diagonal's sum, when both are released;
* ``label-histogram``    — the confusion matrix's column sums (how many items carry each
  label) are the same for every submission scored against one labels bundle: the first
  release fixes them (:func:`fixed_label_histogram`), later ones must match.

Round 1 decrypts nothing that has arithmetic of this kind: V_j is a trace weighted by secret
random polynomials, any value of Z_t for an invalid bundle, and a noise check's residual is any
centered residue for a noisy one. Their only invariants are their domains
(``validity-domain``: exactly the check's names, each in 0..t−1; ``noise-residual-domain``:
0 ≤ residual ≤ ⌊Q/2⌋), which every combination meets by construction; they are stated and
checked so that the combiner and the verifier say so, not because a lie can break them. A
lie *within* a domain (V moved to or from 0, a residual moved across the bound) is not caught
here, nor is a lie that keeps every sum (correct + k, errors − k): SECURITY.md, "Trustees'
wrong answers".

**Under differential-privacy noise** (a challenge whose rules carry ``dp``,
``threshold/dp_noise.py``) every released aggregate is m + Σ z_j: the noised base vector (the
confusion cells, or ``correct``) and what is post-processed from it. Post-processing keeps
``correct-plus-errors``, ``correct-diagonal`` and ``errors-off-diagonal`` (checked as
errors = n − diagonal) **exact**; ``count-range`` (each count within its noise's tail bound τ
of 0..n), ``confusion-total`` (|Σ cells − n| ≤ τ of K² draws per trustee) and
``label-histogram`` (each column sum within τ of 2K draws per trustee of the first release's)
become **tail-bounded** checks, failing an honest release with probability at most 2^−40. A
lying trustee's shift within the noise's tail is not caught by them: robust decoding (issue
14) is the defence against that, not the invariants.

A decision whose Shamir answers are too far off one polynomial to decode
(:class:`~cryptoscore.errors.UndecidableAnswersError`, ``threshold/robust.py``) has no value to
check: it is disputed under the name ``answers-decoding`` (:data:`ANSWERS_DECODING`), its
reason the finding and the suspects, no value (``protocol/release.py``).

Everything here is a pure function of values: the earlier releases that fix the label histogram
are passed in by whoever keeps them (the release ledger), never read here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cryptoscore.errors import InconsistentReleaseError
from cryptoscore.scoring.policy import ReleasePolicy, confusion_cell_name
from cryptoscore.threshold.dp_noise import DpCalibration

__all__ = [
    "ANSWERS_DECODING",
    "INVARIANTS",
    "LabelHistogram",
    "check_noise_residual",
    "check_release",
    "check_validity_values",
    "fixed_label_histogram",
    "label_histogram",
    "withheld_reason",
]

INVARIANTS = (
    "count-range",
    "correct-plus-errors",
    "confusion-total",
    "correct-diagonal",
    "errors-off-diagonal",
    "label-histogram",
    "validity-domain",
    "noise-residual-domain",
    "answers-decoding",
)
"""Every invariant's name, as errors, the log's dispute entries and the API spell it."""

ANSWERS_DECODING = "answers-decoding"
"""The dispute of a decision whose answers are not within the decoding radius of one polynomial
(docs/design.md, "Robust threshold decryption (core)")."""

LabelHistogram = tuple[int, ...]
"""How many items carry each label 0..K−1: the confusion matrix's column sums."""


def _cells(values: Mapping[str, int], policy: ReleasePolicy) -> list[list[int]] | None:
    """The K×K confusion matrix (row: prediction, column: label), if the policy releases it."""
    if "confusion" not in policy.metrics:
        return None
    k = policy.classes
    return [[int(values[confusion_cell_name(a, b)]) for b in range(k)] for a in range(k)]


def label_histogram(values: Mapping[str, int], policy: ReleasePolicy) -> LabelHistogram | None:
    """The label histogram a release gives (its confusion matrix's column sums), or None when
    the policy releases no confusion matrix."""
    cells = _cells(values, policy)
    if cells is None:
        return None
    return tuple(sum(row[b] for row in cells) for b in range(policy.classes))


def fixed_label_histogram(
    releases: Iterable[Mapping[str, int]], policy: ReleasePolicy
) -> LabelHistogram | None:
    """The histogram fixed by ``releases``, the values released earlier against the same labels
    bundle in release order: the first one's (every later one matched it to be released)."""
    for values in releases:
        return label_histogram(values, policy)
    return None


def withheld_reason(invariant: str) -> str:
    """A dispute's reason naming ``invariant`` and no value, for releases whose exact values
    must not be published (the Ladder: docs/design.md, "Ladder")."""
    return f"{invariant}: the combined values break this invariant (not published)"


def _fail(invariant: str, detail: str, values: Mapping[str, object]) -> InconsistentReleaseError:
    return InconsistentReleaseError(invariant, detail, dict(values))


def check_release(
    values: Mapping[str, int],
    policy: ReleasePolicy,
    n: int,
    fixed_histogram: LabelHistogram | None = None,
    *,
    noise: DpCalibration | None = None,
) -> None:
    """Combiner and verifier: raise :class:`InconsistentReleaseError` naming the first
    invariant the combined ``values`` of a score under ``policy`` over ``n`` items break.
    ``fixed_histogram``: the label histogram earlier releases against the same labels fixed
    (:func:`fixed_label_histogram`; None for the first release). ``noise``: the challenge's
    dp calibration (its trustees' count included), for the tail-bounded checks (module
    docstring); ``None``: exact releases."""
    names = policy.aggregate_names()
    if set(values) != set(names):
        raise _fail(
            "count-range", f"the values name {sorted(values)}, the policy {list(names)}", values
        )
    for name in names:
        slack = 0 if noise is None else noise.tail_of(name)
        if not -slack <= values[name] <= n + slack:
            raise _fail(
                "count-range",
                f"{name} = {values[name]} is not in {-slack}..{n + slack}"
                + (f" (0..{n} within the noise's tail {slack})" if slack else ""),
                values,
            )
    correct, errors = values.get("correct"), values.get("errors")
    if correct is not None and errors is not None and correct + errors != n:
        raise _fail(
            "correct-plus-errors", f"correct + errors = {correct} + {errors} ≠ n = {n}", values
        )
    cells = _cells(values, policy)
    if cells is None:
        return
    total = sum(map(sum, cells))
    slack = 0 if noise is None else noise.tail(noise.dimension)
    if abs(total - n) > slack:
        raise _fail(
            "confusion-total",
            f"the confusion cells sum to {total} ≠ n = {n}"
            + (f" beyond the noise's tail {slack}" if slack else ""),
            values,
        )
    diagonal = sum(cells[k][k] for k in range(policy.classes))
    if correct is not None and correct != diagonal:
        raise _fail(
            "correct-diagonal", f"correct = {correct} ≠ the diagonal's sum {diagonal}", values
        )
    # under noise the cells' total is not n: errors is n − correct, post-processed exactly
    off_diagonal = (total if noise is None else n) - diagonal
    if errors is not None and errors != off_diagonal:
        raise _fail(
            "errors-off-diagonal",
            f"errors = {errors} ≠ the off-diagonal's sum {off_diagonal}",
            values,
        )
    histogram = label_histogram(values, policy)
    if fixed_histogram is not None and noise is not None and histogram is not None:
        slack = noise.tail(2 * policy.classes)
        if any(abs(a - b) > slack for a, b in zip(histogram, fixed_histogram, strict=True)):
            raise _fail(
                "label-histogram",
                f"the label counts {list(histogram)} differ from {list(fixed_histogram)}, "
                f"fixed by the first release against these labels, beyond the noise's tail "
                f"{slack}",
                values,
            )
    elif fixed_histogram is not None and histogram != tuple(fixed_histogram):
        raise _fail(
            "label-histogram",
            f"the label counts {list(histogram or ())} differ from {list(fixed_histogram)}, "
            "fixed by the first release against these labels",
            values,
        )


def check_validity_values(values: Mapping[str, int], names: Iterable[str], t: int) -> None:
    """Combiner, trustee, verifier: the combined validity aggregate names exactly ``names``
    (``scoring/validity.validity_names``), each a residue in 0..t−1."""
    want = list(names)
    if sorted(values) != sorted(want):
        raise _fail("validity-domain", f"V names {sorted(values)}, not {want}", values)
    for name, value in values.items():
        if not 0 <= value < t:
            raise _fail("validity-domain", f"{name} = {value} is not in 0..{t - 1}", values)


def check_noise_residual(residual: int | None, modulus: int) -> None:
    """Combiner, trustee, verifier: a noise check's largest centered residual is measured and
    in 0..⌊Q/2⌋ for the ciphertext modulus Q it was lifted in."""
    if residual is None or not 0 <= residual <= modulus // 2:
        raise _fail(
            "noise-residual-domain",
            f"the residual {residual} is not in 0..⌊Q/2⌋",
            {"residual": residual},
        )
