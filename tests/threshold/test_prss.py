"""PRSS-shared noise (``threshold/prss.py``; docs/design.md, "Robust threshold decryption
(core)"): the n shares lie on one polynomial of degree t − 1 whose value at 0 is Σ_A x_A;
decryption answers s_j·c1 + E(j) interpolate to s·c1 + Σ_A x_A from every t-subset; a coalition
of t − 1 learns only s·c1 + x_H; the noise is deterministic per context; the key record refuses
every malformed encoding.

Products s_j·c1 are taken coefficient-wise mod q, as in the NTT domain where the ring product is
pointwise: every identity checked here is linear in each coefficient, so it holds for the ring
product exactly when it holds for this one. Test data comes from seeded streams (reproducible
under hypothesis), never numpy's generators."""

from __future__ import annotations

import itertools
import math
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoscore.envelope import canonical_json
from cryptoscore.errors import FormatError, MismatchError, ParameterError
from cryptoscore.hazmat.modmath import (
    CBD_K,
    U64,
    addmod,
    crt_lift,
    mulmod,
)
from cryptoscore.hazmat.shamir import lagrange_basis_at
from cryptoscore.params import BFV8192, BFV16384
from cryptoscore.randomness import seeded_stream
from cryptoscore.scoring.noise import transcript_exposure
from cryptoscore.scoring.validity import check_count
from cryptoscore.threshold.prss import (
    MAGIC,
    MAX_SETS_PER_TRUSTEE,
    PrssKeys,
    check_committee,
    commitment,
    deal_prss_keys,
    decryption_context,
    prss_sets,
    prss_smudging,
    set_noise,
    set_polynomial_at,
    sets_per_answer,
    shamir_transcript_exposure,
    shared_noise,
    shared_noise_at_zero,
    trustee_sets,
)
from tests.helpers.prss import interpolate as _interpolate
from tests.helpers.prss import keys_and_c1
from tests.helpers.prss import set_keys as _set_keys

MODULI = BFV8192.moduli(BFV8192.RELEASE_LEVEL)
DEGREE = 8
KEY_ID = "ab" * 32
CTX = decryption_context(KEY_ID, b"some c1 polynomial")

committees = st.integers(2, 7).flatmap(lambda n: st.tuples(st.just(n), st.integers(2, n)))
kinds = st.sampled_from(
    [("smudging", {"bound": 1 << 40}), ("pad-error", {}), ("mask", {"plain_modulus": 1032193})]
)


