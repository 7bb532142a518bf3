"""Robust reconstruction (``threshold/robust.py``; docs/design.md, "Robust threshold decryption
(core)"), acting as lying trustees: up to ⌊(m − t)/2⌋ wrong answers are corrected and exactly
their senders named — random answers, a Δ·k shift of one coefficient, two coefficients shifted
so that they cancel in a sum; more wrong answers with at least t honest ones are detected when
the module docstring says so; no value is ever returned on fewer than m − c agreeing answers.

Answers are Shamir shares (``hazmat/shamir.share``) of a random secret over the release primes
of bfv-8192; test data comes from seeded streams (reproducible under hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoscore.errors import ParameterError, UndecidableAnswersError
from cryptoscore.hazmat.modmath import U64, addmod, mulmod, submod, uniform_below
from cryptoscore.hazmat.shamir import lagrange_basis_at, share
from cryptoscore.params import BFV8192, BFV16384
from cryptoscore.randomness import Rng, seeded_stream
from cryptoscore.threshold.prss import deal_prss_keys, decryption_context, shared_noise
from cryptoscore.threshold.robust import (
    decode_scalars,
    interpolate_at,
    interpolate_at_zero,
    reconstruct,
)

PARAMS = BFV8192
MODULI = PARAMS.moduli(PARAMS.RELEASE_LEVEL)
DEGREE = 32
DELTA = (math.prod(MODULI) - 1) // PARAMS.PLAIN_MODULUS

LIES = ("random", "delta-shift", "two-coefficients")


def _secret_and_answers(
    m: int, t: int, rng: Rng, n: int | None = None
) -> tuple[U64, dict[int, U64]]:
    secret = np.stack([uniform_below(q, DEGREE, rng=rng) for q in MODULI])
    indices = list(range(1, (n or m) + 1))
    shares = share(secret, MODULI, t, indices, rng=rng)
    return secret, {j: s for j, s in zip(indices, shares, strict=True)}


def _lie(answer: U64, how: str, rng: Rng) -> U64:
    """A wrong answer: random residues; Δ·k added to one coefficient (a released count moved by
    k); or +k at one coefficient and −k at another, which a sum of coefficients does not see."""
    out = answer.copy()
    position = int(uniform_below(DEGREE, 1, rng=rng)[0])
    k = int(uniform_below(1000, 1, rng=rng)[0]) + 1
    for i, q in enumerate(MODULI):
        if how == "random":
            out[i] = uniform_below(q, DEGREE, rng=rng)
            continue
        shift = np.zeros(DEGREE, dtype=np.uint64)
        if how == "delta-shift":
            shift[position] = DELTA * k % q
            out[i] = addmod(out[i], shift, q)
        else:
            shift[position] = k
            out[i] = addmod(out[i], shift, q)
            out[i] = submod(out[i], np.roll(shift, 1), q)
    return out


def _pick(indices: list[int], count: int, rng: Rng) -> list[int]:
    pool, chosen = list(indices), []
    for _ in range(count):
        chosen.append(pool.pop(int(uniform_below(len(pool), 1, rng=rng)[0])))
    return sorted(chosen)


scenarios = (
    st.integers(1, 7)
    .flatmap(lambda t: st.tuples(st.just(t), st.integers(t, 11)))
    .flatmap(lambda tm: st.tuples(st.just(tm), st.integers(0, (tm[1] - tm[0]) // 2)))
)


@settings(max_examples=150, deadline=None)
@given(scenario=scenarios, how=st.sampled_from(LIES), seed=st.binary(min_size=32, max_size=32))
def test_up_to_half_the_redundancy_in_liars_is_corrected_and_exactly_the_liars_named(
    scenario, how, seed
):
    (t, m), count = scenario
    rng = seeded_stream(seed, "robust")
    secret, answers = _secret_and_answers(m, t, rng)
    liars = _pick(list(answers), count, rng)
    for j in liars:
        answers[j] = _lie(answers[j], how, rng)
    result = reconstruct(answers, t, MODULI)
    assert np.array_equal(result.value, secret)
    assert result.liars == tuple(liars)
    assert result.consistent == tuple(j for j in sorted(answers) if j not in liars)
    assert result.checked == (m > t)


@settings(max_examples=100, deadline=None)
@given(
    tm=st.integers(1, 6).flatmap(lambda t: st.tuples(st.just(t), st.integers(t + 1, 10))),
    how=st.sampled_from(LIES),
    data=st.data(),
    seed=st.binary(min_size=32, max_size=32),
)
def test_more_liars_with_t_honest_answers_are_detected_and_no_value_returned(tm, how, data, seed):
    """Independent wrong answers beyond ⌊(m − t)/2⌋, at least t honest: detected; the suspects
    include every liar, and are exactly the liars when more than t answers are honest."""
    t, m = tm
    correctable = (m - t) // 2
    if correctable + 1 > m - t:
        return  # no room for more liars with t honest answers
    count = data.draw(st.integers(correctable + 1, m - t))
    rng = seeded_stream(seed, "detect")
    _, answers = _secret_and_answers(m, t, rng)
    liars = _pick(list(answers), count, rng)
    for j in liars:
        answers[j] = _lie(answers[j], how, rng)
    with pytest.raises(UndecidableAnswersError) as caught:
        reconstruct(answers, t, MODULI)
    assert set(liars) <= set(caught.value.suspects)
    if m - count > t:
        assert caught.value.suspects == tuple(liars)


@pytest.mark.parametrize("how", LIES)
def test_two_of_three_with_one_liar_is_detected_but_not_named(how):
    rng = seeded_stream(bytes(32), f"2of3 {how}")
    for liar in (1, 2, 3):
        _, answers = _secret_and_answers(3, 2, rng)
        answers[liar] = _lie(answers[liar], how, rng)
        with pytest.raises(UndecidableAnswersError, match="too many are wrong") as caught:
            reconstruct(answers, 2, MODULI)
        assert caught.value.suspects == (1, 2, 3)  # any of the three could be the liar


def _coordinated(answers: dict[int, U64], liars: list[int], through: list[int]) -> None:
    """Liars answer on another polynomial of degree t − 1 that passes through the honest answers
    of ``through`` (t − 1 trustees) — the strongest attack on a unique decoder: P'(x) = P(x) +
    δ·ℓ_0(x), ℓ_0 the Lagrange basis of 0 over ``through`` ∪ {0}, so P' = P on ``through`` and
    P'(0) = P(0) + δ, with δ = 1000·Δ (every released count moved by 1000)."""
    nodes = [*through, 0]
    for i, q in enumerate(MODULI):
        delta = 1000 * DELTA % q
        for j in liars:
            shift = delta * lagrange_basis_at(0, nodes, j, q) % q
            answers[j][i] = addmod(answers[j][i], np.full(DEGREE, shift, dtype=np.uint64), q)


