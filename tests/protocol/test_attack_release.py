"""The two-round release against a malicious participant, organizer and service.

A participant acting with sealapi directly crafts ciphertexts that decrypt to valid 0/1 values
but carry noise near Δ/2, or non-binary / weighted encodings; a malicious organizer does the
same with labels; a malicious service asks trustees to decrypt what no published circuit
computes. Round 1 rejects the bundles, no round-2 partial is ever produced, trustees refuse.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os

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
    StepError,
    encrypt_labels,
    encrypt_predictions,
    raw_encrypt_vectors,
)
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.modmath import addmod, crt_lift
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.protocol.release import BundleRelease, ReleaseState, SubmissionRelease
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.bundle import BundleWriter
from cryptoscore.scoring.noise_check import noise_check_threshold
from cryptoscore.threshold.active_set import ActiveSet
from tests.helpers.committee import Committee, binary_data

N = 8192
T = BFV8192.PLAIN_MODULUS
Q = math.prod(BFV8192.DATA_PRIMES)
DELTA = (Q - 1) // T
CHALLENGE = "adv"
n_items = 10000


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


@pytest.fixture(scope="module")
def context(committee):
    return committee.context(CHALLENGE, ReleasePolicy(2, ("correct", "errors")), n_items)


@pytest.fixture(scope="module")
def data():
    y, p = binary_data(99, n_items)
    return p, y


def run_round1(committee, context, bundle, tmp_path, trustees=("trustee-1", "trustee-2")):
    *_, release = round1_steps(committee, context, bundle, tmp_path, trustees)
    return release


def round1_steps(committee, context, bundle, tmp_path, trustees=("trustee-1", "trustee-2")):
    """Run round 1 step by step; yield the release after every step (as the service would
    persist it between jobs)."""
    release = BundleRelease(context, bundle, ActiveSet.of(committee.record, trustees))
    yield release
    for tid in trustees:
        release.add_contribution(committee.contribute(tid, context, bundle.digest, tmp_path))
    requests = release.start(f"r1-{bundle.digest[:12]}")
    yield release
    while requests:
        evidence = {bundle.digest: release.evidence()}
        for request in requests:
            for tid in trustees:
                release.add_partial(
                    committee.answer(
                        tid, request, context, {bundle.digest: bundle}, tmp_path, evidence
                    )
                )
        yield release  # answered, not yet decided
        requests = release.advance()
        yield release


def seeded(committee, context, kind, values, tmp_path) -> EncryptedBundle:
    """An honest bundle, encrypted with pads the committee's first t trustees answered."""
    pads = committee.pads(context, kind, tmp_path / "pads")
    encrypt = encrypt_predictions if kind == "predictions" else encrypt_labels
    return encrypt(values, committee.keys.public, classes=2, challenge=CHALLENGE, pads=pads)


def raw_seeded(committee, context, vectors, tmp_path) -> EncryptedBundle:
    """Arbitrary slot vectors, encrypted with pads: what a malicious participant submits."""
    return raw_encrypt_vectors(
        "predictions",
        vectors,
        committee.keys.public,
        classes=2,
        n=n_items,
        challenge=CHALLENGE,
        pads=committee.pads(context, "predictions", tmp_path / "pads"),
    )


@pytest.fixture(scope="module")
def valid_labels(committee, context, data, tmp_path_factory):
    labels = seeded(committee, context, "labels", data[1], tmp_path_factory.mktemp("pads"))
    release = run_round1(committee, context, labels, tmp_path_factory.mktemp("labels"))
    assert release.state == "valid"
    return release


def rewritten(bundle: EncryptedBundle, edit) -> EncryptedBundle:
    """The bundle with ``edit(index, data)`` applied in place to every ciphertext's
    ``data[poly, prime, coeff]`` — what a participant using sealapi directly can upload."""
    moduli = BFV8192.DATA_PRIMES
    out = io.BytesIO()
    writer = BundleWriter(bundle.header, out)
    for i in range(bundle.layout.ciphertexts):
        data = bundle.ciphertext(i)
        edit(i, data)
        # a seeded bundle stores c0 only: c1 is the seed's, whatever the edit did to it
        writer.add(encode_ciphertext(data[:1] if bundle.header.seeded else data, moduli))
    writer.finish()
    return EncryptedBundle.from_bytes(out.getvalue())


