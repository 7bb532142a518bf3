"""Robust answers (issue 14): partials are Shamir shares with PRSS noise, decoded with the radius
``robust.verifiable_max_liars(m, t, t − 1)``: every t-subset decrypts exactly, liars within the
radius are corrected and named, beyond it the release stops naming suspects, and no coordinated
lie of up to t − 1 trustees ever yields a wrong value (docs/design.md, "Robust threshold
decryption"). Each attack also runs against the bypassed decoder (plain interpolation of t
answers), where it succeeds: so these tests can fail."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import (
    BFV8192,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    generate_keys,
    raw_encrypt_vectors,
    score,
)
from cryptoscore.errors import UndecidableAnswersError
from cryptoscore.hazmat.modmath import addmod, crt_lift
from cryptoscore.hazmat.shamir import lagrange_at_zero, lagrange_basis_at
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.noise import pad_error_terms
from cryptoscore.scoring.noise_check import noise_check, noise_check_threshold
from cryptoscore.scoring.validity import is_valid, validity
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.combine import decrypt_answers
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import bundle_claim, bundle_lineage
from cryptoscore.threshold.pad_shares import PadErrorSource
from cryptoscore.threshold.partial import PadComplement, partial_decrypt
from cryptoscore.threshold.robust import interpolate_at_zero, reconstruct, verifiable_max_liars
from cryptoscore.verify import verify_bundle
from tests.helpers.committee import (
    Committee,
    binary_data,
    set_with,
    weighted_submission,
    with_c0_offset,
)
from tests.helpers.lying_trustee import reanswered

COMMITTEES = [(2, 3), (3, 5), (3, 7), (4, 7)]
SERVICE_KEY = Ed25519PrivateKey.generate()
N_ITEMS = 3000


@pytest.fixture(scope="module")
def keys():
    return generate_keys(BFV8192)


@pytest.fixture(scope="module")
def committees(keys):
    return {tn: Committee(*tn, keys=keys, robust=True) for tn in COMMITTEES}


@pytest.fixture(scope="module")
def data():
    return binary_data(14, N_ITEMS, 0.7)


@pytest.fixture(scope="module")
def aggregate(keys, data):
    y, p = data
    preds = encrypt_predictions(p, keys.public, classes=2, challenge="robust")
    labels = encrypt_labels(y, keys.public, classes=2, challenge="robust")
    return score(preds, labels, ReleasePolicy(2, ("correct", "errors")), keys.evaluation)


def expected(data) -> dict[str, int]:
    y, p = data
    correct = int(np.sum(y == p))
    return {"correct": correct, "errors": N_ITEMS - correct}


def delta_of(aggregate) -> tuple[tuple[int, ...], int]:
    moduli = aggregate.params.moduli(aggregate.level)
    return moduli, (math.prod(moduli) - 1) // aggregate.params.PLAIN_MODULUS


def shift_answer(committee, partial, shift: dict[int, int]):
    """The trustee's own answer plus Δ·k at coefficient c for each (c, k), signed by it."""
    moduli = partial.params.moduli(partial.level)
    delta = (math.prod(moduli) - 1) // partial.params.PLAIN_MODULUS
    h = partial.data().copy()
    for i, q in enumerate(moduli):
        for c, k in shift.items():
            h[i, c] = (int(h[i, c]) + delta * k) % q
    return reanswered(partial, committee.identity(partial.trustee_id), h)


def decode(committee, aggregate, parts, request_id):
    t = committee.record.threshold
    return decrypt_answers(
        aggregate, list(parts), committee.record, request_id, ActiveSet(tuple(range(1, t + 1)))
    )


@pytest.mark.parametrize("tn", COMMITTEES, ids=lambda tn: f"{tn[0]}of{tn[1]}")
def test_every_t_subset_and_all_answers_decrypt_exactly(tn, committees, aggregate, data, tmp_path):
    committee = committees[tn]
    t, _ = tn
    answers = committee.all_answers(aggregate, "r", tmp_path)
    want = expected(data)
    for subset in itertools.combinations(sorted(answers), t):
        out = decode(committee, aggregate, [answers[j] for j in subset], "r")
        assert out.values == want and not out.verified and out.liars == ()
    out = decode(committee, aggregate, answers.values(), "r")
    assert out.values == want and out.verified and out.liars == ()  # n ≥ 2t − 1 for all four
    # the same c1 always gets the identical answer: no per-answer randomness
    again = committee.all_answers(aggregate, "r2", tmp_path / "again")
    assert all(again[j].partial == answers[j].partial for j in answers)


