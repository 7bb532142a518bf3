"""BFV key generation in SEAL's layout (``hazmat/keygen.py``), checked against SEAL itself.

SEAL's ``KeyGenerator`` appears here only as the reference: its keys are parsed with our
parsers and compared in structure, its secret key validates our NTT, its key-switching keys
validate the gadget, and its noise budgets are the yardstick for ours.
"""

from __future__ import annotations

import hashlib
import itertools

import numpy as np
import pytest
import tenseal.sealapi as seal

from cryptoscore.errors import ParameterError
from cryptoscore.hazmat.c1 import expand_c1
from cryptoscore.hazmat.keygen import (
    combine_shares,
    expand_common,
    galois_automorphism,
    galois_target,
    generate_key_material,
    key_primes,
    kswitch_key_share,
    public_key_share,
    relin_round1_share,
    relin_round2_share,
    relin_target,
    sample_error,
    sample_secret,
    secret_ntt,
    sum_shares,
    uniform_polys,
)
from cryptoscore.hazmat.modmath import CBD_K, mulmod, submod
from cryptoscore.hazmat.ntt import ntt_tables
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.seal_format import (
    HEADER,
    build_ciphertext,
    build_kswitch_keys,
    build_plaintext,
    parse_ciphertext,
    parse_kswitch_keys,
    parse_plaintext,
    payload,
)
from cryptoscore.params import BFV8192, BFV16384
from cryptoscore.randomness import seeded_stream
from cryptoscore.scoring.keys import galois_elements, generate_keys

PARAMS = [BFV8192, pytest.param(BFV16384, marks=pytest.mark.slow)]


def _stream(label: str):
    """Deterministic test randomness: SHAKE-256 of (label, call number)."""
    counter = itertools.count()

    def rng(n: int) -> bytes:
        return hashlib.shake_256(f"{label}/{next(counter)}".encode()).digest(n)

    return rng


