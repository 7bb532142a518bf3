"""PRSS-shared differential-privacy noise (``threshold/prss.shared_dp_noise``; docs/design.md,
"Robust threshold decryption (core)", "PRSS-shared DP noise"): the shares Z(j) of every
t-subset interpolate to Σ_A z_A (exact integers mod q, a small integer at 0); answers carrying
Δ·Z(j) stay on one polynomial, while independent per-trustee draws do not; a coalition of t − 1
learns nothing of the noise but z_H (the identity ``test_prss.py`` checks for smudging, with
the DP noise added at the released positions); one context gives one draw, another context
another; and the variance trade-off is C(n, t − 1)·σ²."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from cryptoscore.errors import MismatchError, ParameterError
from cryptoscore.hazmat.modmath import addmod, mulmod
from cryptoscore.hazmat.shamir import lagrange_basis_at
from cryptoscore.params import BFV8192
from cryptoscore.randomness import seeded_stream
from cryptoscore.threshold.discrete_gaussian import discrete_gaussians, zcdp_sigma2
from cryptoscore.threshold.prss import (
    MAX_DP_COUNT,
    deal_prss_keys,
    decryption_context,
    dp_noise_variance,
    prss_sets,
    set_dp_noise,
    set_noise,
    set_polynomial_at,
    shared_dp_noise,
    shared_dp_noise_at_zero,
    shared_noise,
)
from tests.helpers.prss import interpolate as _interpolate
from tests.helpers.prss import keys_and_c1
from tests.helpers.prss import set_keys as _set_keys

MODULI = BFV8192.moduli(BFV8192.RELEASE_LEVEL)
BIG_Q = math.prod(MODULI)
KEY_ID = "cd" * 32
CTX = decryption_context(KEY_ID, b"a released c1")
SIGMA2 = zcdp_sigma2(2, Fraction(1, 20))  # confusion cells at rho = 0.05: sigma^2 = 20
COUNT = 4  # a 2 x 2 confusion matrix
COMMITTEES = [(3, 2), (5, 3)]


def _centered(value: int, modulus: int) -> int:
    return value - modulus if value > modulus // 2 else value


@pytest.mark.parametrize(("n", "t"), COMMITTEES, ids=lambda v: str(v))
@pytest.mark.parametrize("modulus", [MODULI[0], BIG_Q], ids=["one prime", "Q"])
def test_every_t_subset_interpolates_to_the_sum_of_the_set_draws(n, t, modulus):
    all_keys = deal_prss_keys(KEY_ID, n, t, rng=seeded_stream(bytes(32), f"dp keys {n} {t}"))
    shares = {k.index: shared_dp_noise(k, CTX, SIGMA2, COUNT, modulus) for k in all_keys}
    at_zero = shared_dp_noise_at_zero(all_keys, CTX, SIGMA2, COUNT)
    draws = [
        set_dp_noise(key, a, KEY_ID, CTX, SIGMA2, COUNT) for a, key in _set_keys(all_keys).items()
    ]
    assert len(draws) == math.comb(n, t - 1)
    assert at_zero == [sum(column) for column in zip(*draws, strict=True)]
    # small integers: each draw within 10σ (a fixed stream, so a fixed outcome)
    assert all(abs(z) <= 10 * math.sqrt(SIGMA2) * len(draws) for z in at_zero)
    assert any(z != 0 for z in at_zero)
    for subset in itertools.combinations(range(1, n + 1), t):
        for k in range(COUNT):
            got = _interpolate({j: shares[j][k] for j in subset}, 0, modulus)
            assert _centered(got, modulus) == at_zero[k], (subset, k)
    if modulus == BIG_Q:  # the shares mod Q are the shares mod each prime
        for index, values in shares.items():
            one = shared_dp_noise(all_keys[index - 1], CTX, SIGMA2, COUNT, MODULI[1])
            assert [v % MODULI[1] for v in values] == one


def _answers(n, t, *, per_trustee_dp: bool):
    """Answers d_j = s_j·c1 + E(j) + Δ·Z(j) at COUNT released positions of a degree-8 c1
    (coefficient-wise, as ``test_prss.py``); or, with ``per_trustee_dp``, Δ·z_j with z_j each
    trustee's own draw (the dp-noise branch's per-trustee noise)."""
    rng = seeded_stream(bytes(32), f"answers {n} {t}")
    degree, delta = 8, MODULI[0] // 1032193  # a stand-in for Δ: any constant keeps the identities
    all_keys, secret, key_shares, c1 = keys_and_c1(KEY_ID, n, t, MODULI, degree, rng)
    bound = 1 << 45
    answers = {}
    for keys in all_keys:
        j = keys.index
        noise = shared_noise(keys, CTX, "smudging", MODULI, degree, bound=bound)
        if per_trustee_dp:
            dp = discrete_gaussians(SIGMA2, COUNT, seeded_stream(bytes(32), f"trustee {j}"))
        else:
            dp = shared_dp_noise(keys, CTX, SIGMA2, COUNT, BIG_Q)
        rows = []
        for i, q in enumerate(MODULI):
            row = addmod(mulmod(key_shares[j - 1][i], c1[i], q), noise[i], q).astype(object)
            for k in range(COUNT):
                row[k] = (row[k] + delta * dp[k]) % q
            rows.append(row)
        answers[j] = rows
    return all_keys, secret, key_shares, c1, bound, delta, answers


@pytest.mark.parametrize(("n", "t"), COMMITTEES, ids=lambda v: str(v))
def test_answers_with_shared_dp_noise_lie_on_one_polynomial_and_per_trustee_noise_does_not(n, t):
    for per_trustee in (False, True):
        *_, answers = _answers(n, t, per_trustee_dp=per_trustee)
        q = MODULI[0]
        off = 0
        for k in range(COUNT):
            first_t = {j: int(answers[j][0][k]) for j in range(1, t + 1)}
            off += sum(
                _interpolate(first_t, j, q) != int(answers[j][0][k]) for j in range(t + 1, n + 1)
            )
        # shared: every answer on the polynomial; independent draws: the other n − t are off it
        # (the reason the DP noise must be PRSS-shared for Reed–Solomon decoding)
        assert off == (COUNT * (n - t) if per_trustee else 0), per_trustee


@pytest.mark.parametrize(("n", "t"), [(3, 2), (4, 2), (4, 3), (5, 3), (5, 4)], ids=lambda v: str(v))
def test_a_coalition_of_t_minus_1_learns_only_the_honest_sets_dp_draw(n, t):
    """At the released positions P(x) − [what C knows] = ℓ_0(x)·(s·c1 + x_H + Δ·z_H) at every
    trustee index: C knows its key shares and every x_A, z_A with A ≠ H, nothing of z_H.
    The noise alone: Z(x) − Σ_{A ≠ H} z_A·f_A(x) = z_H·ℓ_0(x). Fails if a set's draw depended
    on anything its members do not share, or if f_A were wrong."""
    all_keys, secret, key_shares, c1, bound, delta, answers = _answers(n, t, per_trustee_dp=False)
    set_keys = _set_keys(all_keys)
    degree = c1.shape[1]
    x_noise = {
        a: set_noise(k, a, KEY_ID, CTX, "smudging", MODULI, degree, bound=bound)
        for a, k in set_keys.items()
    }
    z_noise = {a: set_dp_noise(k, a, KEY_ID, CTX, SIGMA2, COUNT) for a, k in set_keys.items()}
    shares = {k.index: shared_dp_noise(k, CTX, SIGMA2, COUNT, BIG_Q) for k in all_keys}
    for coalition in itertools.combinations(range(1, n + 1), t - 1):
        honest = tuple(j for j in range(1, n + 1) if j not in coalition)
        assert [a for a in prss_sets(n, t) if not set(a) & set(coalition)] == [honest]
        nodes = [*coalition, 0]
        for x in range(1, n + 1):
            ell_0 = lagrange_basis_at(0, nodes, x, BIG_Q)
            known_z = [
                sum(
                    z[k] * set_polynomial_at(a, n, x, BIG_Q)
                    for a, z in z_noise.items()
                    if a != honest
                )
                for k in range(COUNT)
            ]
            assert [(shares[x][k] - known_z[k]) % BIG_Q for k in range(COUNT)] == [
                z_noise[honest][k] * ell_0 % BIG_Q for k in range(COUNT)
            ], (coalition, x)
            for i, q in enumerate(MODULI):
                for k in range(COUNT):
                    known = sum(
                        int(key_shares[m - 1][i][k])
                        * int(c1[i][k])
                        * lagrange_basis_at(m, nodes, x, q)
                        for m in coalition
                    )
                    known += sum(
                        (int(x_noise[a][i][k]) + delta * z_noise[a][k])
                        * set_polynomial_at(a, n, x, q)
                        for a in set_keys
                        if a != honest
                    )
                    hidden = int(secret[i][k]) * int(c1[i][k]) + int(x_noise[honest][i][k])
                    hidden += delta * z_noise[honest][k]
                    rest = (int(answers[x][i][k]) - known) % q
                    assert rest == hidden * lagrange_basis_at(0, nodes, x, q) % q, (coalition, x)


def test_one_context_gives_one_draw_and_another_context_another():
    keys = deal_prss_keys(KEY_ID, 5, 3)[2]
    first = shared_dp_noise(keys, CTX, SIGMA2, 64, BIG_Q)
    assert shared_dp_noise(keys, CTX, SIGMA2, 64, BIG_Q) == first  # nothing fresh to average
    other_ctx = decryption_context(KEY_ID, b"another released c1")
    for variant in (
        shared_dp_noise(keys, other_ctx, SIGMA2, 64, BIG_Q),
        shared_dp_noise(keys, CTX, SIGMA2 + 1, 64, BIG_Q),
        shared_dp_noise(keys, CTX, SIGMA2, 65, BIG_Q)[:64],
    ):
        assert sum(a == b for a, b in zip(first, variant, strict=True)) < 3
    a, key = keys.set_keys[0]
    draw = set_dp_noise(key, a, KEY_ID, CTX, SIGMA2, 64)
    assert set_dp_noise(key, a, KEY_ID, CTX, SIGMA2, 64) == draw
    assert set_dp_noise(key, a, KEY_ID, other_ctx, SIGMA2, 64) != draw
    # every member of a set derives the same z_A from its own copy of r_A
    members = deal_prss_keys(KEY_ID, 3, 2)
    by_member = {
        (a, k.index): set_dp_noise(key, a, KEY_ID, CTX, SIGMA2, COUNT)
        for k in members
        for a, key in k.set_keys
    }
    for a in prss_sets(3, 2):
        assert len({tuple(v) for (s, _), v in by_member.items() if s == a}) == 1


def test_the_variance_trade_off():
    sigma2 = Fraction(20)
    table = {(3, 2): (3, 2), (5, 3): (10, 3), (7, 4): (35, 4)}
    for (n, t), (sets, trustees) in table.items():
        assert dp_noise_variance(n, t, sigma2) == sets * sigma2
        assert math.comb(n, t - 1) == sets and trustees == t
    # the decoded noise's empirical variance (3-of-5: 10 draws per value) is about 10·σ²
    all_keys = deal_prss_keys(KEY_ID, 5, 3, rng=seeded_stream(bytes(32), "variance"))
    sums = shared_dp_noise_at_zero(all_keys, CTX, sigma2, MAX_DP_COUNT)
    variance = sum(v * v for v in sums) / len(sums)
    assert abs(variance - 200) < 5 * 200 * math.sqrt(2 / len(sums))


def test_bad_dp_arguments_are_refused():
    keys = deal_prss_keys(KEY_ID, 5, 3)[0]
    a, key = keys.set_keys[0]
    for sigma2, count, ctx in [
        (Fraction(0), 4, CTX),
        (Fraction(-1), 4, CTX),
        (20.0, 4, CTX),
        (SIGMA2, 0, CTX),
        (SIGMA2, MAX_DP_COUNT + 1, CTX),
        (SIGMA2, True, CTX),
        (SIGMA2, 4, b""),
        (SIGMA2, 4, bytes(257)),
    ]:
        with pytest.raises(ParameterError):
            set_dp_noise(key, a, KEY_ID, ctx, sigma2, count)
        with pytest.raises(ParameterError):
            shared_dp_noise(keys, ctx, sigma2, count, BIG_Q)
    for modulus in (5, 6, 7 * 3, 4):  # a factor up to n = 5 would leave f_A undefined
        with pytest.raises(ParameterError, match="modulus"):
            shared_dp_noise(keys, CTX, SIGMA2, COUNT, modulus)
    assert shared_dp_noise(keys, CTX, SIGMA2, COUNT, 7 * 11)
    with pytest.raises(ParameterError):
        set_dp_noise(key, a, "XY", CTX, SIGMA2, COUNT)
    mixed = [*deal_prss_keys(KEY_ID, 3, 2)[:2], deal_prss_keys(KEY_ID, 3, 2)[2]]
    with pytest.raises(MismatchError, match="different keys for set"):
        shared_dp_noise_at_zero(mixed, CTX, SIGMA2, COUNT)
    with pytest.raises(ParameterError, match="miss"):
        shared_dp_noise_at_zero(deal_prss_keys(KEY_ID, 4, 3)[:1], CTX, SIGMA2, COUNT)
    with pytest.raises(ParameterError):
        dp_noise_variance(13, 6, SIGMA2)