def add_to_c0(data: np.ndarray, offset: int) -> None:
    for j, q in enumerate(BFV8192.DATA_PRIMES):
        data[0, j] = addmod(data[0, j], np.full(N, offset % q, dtype=np.uint64), q)


def with_crafted_noise(bundle: EncryptedBundle, offset: int) -> EncryptedBundle:
    """Add ``offset`` to every coefficient of every c0: same plaintext while offset + honest
    noise stays below Δ/2, but noise near Δ/2."""
    return rewritten(bundle, lambda _, data: add_to_c0(data, offset))


def decrypts_to(committee, bundle: EncryptedBundle, index: int) -> np.ndarray:
    engine = engine_for(BFV8192)
    ct = engine.bfv_ciphertext(bundle.ciphertext(index))
    pt = seal.Plaintext()
    seal.Decryptor(engine.bfv, committee.keys.secret.seal_secret_key()).decrypt(ct, pt)
    return engine.batch_decode(pt)


def test_honest_submission_is_released_exactly(committee, context, data, valid_labels, tmp_path):
    p, y = data
    preds = seeded(committee, context, "predictions", p, tmp_path)
    r1 = run_round1(committee, context, preds, tmp_path)
    assert r1.state == "valid", r1.reason
    sub = SubmissionRelease(context, r1, valid_labels)
    request = sub.start("r2-honest", ActiveSet.of(committee.record, ["trustee-2", "trustee-3"]))
    evidence = {preds.digest: r1.evidence(), valid_labels.bundle.digest: valid_labels.evidence()}
    for tid in ("trustee-2", "trustee-3"):
        bundles = {preds.digest: preds, valid_labels.bundle.digest: valid_labels.bundle}
        sub.add_partial(committee.answer(tid, request, context, bundles, tmp_path, evidence))
    assert sub.finish() == {
        "correct": int(np.count_nonzero(p == y)),
        "errors": int(np.count_nonzero(p != y)),
    }