def _centered(params, ntt_residues):
    """Coefficient form, centered, of NTT-form residues ``[..., prime, coeff]`` (int64)."""
    n = params.POLY_MODULUS_DEGREE
    out = []
    for i, q in enumerate(key_primes(params)):
        c = ntt_tables(n, q).inverse(ntt_residues[..., i, :]).astype(np.int64)
        out.append(np.where(c > q // 2, c - q, c))
    return np.stack(out, axis=-2)


def _errors(params, key, s, new_key):
    """e_j = b_j + a_j·s − g_j·s' of a key-switching key ``[j][poly][prime][coeff]``, in
    centered coefficient form ``[j][prime][coeff]`` (g_j: [P mod q_j] on residue j only)."""
    b, a = key[:, 0], key[:, 1]
    e = np.empty_like(b)
    for i, q in enumerate(key_primes(params)):
        e[:, i] = (b[:, i] + mulmod(a[:, i], s[i], q)) % np.uint64(q)
    for j, q in enumerate(params.DATA_PRIMES):
        e[j, j] = submod(e[j, j], mulmod(new_key[j], params.SPECIAL_PRIME % q, q), q)
    return _centered(params, e)


def _kswitch_arrays(raw, index):
    return np.stack([c.data for c in parse_kswitch_keys(raw).keys[index]])


class _Seal:
    """SEAL's own keys for a parameter set (the reference)."""

    def __init__(self, params) -> None:
        engine = engine_for(params)
        kg = seal.KeyGenerator(engine.bfv)
        self.secret = kg.secret_key()
        self.public = seal.PublicKey()
        kg.create_public_key(self.public)
        self.relin = seal.RelinKeys()
        kg.create_relin_keys(self.relin)
        self.galois = seal.GaloisKeys()
        kg.create_galois_keys(galois_elements(params), self.galois)


@pytest.fixture(scope="module", params=PARAMS, ids=lambda p: p.ID)
def both(request):
    """(params, our key material, SEAL's keys) for one parameter set."""
    params = request.param
    engine = engine_for(params)
    ours = generate_key_material(
        params, galois_elements(params), parms_id=engine.key_parms_id, version=engine.version
    )
    return params, ours, _Seal(params)


def _seal_objects(params, ours):
    engine = engine_for(params)
    pk = engine.load_public_key(
        build_ciphertext(engine.key_parms_id, ours.public_key, engine.version, is_ntt_form=True)
    )
    return (
        pk,
        engine.load_secret_key(ours.secret_key),
        engine.load_relin_keys(ours.relin_keys),
        engine.load_galois_keys(ours.galois_keys),
    )


# -- the NTT ----------------------------------------------------------------------------------
@pytest.mark.parametrize("params", PARAMS, ids=lambda p: getattr(p, "ID", None))
def test_ntt_inverts_seals_secret_key_to_one_ternary_polynomial(params):
    """SEAL's secret key (NTT form, every key prime) is, under our inverse NTT, the same
    ternary polynomial modulo every prime: our transform is SEAL's, order and root included."""
    engine = engine_for(params)
    raw = engine.secret_key_bytes(seal.KeyGenerator(engine.bfv).secret_key())
    sk = parse_plaintext(raw).coefficients.reshape(len(key_primes(params)), -1)
    coeffs = _centered(params, sk)
    assert set(np.unique(coeffs)) == {-1, 0, 1}
    assert (coeffs == coeffs[0]).all()
    assert np.array_equal(secret_ntt(params, coeffs[0]), sk)


# -- layout -----------------------------------------------------------------------------------
def test_layout_matches_seals_own_keys(both):
    params, ours, ref = both
    engine = engine_for(params)
    n, levels = params.POLY_MODULUS_DEGREE, len(params.DATA_PRIMES)
    # secret key: Plaintext at the key parms_id, N·(L+1) words
    theirs_sk = parse_plaintext(engine.secret_key_bytes(ref.secret))
    our_sk = parse_plaintext(ours.secret_key)
    assert our_sk.parms_id == theirs_sk.parms_id == engine.key_parms_id
    assert our_sk.coefficients.size == theirs_sk.coefficients.size == n * (levels + 1)
    assert our_sk.scale == theirs_sk.scale and our_sk.version == theirs_sk.version
    # public key: Ciphertext at the key level, NTT form, size 2
    theirs_pk = parse_ciphertext(engine.save_bytes(ref.public))
    our_pk = parse_ciphertext(
        build_ciphertext(engine.key_parms_id, ours.public_key, engine.version, is_ntt_form=True)
    )
    for field in ("parms_id", "is_ntt_form", "scale", "correction_factor", "version"):
        assert getattr(our_pk, field) == getattr(theirs_pk, field), field
    assert our_pk.data.shape == theirs_pk.data.shape == (2, levels + 1, n)
    # KSwitchKeys: SEAL's zstd output decompressed is byte-for-byte our layout's length,
    # with the same parms_id, entry count, occupied entries and per-key metadata
    galois_slots = {g >> 1 for g in galois_elements(params)}
    for theirs_raw, our_raw, occupied in [
        (engine.save_bytes(ref.relin), ours.relin_keys, {0}),
        (engine.save_bytes(ref.galois), ours.galois_keys, galois_slots),
    ]:
        assert payload(theirs_raw, 1 << 31)[0].compression == 2  # SEAL writes zstd
        assert payload(our_raw, 1 << 31)[0].compression == 0
        assert len(payload(theirs_raw, 1 << 31)[1]) == len(payload(our_raw, 1 << 31)[1])
        theirs, mine = parse_kswitch_keys(theirs_raw, 1 << 31), parse_kswitch_keys(our_raw, 1 << 31)
        assert mine.parms_id == theirs.parms_id == engine.key_parms_id
        assert len(mine.keys) == len(theirs.keys) == (1 if occupied == {0} else n)
        assert {i for i, k in enumerate(theirs.keys) if k} == occupied
        assert {i for i, k in enumerate(mine.keys) if k} == occupied
        for i in occupied:
            assert len(mine.keys[i]) == len(theirs.keys[i]) == levels
            for a, b in zip(mine.keys[i], theirs.keys[i], strict=True):
                assert (a.parms_id, a.is_ntt_form, a.scale, a.correction_factor, a.version) == (
                    b.parms_id,
                    b.is_ntt_form,
                    b.scale,
                    b.correction_factor,
                    b.version,
                )
                assert a.data.shape == b.data.shape == (2, levels + 1, n)


def test_nested_public_keys_are_uncompressed_seal_objects(both):
    params, ours, ref = both
    engine = engine_for(params)
    body = payload(engine.save_bytes(ref.relin), 1 << 31)[1]
    # parms_id (32) | dim1 (8) | dim2 (8) | first PublicKey's header
    head = HEADER.unpack_from(body, 48)
    assert head[:5] == (0xA15E, 16, *engine.version, 0)
    assert payload(ours.relin_keys, 1 << 31)[1][:48] == body[:48]


def test_seals_keys_have_the_gadget_we_reproduce(both):
    """In SEAL's own relin and Galois keys, b_j + a_j·s − [P mod q_j]·s'_j (residue j only)
    is a small error under every key prime: the gadget is P = the special prime, on the
    j-th data prime's residue of component j alone."""
    params, _, ref = both
    engine = engine_for(params)
    sk = parse_plaintext(engine.secret_key_bytes(ref.secret)).coefficients.reshape(
        len(key_primes(params)), -1
    )
    s_coeff = _centered(params, sk)[0]
    relin = _kswitch_arrays(engine.save_bytes(ref.relin), 0)
    s2 = np.stack([mulmod(sk[i], sk[i], q) for i, q in enumerate(key_primes(params))])
    assert np.abs(_errors(params, relin, sk, s2)).max() <= CBD_K
    g = galois_elements(params)[0]
    galois = _kswitch_arrays(engine.save_bytes(ref.galois), g >> 1)
    assert np.abs(_errors(params, galois, sk, galois_target(params, s_coeff, g))).max() <= CBD_K


# -- cross-validation with SEAL ------------------------------------------------------------
def test_seal_encrypts_decrypts_relinearizes_and_rotates_with_our_keys(both):
    params, ours, ref = both
    engine = engine_for(params)
    ev = engine.evaluator
    pk, sk, rk, gk = _seal_objects(params, ours)
    n, t = params.POLY_MODULUS_DEGREE, params.PLAIN_MODULUS
    values = (np.arange(n, dtype=np.int64) * 7919) % 1000
    pt = engine.batch_plaintext(values)

    def run(public, secret, relin, galois):
        enc, dec = seal.Encryptor(engine.bfv, public), seal.Decryptor(engine.bfv, secret)
        ct = seal.Ciphertext()
        enc.encrypt(pt, ct)
        out = seal.Plaintext()
        dec.decrypt(ct, out)
        assert np.array_equal(engine.batch_decode(out), values)
        prod = seal.Ciphertext()
        ev.multiply(ct, ct, prod)
        ev.relinearize_inplace(prod, relin)
        assert prod.size() == 2
        dec.decrypt(prod, out)
        assert np.array_equal(engine.batch_decode(out), (values * values) % t)
        budgets = [dec.invariant_noise_budget(ct), dec.invariant_noise_budget(prod)]
        coeffs = engine.plaintext_coefficients(pt).astype(np.int64)
        for g in galois_elements(params):
            rot = seal.Ciphertext()
            ev.apply_galois(ct, g, galois, rot)
            dec.decrypt(rot, out)
            expected = galois_automorphism(coeffs, g) % t
            assert np.array_equal(engine.plaintext_coefficients(out), expected.astype(np.uint64))
            budgets.append(dec.invariant_noise_budget(rot))
        return budgets

    mine = run(pk, sk, rk, gk)
    theirs = run(ref.public, ref.secret, ref.relin, ref.galois)
    # fresh, after mult+relin, after each automorphism: within a few bits of SEAL's keys
    assert all(abs(a - b) <= 3 for a, b in zip(mine, theirs, strict=True)), (mine, theirs)


def test_our_key_switching_keys_carry_small_independent_errors(both):
    """A regression test for the seeded-PRNG pitfall: within one key, and across keys, every
    component has its own a_j and its own error e_j (|e_j| ≤ 21)."""
    params, ours, _ = both
    levels = len(params.DATA_PRIMES)
    s = parse_plaintext(ours.secret_key).coefficients.reshape(levels + 1, -1)
    s_coeff = _centered(params, s)[0]
    relin = _kswitch_arrays(ours.relin_keys, 0)
    s2 = np.stack([mulmod(s[i], s[i], q) for i, q in enumerate(key_primes(params))])
    e_relin = _errors(params, relin, s, s2)
    g = galois_elements(params)[-1]
    galois = _kswitch_arrays(ours.galois_keys, g >> 1)
    e_galois = _errors(params, galois, s, galois_target(params, s_coeff, g))
    for errors in (e_relin, e_galois):
        assert np.abs(errors).max() <= CBD_K
        assert (errors == errors[:, :1]).all()  # one integer polynomial per component
    a_all = [*relin[:, 1], *galois[:, 1]]
    e_all = [*e_relin[:, 0], *e_galois[:, 0]]
    for x, y in itertools.combinations(range(len(a_all)), 2):
        assert not np.array_equal(a_all[x], a_all[y])
        assert not np.array_equal(e_all[x], e_all[y])


# -- determinism and distributions ------------------------------------------------------------
def test_the_same_stream_gives_byte_identical_keys_and_defaults_differ(keys, other_keys):
    first = generate_keys(BFV8192, rng=_stream("determinism"))
    second = generate_keys(BFV8192, rng=_stream("determinism"))
    assert first.public.to_bytes() == second.public.to_bytes()
    assert first.evaluation.to_bytes() == second.evaluation.to_bytes()
    assert first.secret.to_bytes() == second.secret.to_bytes()
    other = generate_keys(BFV8192, rng=_stream("other"))
    assert other.public.key_id != first.public.key_id
    assert keys.public.key_id != other_keys.public.key_id  # two os.urandom key sets
    assert keys.secret.to_bytes() != other_keys.secret.to_bytes()


def test_secret_is_uniform_ternary_and_errors_are_cbd21():
    params = BFV16384
    n = params.POLY_MODULUS_DEGREE
    s = sample_secret(params)
    counts = np.bincount(s + 1, minlength=3)
    assert s.min() >= -1 and s.max() <= 1
    # each count ~ Binomial(N, 1/3): sd ≈ 60 at N = 16384; allow 6 sd
    assert (np.abs(counts - n / 3) < 6 * np.sqrt(n * 2 / 9)).all(), counts
    e = sample_error(params, 8)
    assert np.abs(e).max() <= CBD_K
    assert abs(e.mean()) < 0.1 and abs(e.var() - CBD_K / 2) < 0.5  # CBD(k): variance k/2


def test_common_polynomials_are_uniform_distinct_and_reproducible():
    params = BFV8192
    seed = bytes(range(32))
    a = expand_common(params, seed, "galois-key", 3, 2)
    assert np.array_equal(a, expand_common(params, seed, "galois-key", 3, 2))
    labels = [("galois-key", 5), ("relin-key", 3), ("public-key", 3)]
    for purpose, index in labels:
        assert not np.array_equal(a[0], expand_common(params, seed, purpose, index, 1)[0])
    assert not np.array_equal(a[0], a[1])
    for x in (a, uniform_polys(params, 1)):
        for i, q in enumerate(key_primes(params)):
            assert int(x[:, i].max()) < q
            # the mean of m uniforms on [0, q) has sd q/sqrt(12m) (0.0032q for one polynomial
            # of 8192 coefficients): 0.01 was 3.1 sd, failing about once in 120 runs over the
            # primes; 0.025 is 7.8 sd, still far below a biased sampler's shift
            assert abs(float(x[:, i].mean()) / q - 0.5) < 0.025


def test_c1_expansion_is_unchanged_by_sharing_its_sampler():
    """``expand_c1`` now calls ``shake_uniform``; its output is pinned (from before)."""
    pinned = {
        BFV8192: "85adeb57d4335bc4fd54e31827f3a4c8e58723f8d0fd6681ed52eb3c2cab646a",
        BFV16384: "b1e3529dc940c029e01d464add3e820b1de6d881c7d9018f731318ef416c7e02",
    }
    for params, digest in pinned.items():
        c1 = expand_c1(params, bytes(range(32)), 5)
        assert hashlib.sha256(c1.astype("<u8").tobytes()).hexdigest() == digest


def test_keys_from_a_common_seed_work_and_use_it():
    params = BFV8192
    engine = engine_for(params)
    seed = b"\x07" * 32
    ours = generate_key_material(
        params,
        galois_elements(params)[:1],
        parms_id=engine.key_parms_id,
        version=engine.version,
        common_seed=seed,
    )
    assert np.array_equal(ours.public_key[1], expand_common(params, seed, "public-key", 0, 1)[0])
    relin = _kswitch_arrays(ours.relin_keys, 0)
    assert np.array_equal(relin[:, 1], expand_common(params, seed, "relin-key", 0, 4))
    _seal_objects(params, ours)  # SEAL accepts every object


# -- shares (the multiparty structure) ------------------------------------------------------
def test_shares_of_two_parties_sum_to_keys_of_the_summed_secret():
    """Mouchet et al.: public-key and Galois-key shares against common a sum to keys for
    s = s_1 + s_2, which SEAL uses as it would any key."""
    params = BFV8192
    engine = engine_for(params)
    seed = b"\x2a" * 32
    g = galois_elements(params)[2]
    s_coeffs = [sample_secret(params) for _ in range(2)]
    s_parts = [secret_ntt(params, c) for c in s_coeffs]
    a_pk = expand_common(params, seed, "public-key", 0, 1)[0]
    a_gk = expand_common(params, seed, "galois-key", g, len(params.DATA_PRIMES))
    pk = combine_shares(params, [public_key_share(params, s, a_pk) for s in s_parts], a_pk)
    gk = combine_shares(
        params,
        [
            kswitch_key_share(params, s, galois_target(params, c, g), a_gk)
            for s, c in zip(s_parts, s_coeffs, strict=True)
        ],
        a_gk,
    )
    s_total = s_coeffs[0] + s_coeffs[1]
    s_sum = secret_ntt(params, s_total)
    errors = _errors(params, gk, s_sum, galois_target(params, s_total, g))
    assert np.abs(errors).max() <= 2 * CBD_K
    pid, ver = engine.key_parms_id, engine.version
    galois_raw = [[] for _ in range(params.POLY_MODULUS_DEGREE)]
    galois_raw[g >> 1] = [build_ciphertext(pid, c, ver, is_ntt_form=True) for c in gk]
    public = engine.load_public_key(build_ciphertext(pid, pk, ver, is_ntt_form=True))
    secret = engine.load_secret_key(build_plaintext(pid, s_sum, ver))
    galois = engine.load_galois_keys(build_kswitch_keys(pid, galois_raw, ver))
    values = np.arange(params.POLY_MODULUS_DEGREE) % 97
    ct, rot, out = seal.Ciphertext(), seal.Ciphertext(), seal.Plaintext()
    seal.Encryptor(engine.bfv, public).encrypt(engine.batch_plaintext(values), ct)
    engine.evaluator.apply_galois(ct, g, galois, rot)
    seal.Decryptor(engine.bfv, secret).decrypt(rot, out)
    coeffs = engine.plaintext_coefficients(engine.batch_plaintext(values)).astype(np.int64)
    expected = galois_automorphism(coeffs, g) % params.PLAIN_MODULUS
    assert np.array_equal(engine.plaintext_coefficients(out), expected.astype(np.uint64))


def _collective_relin_key(params, s_parts, seed):
    """Mouchet et al.'s two-round RKG among len(s_parts) parties; returns (key, us)."""
    levels = len(params.DATA_PRIMES)
    a = expand_common(params, seed, "relin-key", 0, levels)
    us = [secret_ntt(params, sample_secret(params)) for _ in s_parts]
    round1 = [relin_round1_share(params, s, u, a) for s, u in zip(s_parts, us, strict=True)]
    h0 = sum_shares(params, [r[0] for r in round1])
    h1 = sum_shares(params, [r[1] for r in round1])
    round2 = [relin_round2_share(params, s, u, h0, h1) for s, u in zip(s_parts, us, strict=True)]
    b = sum_shares(params, [x for r in round2 for x in r])
    return combine_shares(params, [b], h1), us


def test_two_round_relinearization_key_of_three_parties_relinearizes_for_the_summed_secret():
    """RKG (Mouchet et al. §4): the two rounds give a key-switching key for s² with
    s = s_1 + s_2 + s_3, in SEAL's layout, whose error is exactly s·e0 + u·e1 + e2 + e3 —
    within the collective bound 2·N·21·n² + 42·n — and SEAL relinearizes with it."""
    params = BFV8192
    engine = engine_for(params)
    n_parties = 3
    seed = b"\x07" * 32
    s_coeffs = [sample_secret(params) for _ in range(n_parties)]
    s_parts = [secret_ntt(params, c) for c in s_coeffs]
    relin, _ = _collective_relin_key(params, s_parts, seed)
    s_total = sum(s_coeffs)
    s_sum = secret_ntt(params, s_total)
    errors = _errors(params, relin, s_sum, relin_target(params, s_sum))
    bound = 2 * params.POLY_MODULUS_DEGREE * CBD_K * n_parties**2 + 2 * CBD_K * n_parties
    assert 2 * CBD_K < np.abs(errors).max() <= bound  # larger than one party's, and bounded
    a_pk = expand_common(params, seed, "public-key", 0, 1)[0]
    pk = combine_shares(params, [public_key_share(params, s, a_pk) for s in s_parts], a_pk)
    pid, ver = engine.key_parms_id, engine.version
    public = engine.load_public_key(build_ciphertext(pid, pk, ver, is_ntt_form=True))
    secret = engine.load_secret_key(build_plaintext(pid, s_sum, ver))
    relin_keys = engine.load_relin_keys(
        build_kswitch_keys(
            pid, [[build_ciphertext(pid, c, ver, is_ntt_form=True) for c in relin]], ver
        )
    )
    values = (np.arange(params.POLY_MODULUS_DEGREE, dtype=np.int64) * 7919) % 1000
    ct, prod, out = seal.Ciphertext(), seal.Ciphertext(), seal.Plaintext()
    seal.Encryptor(engine.bfv, public).encrypt(engine.batch_plaintext(values), ct)
    engine.evaluator.multiply(ct, ct, prod)
    engine.evaluator.relinearize_inplace(prod, relin_keys)
    assert prod.size() == 2
    decryptor = seal.Decryptor(engine.bfv, secret)
    decryptor.decrypt(prod, out)
    assert np.array_equal(engine.batch_decode(out), (values * values) % params.PLAIN_MODULUS)
    assert decryptor.invariant_noise_budget(prod) > 60


def test_rkg_round_shares_depend_on_every_input_and_replay_from_a_seeded_stream():
    """Each round's errors come from its rng, in the documented order: the same seeded
    stream replays a share byte for byte; another label gives another share."""
    params = BFV8192
    levels = len(params.DATA_PRIMES)
    a = expand_common(params, b"\x01" * 32, "relin-key", 0, levels)
    s = secret_ntt(params, sample_secret(params, rng=seeded_stream(b"\x02" * 32, "secret")))
    u = secret_ntt(params, sample_secret(params, rng=seeded_stream(b"\x02" * 32, "rkg-u")))
    first = relin_round1_share(params, s, u, a, rng=seeded_stream(b"\x02" * 32, "rkg-round1"))
    again = relin_round1_share(params, s, u, a, rng=seeded_stream(b"\x02" * 32, "rkg-round1"))
    other = relin_round1_share(params, s, u, a, rng=seeded_stream(b"\x02" * 32, "rkg-round2"))
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0]) and not np.array_equal(first[1], other[1])
    with pytest.raises(ParameterError):
        relin_round1_share(params, s, u, a[:-1])
    with pytest.raises(ParameterError):
        relin_round2_share(params, s, u, first[0], first[1][:-1])


def test_seeded_streams_are_deterministic_labelled_and_continue():
    seed = bytes(range(32))
    one, two = seeded_stream(seed, "a"), seeded_stream(seed, "a")
    assert one(10) + one(22) == two(32)
    assert seeded_stream(seed, "a")(32) != seeded_stream(seed, "b")(32)
    assert seeded_stream(seed, "a")(32) != seeded_stream(bytes(32), "a")(32)
    with pytest.raises(ParameterError):
        seeded_stream(b"short", "a")


def test_galois_automorphism_is_x_to_the_g():
    n = 16
    x = np.zeros(n, dtype=np.int64)
    x[1] = 1
    for g in (3, 5, 17, 31):
        y = galois_automorphism(x, g)
        expected = np.zeros(n, dtype=np.int64)
        expected[g % n] = -1 if g % (2 * n) >= n else 1
        assert np.array_equal(y, expected)
    with pytest.raises(ParameterError):
        galois_automorphism(x, 4)