def test_the_radius_rule():
    assert [verifiable_max_liars(n, t, t - 1) for t, n in COMMITTEES] == [0, 0, 2, 0]
    assert verifiable_max_liars(3, 3, 2) is None  # m = t: nothing can be checked
    assert verifiable_max_liars(6, 4, 3) is None  # m < 2t − 1
    assert verifiable_max_liars(9, 3, 2) == 3 and verifiable_max_liars(16, 4, 3) == 6


@pytest.mark.parametrize("liars", [(2,), (3, 6)], ids=["one", "two"])
def test_3_of_7_corrects_and_names_liars(liars, committees, aggregate, data, tmp_path):
    committee = committees[(3, 7)]
    answers = committee.all_answers(aggregate, "r", tmp_path)
    position = dict(zip(aggregate.names, aggregate.positions, strict=True))
    for j in liars:  # coordinated: both shift "correct" up and "errors" down by 100
        answers[j] = shift_answer(
            committee, answers[j], {position["correct"]: 100, position["errors"]: -100}
        )
    out = decode(committee, aggregate, answers.values(), "r")
    assert out.values == expected(data) and out.verified
    assert out.liars == tuple(f"trustee-{j}" for j in liars)


@pytest.mark.parametrize("tn", [(3, 5), (4, 7)], ids=["3of5", "4of7"])
def test_one_liar_stops_the_release_and_is_the_suspect(tn, committees, aggregate, tmp_path):
    committee = committees[tn]
    answers = committee.all_answers(aggregate, "r", tmp_path)
    answers[2] = shift_answer(committee, answers[2], {aggregate.positions[0]: 100})
    with pytest.raises(UndecidableAnswersError, match=r"suspects: trustee-2$") as info:
        decode(committee, aggregate, answers.values(), "r")
    assert info.value.suspects == (2,)


@pytest.mark.parametrize("tn", [(3, 5), (4, 7)], ids=["3of5", "4of7"])
def test_t_minus_1_coordinated_liars_never_release_a_wrong_value(
    tn, committees, aggregate, data, tmp_path
):
    """The strongest lie: the t − 1 liars put their answers on a wrong polynomial through
    honest answers (module docstring of robust.py). It is refused, never released."""
    committee = committees[tn]
    t, n = tn
    answers = committee.all_answers(aggregate, "r", tmp_path)
    liars = tuple(range(n - t + 2, n + 1))
    _coordinate(committee, aggregate, answers, liars, through=tuple(range(1, n - t + 1)))
    with pytest.raises(UndecidableAnswersError):
        decode(committee, aggregate, answers.values(), "r")


def test_2_of_3_detects_a_liar(committees, aggregate, tmp_path):
    committee = committees[(2, 3)]
    answers = committee.all_answers(aggregate, "r", tmp_path)
    answers[3] = shift_answer(committee, answers[3], {aggregate.positions[0]: 1})
    with pytest.raises(UndecidableAnswersError):
        decode(committee, aggregate, answers.values(), "r")


def _coordinate(committee, aggregate, answers, liars, through):
    """Make ``liars`` answer P + D with D(0) = Δ·100 at the first aggregate and D zero at
    ``through`` (degree |through| ≤ t − 1): the decoded value moves by 100 wherever the
    decoder accepts P + D."""
    moduli, delta = delta_of(aggregate)
    position = aggregate.positions[0]
    for j in liars:
        h = answers[j].data().copy()
        for i, q in enumerate(moduli):
            # D(x) = Δ·100 · Π_{h ∈ through} (1 − x/h)
            weight = lagrange_basis_at(0, [0, *through], j, q)
            h[i, position] = (int(h[i, position]) + delta * 100 * weight) % q
        answers[j] = reanswered(answers[j], committee.identity(answers[j].trustee_id), h)


def test_the_widest_decoder_would_release_a_wrong_value_and_blame_the_honest(
    committees, aggregate, data, tmp_path
):
    """Why the radius is limited: at 3-of-5, two coordinated liars put their answers on a
    polynomial through two honest answers. The widest radius, ⌊(m − t)/2⌋ = 1, decodes it:
    a wrong count, and the one remaining honest trustee named as the liar. The limited radius
    (0 against t − 1 = 2 liars) refuses."""
    committee = committees[(3, 5)]
    answers = committee.all_answers(aggregate, "r", tmp_path)
    _coordinate(committee, aggregate, answers, liars=(4, 5), through=(1, 2))
    moduli, _ = delta_of(aggregate)
    widest = reconstruct({j: p.data() for j, p in answers.items()}, 3, moduli, max_liars=1)
    assert widest.liars == (3,)  # the honest trustee blamed
    wrong = _values(aggregate, widest.value)
    assert wrong["correct"] == expected(data)["correct"] + 100
    with pytest.raises(UndecidableAnswersError):
        decode(committee, aggregate, answers.values(), "r")