def test_noise_near_half_delta_is_rejected_in_round1(
    committee, context, data, valid_labels, tmp_path
):
    p, _ = data
    honest = seeded(committee, context, "predictions", p, tmp_path)
    crafted = with_crafted_noise(honest, DELTA // 2 - (1 << 40))
    # the attack ciphertexts decrypt to the same valid 0/1 predictions
    assert np.array_equal(decrypts_to(committee, crafted, 0), decrypts_to(committee, honest, 0))
    r1 = run_round1(committee, context, crafted, tmp_path)
    assert r1.state == "invalid" and "noise" in r1.reason
    sub = SubmissionRelease(context, r1, valid_labels)
    with pytest.raises(RefusedError, match="nothing of it is decrypted"):
        sub.start("r2-crafted", ActiveSet.of(committee.record, ["trustee-1", "trustee-3"]))
    assert sub.request is None and not sub.partials


@pytest.mark.parametrize("ciphertexts", [1, 2])
def test_exact_half_delta_cannot_alias(committee, context, data, tmp_path, ciphertexts):
    """An offset of exactly Δ/2 acts as a message "m + 1/2"; combined with an even weight it
    would become a whole message shift, invisible under a mask. Checked one by one, it shows."""
    honest = seeded(committee, context, "predictions", data[0], tmp_path)

    def edit(i: int, data: np.ndarray) -> None:
        if i < ciphertexts:
            add_to_c0(data, (DELTA + 1) // 2)

    release = run_round1(committee, context, rewritten(honest, edit), tmp_path)
    assert release.state == "invalid" and "noise" in release.reason


def test_moderate_crafted_noise_is_rejected_too(committee, context, data, tmp_path):
    crafted = with_crafted_noise(
        seeded(committee, context, "predictions", data[0], tmp_path),
        1 << 80,
    )
    release = run_round1(committee, context, crafted, tmp_path)
    assert release.state == "invalid" and "noise" in release.reason


@pytest.mark.parametrize("attack", ["non-binary", "weighted"])
def test_invalid_encodings_are_rejected_in_round1(
    committee, context, data, valid_labels, tmp_path, attack
):
    p, _ = data
    vecs = [np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)]
    vecs[0][:] = p[:N]
    vecs[1][: n_items - N] = p[N:]
    if attack == "non-binary":
        vecs[1][3] = 2
    else:
        vecs[0][:20] = [pow(2, i, T) for i in range(20)]
    bundle = raw_seeded(committee, context, vecs, tmp_path)
    r1 = run_round1(committee, context, bundle, tmp_path)
    assert r1.state == "invalid" and "encoding" in r1.reason
    sub = SubmissionRelease(context, r1, valid_labels)
    with pytest.raises(RefusedError):
        sub.start("r2", ActiveSet.of(committee.record, ["trustee-1", "trustee-2"]))


def test_malicious_organizer_labels_rejected_at_upload(committee, context, data, tmp_path):
    labels = seeded(committee, context, "labels", data[1], tmp_path)
    crafted = with_crafted_noise(labels, DELTA // 2 - (1 << 40))
    release = run_round1(committee, context, crafted, tmp_path)
    assert release.state == "invalid" and "noise" in release.reason


def test_trustee_refuses_to_decrypt_raw_submission(committee, context, data, tmp_path):
    p, y = data
    preds = seeded(committee, context, "predictions", p, tmp_path)
    labels = seeded(committee, context, "labels", y, tmp_path)
    bundles = {preds.digest: preds, labels.digest: labels}
    evidence = {
        b.digest: run_round1(committee, context, b, tmp_path / "round1").evidence()
        for b in (preds, labels)
    }
    refusals = tmp_path / "refusals"
    refusals.mkdir()
    active = ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])
    raw_digest = __import__("hashlib").sha256(preds.to_bytes()).hexdigest()
    # a service naming the score circuit but asking for another ciphertext (the raw submission)
    request = DecryptionRequest(
        request_id="evil-1",
        challenge_id=CHALLENGE,
        circuit="score/v1",
        inputs=(preds.digest, labels.digest),
        seed=b"",
        rerandomize_seed=b"",
        active_set=active,
        ciphertext_digest=raw_digest,
    )
    with pytest.raises(RefusedError, match="not what the published circuit computes"):
        committee.answer("trustee-1", request, context, bundles, refusals, evidence)
    # no circuit outside the published ones can even be named
    with pytest.raises(RefusedError, match="no published circuit"):
        dataclasses.replace(request, circuit="raw/v1")
    # a score with labels and predictions swapped (decrypting a label ciphertext) is refused
    swapped = dataclasses.replace(request, inputs=(labels.digest, preds.digest))
    with pytest.raises(MismatchError, match="kind is 'labels', expected 'predictions'"):
        committee.answer("trustee-1", swapped, context, bundles, refusals, evidence)
    # another policy than the challenge publishes gives another ciphertext: refused
    from cryptoscore import score

    other = score(preds, labels, ReleasePolicy(2, ("confusion",)), committee.keys.evaluation)
    other_request = dataclasses.replace(request, ciphertext_digest=other.ciphertext_digest)
    with pytest.raises(RefusedError):
        committee.answer("trustee-1", other_request, context, bundles, refusals, evidence)
    # the journal recorded none of these: nothing was answered
    journal = refusals / "trustee-1.journal"
    assert not journal.exists() or journal.read_text() == ""


def test_request_record_roundtrip(committee):
    active = ActiveSet.of(committee.record, ["trustee-1", "trustee-3"])
    request = DecryptionRequest(
        "id-1", CHALLENGE, "validity/v1", ("ab" * 32,), os.urandom(32), b"", active, "cd" * 32
    )
    assert DecryptionRequest.from_bytes(request.to_bytes()) == request


def _contribution(committee, context, bundle, tid, journals):
    return committee.contribute(tid, context, bundle.digest, journals)


def test_round1_is_the_pad_sets_alone(committee, context, data, tmp_path):
    """Round 1 of a pad-seeded bundle is answered by the pads' own active set (lineage.py):
    no other trustee may contribute, and naming another set is refused."""
    labels = seeded(committee, context, "labels", data[1], tmp_path)  # pads: trustees 1, 2
    with pytest.raises(RefusedError, match=r"pads' active set \[1, 2\], not \[1, 3\]"):
        BundleRelease(context, labels, ActiveSet.of(committee.record, ["trustee-1", "trustee-3"]))
    release = BundleRelease(context, labels)
    assert release.active.indices == (1, 2)
    with pytest.raises(MismatchError, match="may not contribute"):
        release.add_contribution(_contribution(committee, context, labels, "trustee-3", tmp_path))
    release.add_contribution(_contribution(committee, context, labels, "trustee-2", tmp_path))
    with pytest.raises(StepError, match="already contributed"):
        release.add_contribution(_contribution(committee, context, labels, "trustee-2", tmp_path))
    with pytest.raises(StepError, match="waiting for"):
        release.start("early")
    release.add_contribution(_contribution(committee, context, labels, "trustee-1", tmp_path))
    requests = release.start("dyn")
    assert {r.circuit for r in requests} == {"noise/v1"}  # V only once they pass
    assert {r.active_set.indices for r in requests} == {(1, 2)}