def _centered(residues: U64, moduli: tuple[int, ...]) -> list[int]:
    """The integers of absolute value below Q/2 with these residues."""
    big_q = math.prod(moduli)
    return [v - big_q if v > big_q // 2 else v for v in crt_lift(list(residues), moduli)]


# -- Shamir consistency -----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(committee=committees, kind=kinds, seed=st.binary(min_size=32, max_size=32))
def test_shares_lie_on_one_polynomial_whose_value_at_zero_is_the_sum_of_set_noises(
    committee, kind, seed
):
    n, t = committee
    name, extra = kind
    all_keys = deal_prss_keys(KEY_ID, n, t, rng=seeded_stream(seed, "keys"))
    shares = {k.index: shared_noise(k, CTX, name, MODULI, DEGREE, **extra) for k in all_keys}
    at_zero = shared_noise_at_zero(all_keys, CTX, name, MODULI, DEGREE, **extra)
    # Σ_A x_A recomputed as integers, set by set
    expected = np.zeros(DEGREE, dtype=object)
    for a, key in _set_keys(all_keys).items():
        x = set_noise(key, a, KEY_ID, CTX, name, MODULI, DEGREE, **extra)
        expected += np.array(_centered(np.stack(x), MODULI), dtype=object)
    assert _centered(at_zero, MODULI) == list(expected)
    for i, q in enumerate(MODULI):
        for k in range(DEGREE):
            first_t = {j: int(shares[j][i, k]) for j in range(1, t + 1)}
            for j in range(t + 1, n + 1):  # the other n − t shares on the same polynomial
                assert _interpolate(first_t, j, q) == int(shares[j][i, k])
            assert _interpolate(first_t, 0, q) == int(at_zero[i, k])


@settings(max_examples=20, deadline=None)
@given(committee=committees, seed=st.binary(min_size=32, max_size=32))
def test_answers_of_every_t_subset_decrypt_to_s_c1_plus_the_summed_noise(committee, seed):
    n, t = committee
    rng = seeded_stream(seed, "data")
    all_keys, secret, key_shares, c1 = keys_and_c1(KEY_ID, n, t, MODULI, DEGREE, rng)
    bound = 1 << 50
    answers = {}
    for keys in all_keys:
        noise = shared_noise(keys, CTX, "smudging", MODULI, DEGREE, bound=bound)
        j = keys.index
        answers[j] = np.stack(
            [
                addmod(mulmod(key_shares[j - 1][i], c1[i], q), noise[i], q)
                for i, q in enumerate(MODULI)
            ]
        )
    e0 = shared_noise_at_zero(all_keys, CTX, "smudging", MODULI, DEGREE, bound=bound)
    want = np.stack([addmod(mulmod(secret[i], c1[i], q), e0[i], q) for i, q in enumerate(MODULI)])
    assert max(abs(v) for v in _centered(e0, MODULI)) <= math.comb(n, t - 1) * bound
    for subset in itertools.combinations(range(1, n + 1), t):
        for i, q in enumerate(MODULI):
            for k in range(DEGREE):
                got = _interpolate({j: int(answers[j][i, k]) for j in subset}, 0, q)
                assert got == int(want[i, k]), (subset, i, k)


# -- the coalition property -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "t"), [(n, t) for n in range(2, 6) for t in range(2, n + 1)], ids=lambda v: str(v)
)
def test_a_coalition_of_t_minus_1_learns_only_s_c1_plus_the_honest_sets_noise(n, t):
    """P(x) − [what C knows] = ℓ_0(x)·(s·c1 + x_H) at every trustee index, coefficient-wise:
    C's shares of s, every x_A with A ≠ H (each such A meets C), and nothing of x_H.
    Fails if f_A is wrong (for example f_A(i) = 0 for i ∈ A rather than i ∉ A)."""
    rng = seeded_stream(bytes(32), f"coalition {n} {t}")
    all_keys, secret, key_shares, c1 = keys_and_c1(KEY_ID, n, t, MODULI, DEGREE, rng)
    set_keys = _set_keys(all_keys)
    bound = 1 << 45
    answers = {}
    for keys in all_keys:
        noise = shared_noise(keys, CTX, "smudging", MODULI, DEGREE, bound=bound)
        j = keys.index
        answers[j] = [
            addmod(mulmod(key_shares[j - 1][i], c1[i], q), noise[i], q)
            for i, q in enumerate(MODULI)
        ]
    noises = {
        a: set_noise(key, a, KEY_ID, CTX, "smudging", MODULI, DEGREE, bound=bound)
        for a, key in set_keys.items()
    }
    for coalition in itertools.combinations(range(1, n + 1), t - 1):
        honest = tuple(j for j in range(1, n + 1) if j not in coalition)
        assert [a for a in prss_sets(n, t) if not set(a) & set(coalition)] == [honest]
        nodes = [*coalition, 0]
        for i, q in enumerate(MODULI):
            hidden = addmod(mulmod(secret[i], c1[i], q), noises[honest][i], q)  # s·c1 + x_H
            for x in range(1, n + 1):
                known = np.zeros(DEGREE, dtype=np.uint64)
                for member in coalition:  # C's key shares times c1, through ℓ_i over C ∪ {0}
                    weight = lagrange_basis_at(member, nodes, x, q)
                    part = mulmod(key_shares[member - 1][i], c1[i], q)
                    known = addmod(known, mulmod(part, weight, q), q)
                for a, x_a in noises.items():  # every set's noise but H's
                    if a != honest:
                        known = addmod(known, mulmod(x_a[i], set_polynomial_at(a, n, x, q), q), q)
                rest = (answers[x][i].astype(object) - known.astype(object)) % q
                ell_0 = lagrange_basis_at(0, nodes, x, q)
                assert list(rest) == list(hidden.astype(object) * ell_0 % q), (coalition, x)