def test_detect_only_mode_detects_every_coordinated_lie_while_t_answers_are_honest():
    """``max_liars=0``: with at least t honest answers, even liars who agree on one other
    polynomial through t − 1 honest answers are detected."""
    rng = seeded_stream(bytes(32), "detect only")
    for t, m in [(2, 3), (3, 5), (2, 5), (4, 7), (3, 7)]:
        for count in range(1, m - t + 1):
            _, answers = _secret_and_answers(m, t, rng)
            liars = list(range(m - count + 1, m + 1))
            honest = [j for j in answers if j not in liars]
            _coordinated(answers, liars, honest[: t - 1])
            with pytest.raises(UndecidableAnswersError):
                reconstruct(answers, t, MODULI, max_liars=0)


def test_the_correction_bound_is_tight_for_coordinated_liars():
    """The documented limit (module docstring, third case): 3-of-7 corrects c = 2 liars, and
    detects nothing more; 3 coordinated liars whose polynomial passes through t − 1 = 2 honest
    answers agree with 5 = m − c answers, so their value is decoded and 2 honest trustees named.
    With ``max_liars=0`` the same answers are detected."""
    t, m = 3, 7
    rng = seeded_stream(bytes(32), "tight")
    secret, answers = _secret_and_answers(m, t, rng)
    liars = [5, 6, 7]
    _coordinated(answers, liars, [1, 2])
    result = reconstruct(answers, t, MODULI)
    assert not np.array_equal(result.value, secret)
    assert result.liars == (3, 4)
    with pytest.raises(UndecidableAnswersError):
        reconstruct(answers, t, MODULI, max_liars=0)
    # with one liar fewer it is corrected
    secret, answers = _secret_and_answers(m, t, rng)
    _coordinated(answers, [6, 7], [1, 2])
    result = reconstruct(answers, t, MODULI)
    assert np.array_equal(result.value, secret) and result.liars == (6, 7)