def residual_noise(aggregate, partials) -> np.ndarray:
    """What a combiner (or anyone holding the partials) computes: the centered residual
    c0 + Σ partials − Δ·(decoded message) of every coefficient."""
    moduli = aggregate.params.moduli(aggregate.level)
    x = [aggregate.data()[0, i].copy() for i in range(len(moduli))]
    for p in partials:
        h = p.data()
        for i, q in enumerate(moduli):
            x[i] = addmod(x[i], h[i], q)
    big_q = math.prod(moduli)
    lifted = np.array(crt_lift(x, moduli), dtype=object)
    message = (lifted * T + big_q // 2) // big_q % T
    v = (lifted - message * ((big_q - 1) // T)) % big_q
    return np.where(v > big_q // 2, v - big_q, v)


def test_a_submitter_cannot_put_the_secret_key_into_the_noise(committee, context, data, tmp_path):
    """The attack that threshold challenges closed (SECURITY.md, "Why c1 comes from a seed").

    With public-key encryption a submitter chose c1, and adding 2^60 to it gave the same
    plaintext with noise honest + 2^60·s: the round-1 noise check then revealed s. Now such a
    bundle is refused before anything is computed from it; in a seeded bundle the submitter
    controls c0 only, and an offset δ there shows in the residual as δ plus honest noise plus
    smudging — its own number, nothing of s."""
    moduli = BFV8192.DATA_PRIMES
    active = ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])

    def bump_c1(i: int, ct: np.ndarray) -> None:
        if i == 0:
            for j, q in enumerate(moduli):
                ct[1, j, 0] = (int(ct[1, j, 0]) + (1 << 60)) % q

    public = encrypt_predictions(data[0], committee.keys.public, classes=2, challenge=CHALLENGE)
    crafted_c1 = rewritten(public, bump_c1)
    assert np.array_equal(decrypts_to(committee, crafted_c1, 0), decrypts_to(committee, public, 0))
    with pytest.raises(MismatchError, match="trustee pads"):
        BundleRelease(context, crafted_c1, active)

    honest = seeded(committee, context, "predictions", data[0], tmp_path)
    offset = 1 << 60
    crafted = rewritten(honest, lambda i, ct: add_to_c0(ct, offset) if i == 0 else None)
    release = run_round1(committee, context, crafted, tmp_path)
    assert release.state == "invalid" and "noise" in release.reason
    (rid,) = [r for r, q in release.requests.items() if q.circuit == "noise/v1" and q.index == 0]
    residual = residual_noise(release.ciphertexts[rid], list(release.partials[rid].values()))
    # the trustees answer with their pads' exact complements: the residual is the submitter's
    # offset plus its own error and rounding, nothing of the pads (sanitize.py)
    _, own_noise = noise_check_threshold(BFV8192, 2)
    assert own_noise == 22 + 2  # its error and rounding, less ≤ 2 wraps of the mask
    assert max(abs(int(v) - offset) for v in residual) <= own_noise
    # the old attack's key guess is just the offset's constant 1, not the key
    guess = np.array([(int(v) + (1 << 59)) >> 60 for v in residual], dtype=np.int64)
    assert set(guess.tolist()) == {1}

    # pointing the header at another seed changes c1 to a fresh uniform polynomial: the noise
    # becomes (a' − a)·s, uniform modulo Q — rejected, and an RLWE sample, not the key
    pad = honest.header.pad_request
    other_seed = dataclasses.replace(
        honest.header, pad_request=dataclasses.replace(pad, seed=os.urandom(32))
    )
    raw = other_seed.prefix() + honest.to_bytes()[len(honest.header.prefix()) :]
    swapped = run_round1(committee, context, EncryptedBundle.from_bytes(raw), tmp_path / "s")
    assert swapped.state == "invalid"


def test_trustees_check_round1_themselves(committee, context, data, valid_labels, tmp_path):
    """A malicious service asks for V before the noise checks passed, or for a score of a
    bundle that failed round 1: each trustee recombines the signed round-1 partials itself
    and refuses, before its journal or share is touched."""
    p, _ = data
    trustees = ["trustee-1", "trustee-2"]
    active = ActiveSet.of(committee.record, trustees)
    noisy = with_crafted_noise(seeded(committee, context, "predictions", p, tmp_path), 1 << 80)
    r1 = run_round1(committee, context, noisy, tmp_path / "round1")
    assert r1.state == "invalid" and "noise" in r1.reason
    from cryptoscore.protocol.contributions import derive_seed, round1_seed
    from cryptoscore.scoring.validity import validity

    seed = derive_seed(round1_seed(noisy.digest, list(r1.contributions.values())), b"validity")
    v = validity(noisy, seed, context.evaluation)
    v_request = DecryptionRequest(
        "evil-v",
        CHALLENGE,
        "validity/v1",
        (noisy.digest,),
        seed,
        b"",
        active,
        v.ciphertext_digest,
    )
    journals = tmp_path / "refusals"
    journals.mkdir()
    bundles = {noisy.digest: noisy}
    with pytest.raises(RefusedError, match="round-1 evidence"):
        committee.answer("trustee-1", v_request, context, bundles, journals)
    with pytest.raises(RefusedError, match="noise check 0 did not pass"):
        committee.answer(
            "trustee-1", v_request, context, bundles, journals, {noisy.digest: r1.evidence()}
        )
    # a validity seed the service picked (not the contributions' one) is refused too
    honest = seeded(committee, context, "predictions", p, tmp_path)
    passed = run_round1(committee, context, honest, tmp_path / "round1")
    picked = dataclasses.replace(v_request, inputs=(honest.digest,), seed=os.urandom(32))
    with pytest.raises(RefusedError, match="validity seed is not the one"):
        committee.answer(
            "trustee-1",
            picked,
            context,
            {honest.digest: honest},
            journals,
            {honest.digest: passed.evidence()},
        )

    # a weighted encoding passes its noise checks but fails V: never scored
    vecs = [np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)]
    vecs[0][:20] = [pow(2, i, T) for i in range(20)]
    weighted = raw_seeded(committee, context, vecs, tmp_path)
    bad = run_round1(committee, context, weighted, tmp_path / "round1")
    assert bad.state == "invalid" and "encoding" in bad.reason
    from cryptoscore import score

    labels = valid_labels.bundle
    s = score(weighted, labels, context.policy, context.evaluation)
    s_request = DecryptionRequest(
        "evil-s",
        CHALLENGE,
        "score/v1",
        (weighted.digest, labels.digest),
        b"",
        b"",
        active,
        s.ciphertext_digest,
    )
    evidence = {weighted.digest: bad.evidence(), labels.digest: valid_labels.evidence()}
    bundles = {weighted.digest: weighted, labels.digest: labels}
    with pytest.raises(RefusedError, match="failed its validity check"):
        committee.answer("trustee-1", s_request, context, bundles, journals, evidence)
    # evidence about another bundle, or with a partial missing, does not do either
    with pytest.raises(MismatchError, match="another bundle"):
        committee.answer(
            "trustee-1",
            s_request,
            context,
            bundles,
            journals,
            {weighted.digest: valid_labels.evidence(), labels.digest: valid_labels.evidence()},
        )
    assert (
        not (journals / "trustee-1.journal").exists()
        or not (journals / "trustee-1.journal").read_text()
    )


# -- persistence: snapshot / restore, and a service that lies to its own state machine ----------
def test_round1_restores_at_every_step_to_the_same_machine(committee, context, data, tmp_path):
    p, _ = data
    bundle = seeded(committee, context, "predictions", p, tmp_path)
    seen = []
    for release in round1_steps(committee, context, bundle, tmp_path):
        restored = BundleRelease.restore(context, bundle, release.snapshot())
        assert restored.state == release.state and restored.reason == release.reason
        assert restored.requests == release.requests
        assert restored.partials == release.partials
        assert restored.ready() == release.ready()
        seen.append(restored.state)
    assert seen[0] == ReleaseState.AWAITING_CONTRIBUTIONS and seen[-1] == ReleaseState.VALID
    assert {ReleaseState.NOISE_CHECK, ReleaseState.VALIDITY} <= set(seen)
    # a valid bundle restores from V's request and partials alone (what round 2 loads)
    final = release.snapshot()
    (v,) = [r for r in final.requests if r.circuit == "validity/v1"]
    only_v = dataclasses.replace(
        final,
        requests=(v,),
        ciphertexts={v.request_id: final.ciphertexts[v.request_id]},
        partials=tuple(x for x in final.partials if x.request_id == v.request_id),
    )
    assert BundleRelease.restore(context, bundle, only_v).state == ReleaseState.VALID


def test_state_is_not_set_from_outside(committee, context, data, tmp_path):
    """The old jobs built ``BundleRelease(..., state="valid")`` for round 2: now no field but
    the inputs can be given, and the state cannot be assigned."""
    bundle = seeded(committee, context, "predictions", data[0], tmp_path)
    with pytest.raises(TypeError):
        BundleRelease(context, bundle, state="valid")  # type: ignore[call-arg]
    release = BundleRelease(context, bundle)
    with pytest.raises(AttributeError):
        release.state = ReleaseState.VALID  # type: ignore[misc]


def test_restore_refuses_a_verdict_its_partials_contradict(
    committee, context, data, valid_labels, tmp_path
):
    """A service (or a corrupted database) claiming that an invalid bundle is valid: restore
    re-derives V from the logged partials and refuses; so does a valid claim without V, and a
    round 1 holding another bundle's request."""
    p, _ = data
    vecs = [np.zeros(N, dtype=np.int64), np.zeros(N, dtype=np.int64)]
    vecs[0][:] = p[:N]
    vecs[1][: n_items - N] = p[N:]
    vecs[0][:20] = [pow(2, i, T) for i in range(20)]  # weighted: fails V
    bad = raw_seeded(committee, context, vecs, tmp_path)
    r1 = run_round1(committee, context, bad, tmp_path)
    assert r1.state == ReleaseState.INVALID
    lie = dataclasses.replace(r1.snapshot(), state=ReleaseState.VALID, reason="")
    with pytest.raises(FormatError, match="claims valid, its partials say invalid"):
        BundleRelease.restore(context, bad, lie)
    no_v = dataclasses.replace(
        lie,
        requests=tuple(r for r in lie.requests if r.circuit != "validity/v1"),
        partials=tuple(x for x in lie.partials if not x.request_id.endswith(":validity")),
    )
    with pytest.raises(FormatError, match="claims valid"):
        BundleRelease.restore(context, bad, no_v)
    foreign = valid_labels.snapshot()
    mixed = dataclasses.replace(
        r1.snapshot(),
        requests=(*r1.snapshot().requests, foreign.requests[0]),
        ciphertexts={**r1.snapshot().ciphertexts, **foreign.ciphertexts},
    )
    with pytest.raises(FormatError, match="is not this bundle's"):
        BundleRelease.restore(context, bad, mixed)
    # an unguarded restore would have handed round 2 a "valid" machine; round 2 refuses the
    # honest one
    with pytest.raises(RefusedError, match="nothing of it is decrypted"):
        SubmissionRelease(context, r1, valid_labels).start(
            "r2-lie", ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])
        )