def test_set_polynomials_are_one_at_zero_and_zero_outside_their_set():
    q = MODULI[0]
    for n, t in [(3, 2), (5, 3), (7, 4), (6, 1), (4, 4)]:
        for a in prss_sets(n, t):
            assert set_polynomial_at(a, n, 0, q) == 1
            assert all(set_polynomial_at(a, n, i, q) == 0 for i in range(1, n + 1) if i not in a)
            assert all(set_polynomial_at(a, n, i, q) != 0 for i in a)


# -- the sets and their cost ---------------------------------------------------------------------


def test_sets_are_canonical_and_counted():
    assert prss_sets(3, 2) == ((1, 2), (1, 3), (2, 3))
    assert prss_sets(4, 1) == ((1, 2, 3, 4),)
    for n in range(1, 13):
        for t in range(1, n + 1):
            sets = prss_sets(n, t)
            assert len(sets) == math.comb(n, t - 1)
            assert list(sets) == sorted(sets)
            for j in range(1, n + 1):
                assert (
                    len(trustee_sets(n, t, j)) == sets_per_answer(n, t) == math.comb(n - 1, t - 1)
                )


def test_committees_beyond_the_cost_cap_are_refused():
    check_committee(12, 6)  # C(11, 5) = 462, the cap
    check_committee(16, 3)
    assert sets_per_answer(12, 6) == MAX_SETS_PER_TRUSTEE
    for n, t in [(13, 6), (16, 8), (14, 5)]:
        with pytest.raises(ParameterError, match=r"C\(\d+, \d+\) = \d+ noise polynomials"):
            check_committee(n, t)
        with pytest.raises(ParameterError):
            deal_prss_keys(KEY_ID, n, t)
    for n, t in [(17, 3), (3, 4), (3, 0)]:
        with pytest.raises(ParameterError):
            check_committee(n, t)


# -- determinism and independence ------------------------------------------------------------------


def test_the_same_keys_and_context_give_the_same_noise_and_others_independent_noise():
    keys = deal_prss_keys(KEY_ID, 5, 3)[1]
    n = 4096
    first = shared_noise(keys, CTX, "smudging", MODULI, n, bound=1 << 40)
    again = shared_noise(keys, CTX, "smudging", MODULI, n, bound=1 << 40)
    assert np.array_equal(first, again)
    other_ctx = decryption_context(KEY_ID, b"another c1")
    variants = [
        shared_noise(keys, other_ctx, "smudging", MODULI, n, bound=1 << 40),
        shared_noise(keys, CTX, "smudging", MODULI, n, bound=(1 << 40) + 1),
        shared_noise(keys, CTX, "mask", MODULI, n, plain_modulus=1032193),
        shared_noise(keys, CTX, "pad-error", MODULI, n),
    ]
    base = np.array(first[0], dtype=np.float64)
    for variant in variants:
        assert not np.array_equal(first, variant)
        other = np.array(variant[0], dtype=np.float64)
        # shares are uniform-looking residues: no correlation between contexts or kinds
        assert abs(np.corrcoef(base, other)[0, 1]) < 0.1
        assert np.count_nonzero(variant[0] == first[0]) < 5


def test_each_set_noise_has_its_distribution():
    a = (1, 2, 3)
    key = bytes(range(32))
    n = 1 << 14

    def ints(kind, **extra):
        return np.array(
            _centered(np.stack(set_noise(key, a, KEY_ID, CTX, kind, MODULI, n, **extra)), MODULI),
            dtype=object,
        )

    smudge = ints("smudging", bound=1000)
    assert smudge.min() >= -1000 and smudge.max() <= 1000 and smudge.min() < -900
    assert abs(float(np.mean(smudge.astype(float)))) < 30
    huge = 1 << 80  # beyond 2^63: drawn as limbs, residues per prime (Q_rel ≈ 2^88)
    big = ints("smudging", bound=huge)
    assert big.min() >= -huge and big.max() <= huge and big.max() > huge // 2
    pad = ints("pad-error").astype(np.int64)
    assert np.abs(pad).max() <= CBD_K and abs(pad.var() - CBD_K / 2) < 0.5
    mask = ints("mask", plain_modulus=1032193)
    assert mask.min() >= 0 and mask.max() < 1032193
    # the integer does not depend on the primes: one prime gives the first residue row
    one = set_noise(key, a, KEY_ID, CTX, "smudging", MODULI[:1], n, bound=huge)
    assert np.array_equal(
        one[0], set_noise(key, a, KEY_ID, CTX, "smudging", MODULI, n, bound=huge)[0]
    )