def test_a_lie_the_projection_cannot_see_is_caught_by_the_exact_check():
    """The guard: the full answers are verified, not just their projection. An rng that makes
    every projection weight 1 (what a liar who could predict the weights would aim for) does not
    see +k at one coefficient and −k at another; the exact check still refuses the value."""
    ones: Rng = lambda n: (1).to_bytes(8, "little") * (n // 8)  # noqa: E731
    rng = seeded_stream(bytes(32), "kernel")
    secret, answers = _secret_and_answers(5, 3, rng)
    answers[1] = _lie(answers[1], "two-coefficients", rng)  # trustee 1 is in the base
    with pytest.raises(UndecidableAnswersError):
        reconstruct(answers, 3, MODULI, rng=ones)
    secret, answers = _secret_and_answers(5, 3, rng)
    answers[5] = _lie(answers[5], "two-coefficients", rng)  # outside the base: named
    result = reconstruct(answers, 3, MODULI, rng=ones)
    assert np.array_equal(result.value, secret) and result.liars == (5,)


def test_any_t_answers_alone_are_interpolated_unchecked():
    rng = seeded_stream(bytes(32), "m = t")
    secret, answers = _secret_and_answers(5, 3, rng)
    three = {j: answers[j] for j in (2, 4, 5)}
    result = reconstruct(three, 3, MODULI)
    assert np.array_equal(result.value, secret) and not result.checked
    assert np.array_equal(interpolate_at_zero(three, MODULI), secret)
    assert np.array_equal(interpolate_at(three, 1, MODULI), answers[1])


def test_prss_smudged_decryption_answers_are_decoded_robustly():
    """End to end on the core: trustees answer d_j = s_j·c1 + E(j) with PRSS smudging at
    bfv-16384's release level; a trustee adding Δ·k is named and the value is unchanged."""
    params = BFV16384
    moduli = params.moduli(params.RELEASE_LEVEL)
    n, t, degree = 5, 3, 64
    key_id = "cd" * 32
    rng = seeded_stream(bytes(32), "end to end")
    all_keys = deal_prss_keys(key_id, n, t, rng=rng)
    secret = np.stack([uniform_below(q, degree, rng=rng) for q in moduli])
    key_shares = share(secret, moduli, t, list(range(1, n + 1)), rng=rng)
    c1 = np.stack([uniform_below(q, degree, rng=rng) for q in moduli])
    ctx = decryption_context(key_id, c1.tobytes())
    answers = {}
    for keys in all_keys:
        e = shared_noise(keys, ctx, "smudging", moduli, degree, bound=1 << 120)
        j = keys.index
        answers[j] = np.stack(
            [addmod(mulmod(key_shares[j - 1][i], c1[i], q), e[i], q) for i, q in enumerate(moduli)]
        )
    honest = reconstruct(answers, t, moduli)
    delta = (math.prod(moduli) - 1) // params.PLAIN_MODULUS
    answers[2] = answers[2].copy()
    for i, q in enumerate(moduli):
        answers[2][i, 7] = (int(answers[2][i, 7]) + 5 * delta) % q
    robust = reconstruct(answers, t, moduli)
    assert robust.liars == (2,) and np.array_equal(robust.value, honest.value)
    assert honest.liars == () and honest.consistent == (1, 2, 3, 4, 5)


def test_berlekamp_welch_on_scalars():
    q = MODULI[0]
    poly = [5, 7, 11]  # 5 + 7x + 11x²

    def at(x: int) -> int:
        return (5 + 7 * x + 11 * x * x) % q

    values = {x: at(x) for x in range(1, 8)}
    assert decode_scalars(values, 3, q, 2) == poly
    values[2], values[6] = 1, 2
    assert decode_scalars(values, 3, q, 2) == poly
    values[4] = 3
    assert decode_scalars(values, 3, q, 2) is None
    with pytest.raises(ParameterError):
        decode_scalars(values, 3, q, 3)


def test_bad_inputs_are_refused():
    rng = seeded_stream(bytes(32), "inputs")
    _, answers = _secret_and_answers(4, 2, rng)
    with pytest.raises(ParameterError, match="threshold"):
        reconstruct(answers, 5, MODULI)
    with pytest.raises(ParameterError, match="at most 1 liars"):
        reconstruct(answers, 2, MODULI, max_liars=2)
    bad = dict(answers)
    bad[3] = answers[3][:, :-1]
    with pytest.raises(ParameterError, match="trustee 3"):
        reconstruct(bad, 2, MODULI)
    bad[3] = answers[3].copy()
    bad[3][1, 0] = np.uint64(MODULI[1])
    with pytest.raises(ParameterError, match="not below its prime"):
        reconstruct(bad, 2, MODULI)
    with pytest.raises(ParameterError, match="indices"):
        reconstruct({0: answers[1], 1: answers[2]}, 2, MODULI)
    with pytest.raises(ParameterError, match="indices"):
        reconstruct({1: answers[1], 256: answers[2]}, 2, MODULI)