def _values(aggregate, at_zero) -> dict[str, int]:
    """Round c0 + (value at 0) to the aggregates, as the combiner does."""
    moduli, _ = delta_of(aggregate)
    big_q = math.prod(moduli)
    t = aggregate.params.PLAIN_MODULUS
    data = aggregate.data()
    out = {}
    for name, pos in zip(aggregate.names, aggregate.positions, strict=True):
        residues = [
            np.array([(int(data[0, i, pos]) + int(at_zero[i, pos])) % q], dtype=np.uint64)
            for i, q in enumerate(moduli)
        ]
        x = int(crt_lift(residues, moduli)[0])
        out[name] = (t * x + big_q // 2) // big_q % t
    return out


def test_control_the_lie_succeeds_when_the_decoder_is_bypassed(
    committees, aggregate, data, tmp_path
):
    """Plain interpolation of t answers, one of them lying by Δ·100/λ_j: the count moves by
    exactly 100, unseen (and the decoder over all answers names the liar)."""
    committee = committees[(3, 5)]
    answers = committee.all_answers(aggregate, "r", tmp_path)
    moduli, delta = delta_of(aggregate)
    position = dict(zip(aggregate.names, aggregate.positions, strict=True))["correct"]
    subset = [1, 2, 3]
    h = answers[2].data().copy()
    for i, q in enumerate(moduli):
        inverse = pow(lagrange_at_zero(2, subset, q), -1, q)
        h[i, position] = (int(h[i, position]) + delta * 100 * inverse) % q
    answers[2] = reanswered(answers[2], committee.identity("trustee-2"), h)
    plain = interpolate_at_zero({j: answers[j].data() for j in subset}, moduli)
    assert _values(aggregate, plain)["correct"] == expected(data)["correct"] + 100
    with pytest.raises(UndecidableAnswersError, match=r"suspects: trustee-2$"):
        decode(committee, aggregate, answers.values(), "r")


def test_v_shifted_to_zero_for_a_weighted_submission_is_caught(committees, keys, tmp_path):
    """Issue 14's round-1 attack: a weighted submission (entry i = 2^i) makes V non-zero; a
    trustee colluding with its submitter, who knows V, subtracts Δ·V from its answer. Bypassing
    the decoder (t answers interpolated) the bundle passes as valid; decoded from all answers
    the lie stops round 1 and names the trustee."""
    committee = committees[(3, 5)]
    t_plain = BFV8192.PLAIN_MODULUS
    vecs = [np.array([pow(2, i, t_plain) for i in range(60)], dtype=np.int64)]
    bundle = raw_encrypt_vectors(
        "predictions", vecs, keys.public, classes=2, n=60, challenge="robust"
    )
    agg = validity(bundle, os.urandom(32), keys.evaluation)
    v = decrypt_aggregate(agg, keys.secret)  # what the colluders know
    assert not is_valid(v)
    answers = committee.all_answers(agg, "v", tmp_path)
    honest = decode(committee, agg, answers.values(), "v")
    assert honest.values == v and honest.verified
    moduli, delta = delta_of(agg)
    subset = [1, 2, 3]
    h = answers[3].data().copy()
    for i, q in enumerate(moduli):
        inverse = pow(lagrange_at_zero(3, subset, q), -1, q)
        for name, pos in zip(agg.names, agg.positions, strict=True):
            h[i, pos] = (int(h[i, pos]) - delta * v[name] * inverse) % q
    answers[3] = reanswered(answers[3], committee.identity("trustee-3"), h)
    bypassed = _values(agg, interpolate_at_zero({j: answers[j].data() for j in subset}, moduli))
    assert is_valid(bypassed)  # the lie works without the decoder
    with pytest.raises(UndecidableAnswersError, match=r"suspects: trustee-3$"):
        decode(committee, agg, answers.values(), "v")


def test_a_noise_check_residual_shifted_under_the_bound_is_caught(committees, keys, tmp_path):
    """A bundle with crafted noise (+1000 on every coefficient, over the bound 22 + C(5, 2))
    fails its noise check; a trustee subtracting 1000/λ_j from its answer makes the
    interpolation of t answers pass. Decoded from all answers, the lie is caught and named."""
    committee = committees[(3, 5)]
    context = committee.context("robust-nc", ReleasePolicy(2, ("correct",)), N_ITEMS)
    pads = committee.pads(context, "predictions", tmp_path / "pads")
    p = np.arange(N_ITEMS) % 2
    honest = encrypt_predictions(p, keys.public, classes=2, challenge="robust-nc", pads=pads)
    crafted = with_c0_offset(honest, 1000)
    request = crafted.header.pad_request
    agg = noise_check(crafted, 0)
    answers = {}
    for e in committee.roster:
        active = set_with(request.active_set, e.index)
        share = committee.shares[e.trustee_id]
        complement = PadComplement(
            request.active_set,
            bundle_lineage(request.c1_seed),
            request.key_id,
            0,
            lambda moduli, share=share: PadErrorSource(share, committee.record, request).residues(
                0, moduli
            ),
        )
        with PartialJournal(tmp_path / "nc" / f"{e.trustee_id}.journal") as journal:
            answers[e.index] = partial_decrypt(
                share,
                agg,
                active,
                "nc",
                committee.identity(e.trustee_id),
                journal,
                committee.record,
                lineage=bundle_claim(request.c1_seed, request.count, "noise:0", active.indices),
                mask=True,
                pad=complement,
            )
    _, bound = noise_check_threshold(BFV8192, pad_error_terms(5, 3))
    assert bound == 22 + 10
    s0 = ActiveSet(request.active_set)
    out = decrypt_answers(
        agg, list(answers.values()), committee.record, "nc", s0, measure_noise=True
    )
    assert out.verified and 1000 - 60 < out.max_noise < 1000 + 60  # rejected: over the bound
    moduli = BFV8192.DATA_PRIMES
    subset = list(request.active_set)
    liar = subset[-1]
    h = answers[liar].data().copy()
    for i, q in enumerate(moduli):
        inverse = pow(lagrange_at_zero(liar, subset, q), -1, q)
        h[i] = addmod(h[i], np.full(h.shape[1], (-1000 * inverse) % q, dtype=np.uint64), q)
    answers[liar] = reanswered(answers[liar], committee.identity(f"trustee-{liar}"), h)
    bypassed = decrypt_answers(
        agg, [answers[j] for j in subset], committee.record, "nc", s0, measure_noise=True
    )
    assert not bypassed.verified and bypassed.max_noise <= bound  # the lie works unchecked
    with pytest.raises(UndecidableAnswersError, match=rf"suspects: trustee-{liar}$"):
        decrypt_answers(agg, list(answers.values()), committee.record, "nc", s0)


def test_a_whole_challenge_runs_on_shamir_answers(keys, tmp_path):
    """Through the protocol driver, the service's path (every online trustee asked, as the
    service asks: 5 answers per request, verified): labels and a submission released exactly,
    a weighted and a noisy submission invalid, and the audit bundle verifies."""
    committee = Committee(3, 5, keys=keys, robust=True)
    challenge = "robust-local"
    context = committee.context(challenge, ReleasePolicy(2, ("correct", "errors")), N_ITEMS)
    local = committee.local_challenge(
        context, tmp_path, SERVICE_KEY, participants=("alice", "mallory", "nora")
    )
    y, p = binary_data(7, N_ITEMS)
    local.upload_labels(
        encrypt_labels(y, context.public, classes=2, challenge=challenge, pads=local.pads("labels"))
    )
    honest = encrypt_predictions(
        p, context.public, classes=2, challenge=challenge, pads=local.pads("predictions", "alice")
    )
    assert local.submit("alice", honest) == "released"
    correct = int(np.sum(p == y))
    assert local.released()["alice"] == {"correct": correct, "errors": N_ITEMS - correct}
    submission = local.submissions["alice"]
    assert submission.request.active_set.indices == (1, 2, 3, 4, 5) and submission.verified
    evil = weighted_submission(local, "mallory")
    assert local.submit("mallory", evil) == "invalid"
    noisy = encrypt_predictions(
        y, context.public, classes=2, challenge=challenge, pads=local.pads("predictions", "nora")
    )
    assert local.submit("nora", with_c0_offset(noisy, 1 << 70)) == "invalid"
    path = tmp_path / "audit.zip"
    local.export_audit_bundle(path)
    report = verify_bundle(path)
    assert report.ok, report.first_failure