def test_release_level_smudging_at_bfv16384_is_shared_correctly():
    moduli = BFV16384.moduli(BFV16384.RELEASE_LEVEL)
    bound = 1 << 121
    all_keys = deal_prss_keys(KEY_ID, 4, 3)
    shares = {k.index: shared_noise(k, CTX, "smudging", moduli, 16, bound=bound) for k in all_keys}
    e0 = shared_noise_at_zero(all_keys, CTX, "smudging", moduli, 16, bound=bound)
    for i, q in enumerate(moduli):
        for k in range(16):
            pts = {j: int(shares[j][i, k]) for j in (2, 3, 4)}
            assert _interpolate(pts, 0, q) == int(e0[i, k])
    assert max(abs(v) for v in _centered(e0, moduli)) <= 6 * bound


def test_bad_noise_arguments_are_refused():
    keys = deal_prss_keys(KEY_ID, 3, 2)[0]
    for kind, extra in [
        ("smudging", {}),
        ("smudging", {"bound": 0}),
        ("mask", {}),
        ("mask", {"bound": 5}),
        ("pad-error", {"bound": 5}),
        ("gaussian", {}),
    ]:
        with pytest.raises(ParameterError):
            shared_noise(keys, CTX, kind, MODULI, DEGREE, **extra)
    with pytest.raises(ParameterError):
        shared_noise(keys, b"", "pad-error", MODULI, DEGREE)
    mixed = [*deal_prss_keys(KEY_ID, 3, 2)[:2], deal_prss_keys(KEY_ID, 3, 2)[2]]
    with pytest.raises(MismatchError, match="different keys for set"):
        shared_noise_at_zero(mixed, CTX, "pad-error", MODULI, DEGREE)
    with pytest.raises(ParameterError, match="miss"):
        shared_noise_at_zero(deal_prss_keys(KEY_ID, 4, 3)[:1], CTX, "pad-error", MODULI, DEGREE)


# -- the key record ------------------------------------------------------------------------------


def _raw(header: dict, body: bytes, version: int = 1, magic: bytes = MAGIC) -> bytes:
    head = canonical_json(header)
    return struct.pack("<8sHI", magic, version, len(head)) + head + body


def test_keys_round_trip_and_commitments_agree_between_members():
    all_keys = deal_prss_keys(KEY_ID, 5, 3)
    for keys in all_keys:
        assert PrssKeys.from_bytes(keys.to_bytes()) == keys
        assert len(keys.set_keys) == 6
        assert keys.sets == trustee_sets(5, 3, keys.index)
        assert keys.set_keys[0][1].hex() not in repr(keys)
    published: dict[tuple[int, ...], set[bytes]] = {}
    for keys in all_keys:
        for a, digest in keys.commitments():
            published.setdefault(a, set()).add(digest)
    assert all(len(digests) == 1 for digests in published.values())
    assert len({d for digests in published.values() for d in digests}) == len(prss_sets(5, 3))
    key = all_keys[0].set_keys[0][1]
    assert commitment(key, (1, 2, 3), KEY_ID) != commitment(key, (1, 2, 4), KEY_ID)
    assert commitment(key, (1, 2, 3), KEY_ID) != commitment(key, (1, 2, 3), "cd" * 32)


