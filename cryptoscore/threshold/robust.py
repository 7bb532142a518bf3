"""Robust reconstruction of a threshold decryption from Shamir-shared answers: the value at 0,
and the trustees whose answers are wrong.

Trustee j's answer d_j = s_j·c1 + E(j) (E from ``threshold/prss.py``) is the value at j of one
polynomial of degree t − 1 in the trustee index, per prime and coefficient: the answers of any
m ≥ t trustees form a Reed–Solomon codeword of length m and dimension t (minimum distance
m − t + 1), and its value at 0 is c1·s + e. A trustee that adds Δ·k to its answer moves it off
that polynomial (Urban, Rambaud, "Robust multiparty computation from threshold encryption based
on RLWE", ePrint 2024/1285; docs/design.md, "Robust threshold decryption (core)").

Decoding (:func:`reconstruct`), per prime q:

1. **Project.** All N coefficients of every answer are combined with one random linear
   combination (weights uniform mod q from ``rng``, by default ``os.urandom``): one scalar per
   trustee, a codeword of the same scalar code. A wrong answer (nonzero difference vector) keeps
   its projection off the polynomial except with probability 1/q ≤ 2^-42; the weights are drawn
   after the answers are in, so a liar cannot aim at the kernel.
2. **Decode the scalars** with the Berlekamp–Welch algorithm (L. R. Welch, E. R. Berlekamp,
   "Error correction for algebraic block codes", US Patent 4,633,470, 1986; as presented by
   P. Gemmell, M. Sudan, "Highly resilient correctors for polynomials", IPL 43(4), 1992): find
   E monic of degree c and Q of degree < c + t with Q(x_j) = y_j·E(x_j) for every j — a linear
   system of m equations in 2c + t ≤ m unknowns, solved exactly mod q — then P = Q / E. Chosen
   over exhaustive search of t-subsets because its cost is polynomial (m ≤ 16: a 16 × 16 system)
   where C(16, 8) = 12,870 subsets would each need an interpolation.
3. **Verify exactly.** The decoded polynomial is interpolated from t agreeing trustees on all
   coefficients of all primes and compared with every answer: a trustee is named a liar only if
   its full answer is off that polynomial; the value is returned only if at least m − c full
   answers are on it. So the result never rests on the projection alone.

Guarantees, for m answers, threshold t, ``max_liars`` = c ≤ ⌊(m − t)/2⌋ (the default is
⌊(m − t)/2⌋) and ℓ wrong answers:

* **ℓ ≤ c: the value is correct and exactly the ℓ wrong answers are named** (unique decoding:
  any other polynomial of degree t − 1 agrees with the honest one on at most t − 1 indices,
  so with at most ℓ + t − 1 ≤ m − c − 1 < m − c answers).
* **c < ℓ ≤ m − t − c: the inconsistency is detected** (:class:`UndecidableAnswersError`, no
  value): the honest polynomial has m − ℓ < m − c answers, any other at most ℓ + t − 1 < m − c.
  With c = ⌊(m − t)/2⌋ this range is empty when m − t is even, and ℓ = c + 1 when it is odd (so
  2-of-3 with one liar is detected, not named). ``max_liars=0`` detects every ℓ ≤ m − t — every
  case with at least t honest answers — and corrects none.
* **ℓ > m − t − c** (fewer than t + c honest answers): liars who coordinate their answers on
  another polynomial through some honest ones can make it the decoded one; what is returned is
  still on at least m − c ≥ t answers and, when m > t, on at least one more than t.
* m = t: no redundancy — the interpolation is returned with nothing checked
  (``Reconstruction.checked`` is False).

Wrong answers beyond those bounds that are random (not coordinated) are detected in practice,
and the error's ``suspects`` then name them when a single polynomial agrees with the most
answers.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from cryptoscore.errors import ParameterError, UndecidableAnswersError
from cryptoscore.hazmat.modmath import U64, addmod, mulmod, uniform_below
from cryptoscore.hazmat.shamir import lagrange_basis_at
from cryptoscore.randomness import Rng

__all__ = [
    "Reconstruction",
    "decode_scalars",
    "interpolate_at",
    "interpolate_at_zero",
    "reconstruct",
    "verifiable_max_liars",
]

_SUM_CHUNK = 1 << 13
"""Coefficients below q < 2^50 summed in uint64 chunks of 2^13: each partial sum < 2^63."""

_SUSPECT_SEARCH_LIMIT = 4096
"""t-subsets searched for the best-agreeing polynomial when naming suspects (failure path)."""


@dataclass(frozen=True, slots=True)
class Reconstruction:
    """The decoded value at 0 (residues, shape (L, N)), the trustees whose answers are off the
    decoded polynomial, and the trustees whose answers are on it (all coefficients checked)."""

    value: U64 = field(repr=False)
    liars: tuple[int, ...]
    consistent: tuple[int, ...]
    checked: bool
    """m > t: the value is confirmed by answers beyond the t it was interpolated from."""


def interpolate_at(
    points: Mapping[int, U64], at: int, moduli: tuple[int, ...], *, nodes: Sequence[int] = ()
) -> U64:
    """The value at ``at`` of the polynomial of degree < len(nodes) through the answers of
    ``nodes`` (default: every point given), per prime and coefficient: Σ_j ℓ_j(at)·d_j, vectorized
    over the N coefficients."""
    used = list(nodes) if nodes else sorted(points)
    if not used or any(j not in points for j in used):
        raise ParameterError("interpolation needs at least one point, each with an answer")
    first = points[used[0]]
    out = np.zeros_like(first)
    for i, q in enumerate(moduli):
        acc = np.zeros(first.shape[1], dtype=np.uint64)
        for j in used:
            acc = addmod(acc, mulmod(points[j][i], lagrange_basis_at(j, used, at, q), q), q)
        out[i] = acc
    return out


def interpolate_at_zero(
    points: Mapping[int, U64], moduli: tuple[int, ...], *, nodes: Sequence[int] = ()
) -> U64:
    """The value at 0 (Shamir reconstruction) from the answers of ``nodes`` (default: all)."""
    return interpolate_at(points, 0, moduli, nodes=nodes)


def verifiable_max_liars(m: int, t: int, f: int) -> int | None:
    """The correction radius c for m answers at threshold t when up to ``f`` answers may be
    coordinated lies, such that the decoder never returns a wrong value; None when no radius
    does (the answers cannot be checked against ``f`` coordinated liars).

    The decoder returns a polynomial only when at least m − c answers lie on it. A wrong
    polynomial P' ≠ P (P the honest one, both of degree t − 1) agrees with at most t − 1 honest
    answers, so with ℓ ≤ f liars it has at most f + t − 1 answers: it is never returned when
    f + t − 1 < m − c, i.e. c ≤ m − t − f. Unique decoding also needs c ≤ ⌊(m − t)/2⌋. So

        c = min(⌊(m − t)/2⌋, m − t − f),   defined when m ≥ t + f.

    Then ℓ ≤ c liars are corrected and named (P has m − ℓ ≥ m − c answers), and c < ℓ ≤ f
    liars are detected (:class:`UndecidableAnswersError`; neither P, with m − ℓ < m − c
    answers, nor any other polynomial qualifies). With f = t − 1 (at most t − 1 malicious
    trustees) checking needs m ≥ 2t − 1 answers: 2-of-3, 3-of-5 and 4-of-7 with every trustee
    online get c = 0 (one liar stops the decoding and is a suspect), 3-of-7 gets c = 2. Below
    m = t + f (for instance m = t) t − 1 coordinated liars can put all m answers on a wrong
    polynomial, and nothing can be verified: None."""
    if not 1 <= t <= m or f < 0:
        raise ParameterError(f"no radius for {m} answers at threshold {t} against {f} liars")
    if m < t + f:
        return None
    return min((m - t) // 2, m - t - f)


# -- scalar decoding ---------------------------------------------------------------------------


def _solve_mod(matrix: list[list[int]], rhs: list[int], q: int) -> list[int] | None:
    """One solution of matrix·x = rhs mod q (free variables 0), or None if there is none."""
    rows, cols = len(matrix), len(matrix[0]) if matrix else 0
    a = [[v % q for v in row] + [b % q] for row, b in zip(matrix, rhs, strict=True)]
    pivots: list[int] = []
    r = 0
    for c in range(cols):
        pivot = next((k for k in range(r, rows) if a[k][c]), None)
        if pivot is None:
            continue
        a[r], a[pivot] = a[pivot], a[r]
        inv = pow(a[r][c], -1, q)
        a[r] = [v * inv % q for v in a[r]]
        for k in range(rows):
            if k != r and a[k][c]:
                factor = a[k][c]
                a[k] = [(v - factor * w) % q for v, w in zip(a[k], a[r], strict=True)]
        pivots.append(c)
        r += 1
        if r == rows:
            break
    if any(a[k][cols] for k in range(r, rows)):
        return None  # 0 = nonzero: inconsistent
    x = [0] * cols
    for k, c in enumerate(pivots):
        x[c] = a[k][cols]
    return x


def _poly_divmod(num: list[int], den: list[int], q: int) -> tuple[list[int], list[int]]:
    """Quotient and remainder of polynomials (coefficients lowest first) mod q; den monic."""
    rem = [v % q for v in num]
    quot = [0] * max(len(num) - len(den) + 1, 1)
    for k in range(len(num) - len(den), -1, -1):
        coeff = rem[k + len(den) - 1]
        quot[k] = coeff
        if coeff:
            for i, d in enumerate(den):
                rem[k + i] = (rem[k + i] - coeff * d) % q
    return quot, rem[: len(den) - 1]


def _evaluate(poly: list[int], x: int, q: int) -> int:
    acc = 0
    for c in reversed(poly):
        acc = (acc * x + c) % q
    return acc


def decode_scalars(
    values: Mapping[int, int], threshold: int, q: int, max_errors: int
) -> list[int] | None:
    """Berlekamp–Welch: the polynomial (coefficients lowest first, degree < ``threshold``) that
    agrees with all but at most ``max_errors`` of ``values`` (index → value mod q), or None when
    there is none. Unique when 2·max_errors ≤ len(values) − threshold."""
    xs = sorted(values)
    m, c = len(xs), max_errors
    if not 0 <= 2 * c <= m - threshold:
        raise ParameterError(f"cannot uniquely decode {c} errors in {m} answers of threshold t")
    matrix, rhs = [], []
    for x in xs:
        y = values[x] % q
        powers = [pow(x, k, q) for k in range(c + threshold)]
        # Q(x) − y·(e_0 + ... + e_{c−1} x^{c−1}) = y·x^c
        matrix.append(powers + [(-y * powers[k]) % q for k in range(c)])
        rhs.append(y * pow(x, c, q) % q)
    solution = _solve_mod(matrix, rhs, q)
    if solution is None:
        return None
    numerator = solution[: c + threshold]
    locator = [*solution[c + threshold :], 1]
    poly, remainder = _poly_divmod(numerator, locator, q)
    if any(remainder):
        return None
    poly = (poly + [0] * threshold)[:threshold]
    wrong = sum(_evaluate(poly, x, q) != values[x] % q for x in xs)
    return poly if wrong <= c else None


# -- the decoder --------------------------------------------------------------------------------


def _project(stack: U64, q: int, rng: Rng) -> list[int]:
    """⟨w, d_j⟩ mod q for every answer d_j (rows of ``stack``, shape (m, N)), w uniform mod q."""
    weights = uniform_below(q, stack.shape[1], rng=rng)
    products = mulmod(stack, weights[None, :], q)
    sums = [0] * stack.shape[0]
    for start in range(0, stack.shape[1], _SUM_CHUNK):
        chunk = products[:, start : start + _SUM_CHUNK].sum(axis=1, dtype=np.uint64)
        sums = [s + int(v) for s, v in zip(sums, chunk, strict=True)]
    return [s % q for s in sums]


def _suspects(
    projections: list[dict[int, int]], threshold: int, moduli: tuple[int, ...]
) -> tuple[int, ...]:
    """The indices off some polynomial through t answers that agrees with the most answers
    (on the projections of every prime); every index when the search is too large."""
    indices = sorted(projections[0])
    subsets = list(itertools.combinations(indices, threshold))
    if len(subsets) > _SUSPECT_SEARCH_LIMIT:
        return tuple(indices)
    best, suspects = -1, set()
    for nodes in subsets:
        agreeing = set(indices)
        for values, q in zip(projections, moduli, strict=True):
            for x in indices:
                if x in agreeing and x not in nodes:
                    guess = sum(values[j] * lagrange_basis_at(j, list(nodes), x, q) for j in nodes)
                    if guess % q != values[x]:
                        agreeing.discard(x)
        off = set(indices) - agreeing
        if len(agreeing) > best:
            best, suspects = len(agreeing), set(off)
        elif len(agreeing) == best:
            suspects |= off
    return tuple(sorted(suspects))


def reconstruct(
    answers: Mapping[int, U64],
    threshold: int,
    moduli: tuple[int, ...],
    *,
    max_liars: int | None = None,
    rng: Rng = os.urandom,
) -> Reconstruction:
    """The value at 0 of the degree-(t − 1) polynomial the answers lie on, correcting up to
    ``max_liars`` wrong answers (default ⌊(m − t)/2⌋) and naming them; see the module docstring
    for exactly what is guaranteed for which m, t and number of liars.

    ``answers`` maps trustee index j (1..255, distinct) to its answer's residues, shape
    (len(moduli), N), uint64, every value below its prime. ``rng`` draws the projection weights.
    Raises :class:`UndecidableAnswersError` (with the suspects) when the answers are not within
    ``max_liars`` of one polynomial; never returns a value at fewer than m − max_liars agreeing
    answers."""
    indices = sorted(answers)
    m = len(indices)
    if not 1 <= threshold <= m:
        raise ParameterError(f"{m} answers cannot be decoded at threshold {threshold}")
    if indices[0] < 1 or indices[-1] > 255 or indices[-1] >= min(moduli):
        raise ParameterError("trustee indices are 1..255, below every prime")
    correctable = (m - threshold) // 2
    c = correctable if max_liars is None else max_liars
    if not 0 <= c <= correctable:
        raise ParameterError(
            f"{m} answers at threshold {threshold} can correct at most {correctable} liars"
        )
    first = answers[indices[0]]
    shape = (len(moduli), first.shape[1] if first.ndim == 2 else 0)
    for j in indices:
        d = answers[j]
        if d.shape != shape or d.dtype != np.uint64 or shape[1] == 0:
            raise ParameterError(f"trustee {j}'s answer is not {shape} uint64 residues")
        for i, q in enumerate(moduli):
            if np.any(d[i] >= np.uint64(q)):
                raise ParameterError(f"trustee {j}'s answer has a coefficient not below its prime")
    if m == threshold:
        value = interpolate_at_zero(answers, moduli)
        return Reconstruction(value, (), tuple(indices), checked=False)

    projections: list[dict[int, int]] = []
    off: set[int] = set()
    for i, q in enumerate(moduli):
        stack = np.stack([answers[j][i] for j in indices])
        values = dict(zip(indices, _project(stack, q, rng), strict=True))
        projections.append(values)
        poly = decode_scalars(values, threshold, q, c)
        if poly is None:
            raise UndecidableAnswersError(
                f"the {m} answers are not within {c} of one polynomial of degree "
                f"{threshold - 1}: too many are wrong to tell which",
                _suspects(projections, threshold, moduli[: i + 1]),
            )
        off |= {x for x in indices if _evaluate(poly, x, q) != values[x]}
    if len(off) > c:  # each prime decoded, but not to the same liars: more than c in all
        raise UndecidableAnswersError(
            f"{len(off)} of the {m} answers are off the decoded polynomials, more than {c}",
            tuple(sorted(off)),
        )

    # exact verification on every coefficient: the projection only proposed the polynomial
    base = [j for j in indices if j not in off][:threshold]
    wrong = [j for j in indices if j not in base and not _on_polynomial(answers, base, j, moduli)]
    if len(wrong) > c:
        raise UndecidableAnswersError(
            f"{len(wrong)} of the {m} answers are off the polynomial through trustees "
            f"{base}, more than {c}",
            tuple(sorted(wrong)),
        )
    value = interpolate_at_zero(answers, moduli, nodes=base)
    liars = tuple(sorted(wrong))
    consistent = tuple(j for j in indices if j not in wrong)
    return Reconstruction(value, liars, consistent, checked=True)


def _on_polynomial(
    answers: Mapping[int, U64], base: list[int], j: int, moduli: tuple[int, ...]
) -> bool:
    """Whether trustee j's whole answer equals the interpolation of ``base``'s at j."""
    expected = interpolate_at(answers, j, moduli, nodes=base)
    return bool(np.array_equal(expected, answers[j]))
