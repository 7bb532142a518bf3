"""Trustee-assisted encryption (``pads.py``): wire records, the trustees' shares, the
submitter's opening, the seeded bundle, and that its ciphertexts decrypt to what was encrypted."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tenseal.sealapi as seal

from cryptoscore import (
    BFV8192,
    EncryptedBundle,
    FormatError,
    MismatchError,
    RefusedError,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
)
from cryptoscore.errors import VerificationError
from cryptoscore.hazmat.c1 import expand_c1
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.protocol.answer import answer_pad_request
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadKey, PadShare, open_pads
from tests.helpers.committee import Committee

N_ITEMS = 20000  # three ciphertexts, the last one padded
CHALLENGE = "pads"


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


@pytest.fixture(scope="module")
def context(committee):
    return committee.context(CHALLENGE, ReleasePolicy(2, ("correct", "errors")), N_ITEMS)


def _answer(committee, context, request, tid, tmp_path):
    with PartialJournal(tmp_path / f"{tid}.journal") as journal:
        return answer_pad_request(
            request, context, committee.shares[tid], committee.identity(tid), journal
        )


def _request(committee, context, key, ids=("trustee-1", "trustee-3")):
    return context.pad_request("predictions", key, ActiveSet.of(committee.record, list(ids)))


def _decrypt_all(committee, bundle):
    engine = engine_for(BFV8192)
    decryptor = seal.Decryptor(engine.bfv, committee.keys.secret.seal_secret_key())
    out = []
    for i in range(bundle.layout.ciphertexts):
        pt = seal.Plaintext()
        decryptor.decrypt(engine.bfv_ciphertext(bundle.ciphertext(i)), pt)
        out.append(engine.batch_decode(pt))
    return np.concatenate(out)


def test_expand_c1_is_deterministic_reduced_and_separated():
    seed = bytes(range(32))
    a0 = expand_c1(BFV8192, seed, 0)
    assert a0.shape == (len(BFV8192.DATA_PRIMES), BFV8192.POLY_MODULUS_DEGREE)
    assert np.array_equal(a0, expand_c1(BFV8192, seed, 0))
    assert not np.array_equal(a0, expand_c1(BFV8192, seed, 1))
    assert not np.array_equal(a0, expand_c1(BFV8192, bytes(32), 0))
    for j, q in enumerate(BFV8192.DATA_PRIMES):
        assert int(a0[j].max()) < q
        # uniform mod q: the mean is q/2 within a few standard errors (q/√12/√N)
        assert abs(float(a0[j].mean()) / q - 0.5) < 6 / np.sqrt(12 * a0.shape[1])
    with pytest.raises(FormatError, match="32 bytes"):
        expand_c1(BFV8192, b"short", 0)


def test_seeded_encryption_decrypts_exactly(committee, context, keys, tmp_path):
    p = np.random.default_rng(3).integers(0, 2, N_ITEMS)
    pads = committee.pads(context, "predictions", tmp_path)
    bundle = encrypt_predictions(
        p, committee.keys.public, classes=2, challenge=CHALLENGE, pads=pads
    )
    assert bundle.header.seeded and bundle.header.c1_seed == pads.request.c1_seed
    context.check_bundle(bundle, "predictions")
    values = _decrypt_all(committee, bundle)
    assert np.array_equal(values[:N_ITEMS], p) and not values[N_ITEMS:].any()
    for i in range(bundle.layout.ciphertexts):
        c1 = expand_c1(BFV8192, pads.request.c1_seed, i)
        assert np.array_equal(bundle.ciphertext(i)[1], c1)
    again = EncryptedBundle.from_bytes(bundle.to_bytes())
    assert again.digest == bundle.digest and again.header == bundle.header
    # c0 only: half the bytes of a public-key bundle
    public = encrypt_predictions(p, committee.keys.public, classes=2, challenge=CHALLENGE)
    assert abs(len(bundle.to_bytes()) / len(public.to_bytes()) - 0.5) < 0.01


def test_threshold_challenges_refuse_bundles_whose_submitter_chose_c1(committee, context):
    public = encrypt_predictions(
        np.zeros(N_ITEMS, dtype=int), committee.keys.public, classes=2, challenge=CHALLENGE
    )
    with pytest.raises(MismatchError, match="trustee pads"):
        context.check_bundle(public, "predictions")


def test_pads_are_single_use_and_bound_to_kind_and_challenge(committee, context, tmp_path):
    p = np.zeros(N_ITEMS, dtype=int)
    pads = committee.pads(context, "predictions", tmp_path)
    with pytest.raises(MismatchError, match="made for predictions"):
        encrypt_labels(p, committee.keys.public, classes=2, challenge=CHALLENGE, pads=pads)
    with pytest.raises(MismatchError, match="challenge 'pads'"):
        encrypt_predictions(p, committee.keys.public, classes=2, challenge="other", pads=pads)
    with pytest.raises(MismatchError, match="3 ciphertexts, this bundle has 1"):
        encrypt_predictions(
            p[:10], committee.keys.public, classes=2, challenge=CHALLENGE, pads=pads
        )
    encrypt_predictions(p, committee.keys.public, classes=2, challenge=CHALLENGE, pads=pads)
    with pytest.raises(RefusedError, match="already used"):
        encrypt_predictions(p, committee.keys.public, classes=2, challenge=CHALLENGE, pads=pads)


def test_a_trustee_answers_each_seed_once(committee, context, tmp_path):
    key = PadKey.generate()
    request = _request(committee, context, key)
    _answer(committee, context, request, "trustee-1", tmp_path)
    with pytest.raises(RefusedError, match="already answered a pad request with this seed"):
        _answer(committee, context, request, "trustee-1", tmp_path)
    # the same seed for another recipient or active set is the same pad: refused as well
    other = dataclasses.replace(
        request, recipient=PadKey.generate().public_bytes, active_set=(1, 2)
    )
    with pytest.raises(RefusedError, match="already answered"):
        _answer(committee, context, other, "trustee-1", tmp_path)


def test_trustees_refuse_requests_they_should_not_answer(committee, context, tmp_path):
    key = PadKey.generate()
    request = _request(committee, context, key)
    with pytest.raises(MismatchError, match="not in the pad request's active set"):
        _answer(committee, context, request, "trustee-2", tmp_path)
    with pytest.raises(MismatchError, match="challenge 'elsewhere'"):
        _answer(
            committee,
            context,
            dataclasses.replace(request, challenge_id="elsewhere"),
            "trustee-1",
            tmp_path,
        )
    with pytest.raises(MismatchError, match="asks for 7 pads"):
        _answer(committee, context, dataclasses.replace(request, count=7), "trustee-1", tmp_path)
    # nothing refused was journaled: the trustee can still answer the genuine request
    _answer(committee, context, request, "trustee-1", tmp_path)


def test_the_submitter_checks_every_share(committee, context, tmp_path):
    key = PadKey.generate()
    request = _request(committee, context, key)
    s1 = _answer(committee, context, request, "trustee-1", tmp_path)
    s3 = _answer(committee, context, request, "trustee-3", tmp_path)
    record = committee.record
    with pytest.raises(MismatchError, match="need exactly one from each"):
        open_pads(request, [s1], record, key)
    with pytest.raises(MismatchError, match="two shares from one trustee"):
        open_pads(request, [s1, s1], record, key)
    forged = dataclasses.replace(s3, signature=bytes(64))
    with pytest.raises(VerificationError, match="pad share of trustee-3"):
        open_pads(request, [s1, forged], record, key)
    edited = bytearray(s3.sealed)
    edited[-1] ^= 1
    with pytest.raises(VerificationError):  # the signature covers the sealed bytes
        open_pads(request, [s1, dataclasses.replace(s3, sealed=bytes(edited))], record, key)
    with pytest.raises(FormatError, match="cannot be decrypted with this pad key"):
        open_pads(request, [s1, s3], record, PadKey.generate())
    other = _request(committee, context, key)
    with pytest.raises(MismatchError, match="answers another request"):
        open_pads(other, [s1, s3], record, key)
    pads = open_pads(request, [s3, s1], record, key)  # any order
    assert pads.request == request


def test_wire_records_roundtrip_and_refuse_malformed_bytes(committee, context, tmp_path):
    key = PadKey.generate()
    request = _request(committee, context, key)
    assert PadRequest.from_bytes(request.to_bytes()) == request
    share = _answer(committee, context, request, "trustee-1", tmp_path)
    assert PadShare.from_bytes(share.to_bytes()) == share
    raw = request.to_bytes()
    with pytest.raises(FormatError, match="pad request: truncated"):
        PadRequest.from_bytes(raw[:10])
    with pytest.raises(FormatError, match="unexpected bytes after the header"):
        PadRequest.from_bytes(raw + b"x")
    with pytest.raises(FormatError, match="wrong record type"):
        PadRequest.from_bytes(share.to_bytes())
    with pytest.raises(FormatError, match="pad share: sealed payload of 3 bytes"):
        PadShare.from_bytes(share.to_bytes()[: -len(share.sealed)] + b"abc")
    for bad, message in [
        ({"count": 0}, "count must be in"),
        ({"active_set": (3, 1)}, "distinct indices, sorted"),
        ({"seed": b"x"}, "seed must be 32 bytes"),
        ({"recipient": b"x"}, "32-byte X25519 key"),
        ({"recipient": bytes(32)}, "not a usable X25519 public key"),  # a low-order point
        ({"kind": "scores"}, "unknown bundle kind"),
    ]:
        with pytest.raises(FormatError, match=message):
            dataclasses.replace(request, **bad)


def test_pad_key_repr_shows_no_secret():
    key = PadKey.generate()
    assert repr(key) == f"PadKey(public={key.public_bytes.hex()[:16]}…)"


def test_a_second_request_for_the_same_seed_cannot_open_a_bundle(tmp_path):
    """With n ≥ 2t a disjoint active set has never seen a seed. A malicious service or
    participant asking it for pads with a victim's seed gets pads for another c1 (c1 is bound
    to the whole request, recipient included), so the victim's ciphertexts stay closed; naming
    the victim's key instead gets shares only the victim can open."""
    committee = Committee(2, 4)
    context = committee.context(CHALLENGE, ReleasePolicy(2, ("correct", "errors")), N_ITEMS)
    victim_key = PadKey.generate()
    victim = context.pad_request(
        "predictions", victim_key, ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])
    )
    attacker_key = PadKey.generate()
    disjoint = ActiveSet.of(committee.record, ["trustee-3", "trustee-4"])
    stolen_seed = dataclasses.replace(
        victim, recipient=attacker_key.public_bytes, active_set=disjoint.indices
    )
    assert stolen_seed.seed == victim.seed and stolen_seed.c1_seed != victim.c1_seed
    shares = [
        _answer(committee, context, stolen_seed, t, tmp_path) for t in ("trustee-3", "trustee-4")
    ]
    theirs = open_pads(stolen_seed, shares, committee.record, attacker_key).take()
    victims = [_answer(committee, context, victim, t, tmp_path) for t in ("trustee-1", "trustee-2")]
    mine = open_pads(victim, victims, committee.record, victim_key).take()
    q = BFV8192.DATA_PRIMES[0]
    difference = (mine[0, 0].astype(object) - theirs[0, 0].astype(object)) % q
    assert min(int(d) for d in difference if d) > 1 << 20 or (difference == 0).sum() < 10
    assert np.mean([min(int(d), q - int(d)) for d in difference]) > q / 8  # unrelated pads
    # the same request with the victim's key: shares sealed to the victim only
    for_victim = dataclasses.replace(victim, active_set=disjoint.indices)
    sealed = _answer(committee, context, for_victim, "trustee-3", tmp_path / "other")
    with pytest.raises(FormatError, match="cannot be decrypted with this pad key"):
        attacker_key.open(sealed)