def test_the_dealer_draws_from_the_rng_it_is_given():
    one = deal_prss_keys(KEY_ID, 4, 2, rng=seeded_stream(bytes(32), "dealer"))
    two = deal_prss_keys(KEY_ID, 4, 2, rng=seeded_stream(bytes(32), "dealer"))
    assert one == two
    assert deal_prss_keys(KEY_ID, 4, 2) != one
    with pytest.raises(ParameterError):
        deal_prss_keys(KEY_ID, 4, 2, rng=lambda n: os.urandom(n - 1))


def _good() -> tuple[dict, bytes]:
    keys = deal_prss_keys(KEY_ID, 4, 3)[1]  # trustee 2: sets of size 2 containing 2
    return keys.header(), b"".join(k for _, k in keys.set_keys)


def _malformed():
    header, body = _good()
    sets = header["sets"]
    yield "truncated", _raw(header, body)[:10], "truncated"
    yield "body cut", _raw(header, body[:-1]), "bytes of keys"
    yield "body long", _raw(header, body + b"\0"), "bytes of keys"
    yield "version", _raw(header, body, version=2), "format version 2"
    yield "magic", _raw(header, body, magic=b"CSPARTIA"), "wrong record type"
    yield "duplicate", _raw(header | {"sets": [sets[0], *sets[:-1]]}, body), "appears twice"
    outsider = [1, 3]
    yield "outsider", _raw(header | {"sets": [outsider, *sets[1:]]}, body), "does not contain"
    yield "missing", _raw(header | {"sets": sets[:-1]}, body[:-32]), "missing"
    yield "order", _raw(header | {"sets": sets[::-1]}, body), "canonical"
    yield "size", _raw(header | {"sets": [[1, 2, 3], *sets[1:]]}, body), "distinct increasing"
    yield "unsorted", _raw(header | {"sets": [[2, 1], *sets[1:]]}, body), "distinct increasing"
    yield "range", _raw(header | {"sets": [[2, 9], *sets[1:]]}, body), "distinct increasing"
    yield "not ints", _raw(header | {"sets": [[2, "3"], *sets[1:]]}, body), "list of integers"
    yield "bool", _raw(header | {"sets": [[True, 2], *sets[1:]]}, body), "list of integers"
    yield "sets type", _raw(header | {"sets": {"a": 1}}, body), "list of at most"
    yield "index", _raw(header | {"index": 5}, body), "'index'"
    yield "t > n", _raw(header | {"t": 5}, body), "'t'"
    yield "n", _raw(header | {"n": 17}, body), "'n'"
    yield "key id", _raw(header | {"key_id": "AB" * 32}, body), "key_id"
    yield "extra", _raw(header | {"extra": 1}, body), "unknown header field"
    yield "absent", _raw({k: v for k, v in header.items() if k != "t"}, body), "missing header"
    spaced = _raw(header, body).replace(b'"n":4', b'"n": 4')
    yield (
        "non-canonical",
        spaced[:10] + struct.pack("<I", len(canonical_json(header)) + 1) + spaced[14:],
        "canonical JSON",
    )


@pytest.mark.parametrize(("what", "raw", "message"), list(_malformed()), ids=lambda v: str(v)[:12])
def test_malformed_keys_are_refused_with_a_clear_message(what, raw, message):
    with pytest.raises(FormatError, match=message):
        PrssKeys.from_bytes(raw)


def test_over_cap_and_bad_construction_are_refused():
    header, _ = _good()
    every = itertools.combinations(range(1, 17), 9)  # 8-of-16: sets of 9
    sets = [list(a) for a in every if 1 in a][:MAX_SETS_PER_TRUSTEE]
    raw = _raw(header | {"n": 16, "t": 8, "index": 1, "sets": sets}, bytes(32 * len(sets)))
    with pytest.raises(ParameterError, match="noise polynomials"):
        PrssKeys.from_bytes(raw)
    good = deal_prss_keys(KEY_ID, 3, 2)[0]
    with pytest.raises(FormatError, match="32 bytes"):
        PrssKeys(KEY_ID, 3, 2, 1, ((good.sets[0], b"short"), *good.set_keys[1:]))
    with pytest.raises(FormatError, match="key id"):
        PrssKeys("xyz", 3, 2, 1, good.set_keys)