def test_round2_restores_and_refuses_other_values(committee, context, data, valid_labels, tmp_path):
    p, y = data
    preds = seeded(committee, context, "predictions", p, tmp_path)
    r1 = run_round1(committee, context, preds, tmp_path)
    sub = SubmissionRelease(context, r1, valid_labels)
    with pytest.raises(StepError, match="has not started"):
        sub.snapshot()
    request = sub.start("r2-persist", r1.active)
    scoring = sub.snapshot()
    restored = SubmissionRelease.restore(context, r1, valid_labels, scoring)
    assert restored.state == ReleaseState.SCORING and restored.request == request
    evidence = {preds.digest: r1.evidence(), valid_labels.bundle.digest: valid_labels.evidence()}
    bundles = {preds.digest: preds, valid_labels.bundle.digest: valid_labels.bundle}
    for tid in ("trustee-1", "trustee-2"):
        restored.add_partial(committee.answer(tid, request, context, bundles, tmp_path, evidence))
    values = restored.finish()
    assert values == {"correct": int(np.sum(p == y)), "errors": int(np.sum(p != y))}
    released = restored.snapshot()
    assert SubmissionRelease.restore(context, r1, valid_labels, released).released == values
    inflated = dataclasses.replace(released, released={**values, "correct": values["correct"] + 1})
    with pytest.raises(FormatError, match="other values than released"):
        SubmissionRelease.restore(context, r1, valid_labels, inflated)
    swapped = dataclasses.replace(
        scoring,
        request=dataclasses.replace(request, inputs=(valid_labels.bundle.digest, preds.digest)),
    )
    with pytest.raises(FormatError, match="not this submission's score"):
        SubmissionRelease.restore(context, r1, valid_labels, swapped)