# -- the smudging budget ---------------------------------------------------------------------


def test_prss_smudging_budget():
    for n in range(1, 17):
        for t in range(1, n + 1):
            b = prss_smudging(BFV16384, "score/v1", 1 << 20, 2, 4, committee=n, threshold=t)
            assert b.sets == math.comb(n, t - 1)
            assert b.fits and b.proven  # bfv-16384: every committee up to 16
            assert b.set_bound >= b.release_bound << 40
            assert b.release_bound + b.sets * b.set_bound < b.delta_half
    # bfv-8192: a 3-of-5 score release fits, an 8-of-16 one does not (C(16, 7) = 11440 draws)
    small = prss_smudging(BFV8192, "score/v1", 8192, 2, 4, committee=5, threshold=3)
    assert small.fits and small.margin_bits > 0
    large = prss_smudging(BFV8192, "score/v1", 8192, 2, 4, committee=16, threshold=8)
    assert not large.fits and large.set_bound == 0 and large.margin_bits < 0
    with pytest.raises(ParameterError):
        prss_smudging(BFV8192, "score/v1", 8192, 2, 4, committee=3, threshold=4)


@pytest.mark.parametrize(
    ("t", "n", "summed"),
    [(2, 3, (-78.33, -78.31)), (3, 5, (-75.86, -75.84)), (4, 7, (-73.57, -73.55))],
    ids=["2of3", "3of5", "4of7"],
)
def test_whole_transcript_figure_of_shamir_answers(t, n, summed):
    """docs/design.md, "Noise budget": 10,000 binary submissions of 2^20 items at bfv-16384.
    Each decryption is one (however many trustees answer), smudged by C(n, t − 1) PRSS draws;
    t − 1 colluders know all but x_H, of bound B = (Δ/2 − B_release)/(2·C(n, t − 1))."""
    out = shamir_transcript_exposure(
        BFV16384, 10_000, 1 << 20, 2, 1, check_count(BFV16384), committee=n, threshold=t
    )
    terms = {term.what: term for term in out.terms}
    sets = math.comb(n, t - 1)
    assert terms["noise checks"].decryptions == 10_001 * 64 and terms["noise checks"].draws == 0
    assert terms["noise checks"].distance_log2 == -math.inf
    assert terms["validity"].decryptions == 10_001 and terms["scores"].decryptions == 10_000
    assert terms["validity"].draws == 10_001 * sets and terms["scores"].draws == 10_000 * sets
    budget = prss_smudging(BFV16384, "score/v1", 1 << 20, 2, 1, committee=n, threshold=t)
    # the proven bound: the mod-switch floor n·N + 4 for a key of n contributions
    assert terms["scores"].bound == budget.release_bound == n * 16384 + 4
    assert terms["scores"].smudging == budget.set_bound
    assert budget.set_bound == (budget.delta_half - budget.release_bound) // (2 * sets)
    assert summed[0] < out.distance_log2 < summed[1]  # the target is 2^-40
    assert out.renyi_factor - 1 < 1e-12


def test_shamir_and_additive_figures_agree_when_the_draws_do():
    """2-of-3: C(3, 1) = 3 PRSS draws, as many as T = 3 additive partials — the same figure;
    bfv-8192 at 1,032,192 items (`cryptoscore params`' challenge): 2^-19.6 both."""
    for params, items in ((BFV16384, 1 << 20), (BFV8192, BFV8192.max_count())):
        shamir = shamir_transcript_exposure(
            params, 10_000, items, 2, 1, check_count(params), committee=3, threshold=2
        )
        additive = transcript_exposure(
            params, 10_000, items, 2, 1, 3, check_count(params), committee=3
        )
        assert shamir == additive
    # bfv-8192, 8-of-16: the PRSS draws do not fit (no B), refused
    with pytest.raises(ParameterError, match=r"C\(16, 7\) = 11440 PRSS smudging draws"):
        shamir_transcript_exposure(
            BFV8192, 10, 1 << 20, 2, 1, check_count(BFV8192), committee=16, threshold=8
        )
