"""The trustee's step driver, its seed file, the relay's digest helpers and the ceremony test's
noise bound (docs/design.md, "Key ceremony v2 (dealerless)")."""

from __future__ import annotations

import itertools

import pytest

from cryptoscore import BFV8192
from cryptoscore.envelope import pack_record, unpack_record
from cryptoscore.errors import FormatError, ParameterError, RefusedError, StepError
from cryptoscore.params import BFV16384
from cryptoscore.scoring.noise import (
    SMUDGING_BITS,
    ceremony_test_noise_bound,
    ceremony_test_smudging_bound,
    release_delta_half,
)
from cryptoscore.threshold.ceremony import open_share_file, write_share_file
from cryptoscore.threshold.dkg import (
    KINDS,
    ROUNDS,
    SeedFile,
    SeedStatus,
    Transcript,
    expected_previous_of,
    round_digest_of,
    round_digests_of,
    step,
)
from tests.helpers.dkg import DkgRun
from tests.threshold.dkg.test_dkg_adversarial import FalseComplainer

PASS = b"a long passphrase"
ACTIVE, COMPLETED, FINISHED, REVEALED = (
    SeedStatus.ACTIVE,
    SeedStatus.COMPLETED,
    SeedStatus.FINISHED,
    SeedStatus.REVEALED,
)


@pytest.fixture(scope="module")
def setup() -> DkgRun:
    return DkgRun(2, 3)


@pytest.fixture(scope="module")
def finished(setup):
    transcript, _ = setup.run()
    return transcript


def _step(setup, tid, status, transcript):
    return step(setup.plan, tid, setup.identities[tid], setup.seeds[tid], status, transcript)


# -- the step driver ------------------------------------------------------------------------
def test_a_relay_loop_of_steps_runs_the_whole_ceremony_with_sealed_seed_files(setup, tmp_path):
    """Each trustee keeps only a sealed seed file; the relay keeps one copy of each message."""
    files = {}
    for tid in setup.identities:
        seed = SeedFile.new(setup.plan, tid, rng=lambda k, s=setup.seeds[tid]: s[:k])
        files[tid] = seed.seal(PASS)
    transcript = Transcript(setup.plan)
    results = {}
    dues = []
    for _ in range(40):
        progressed = False
        for tid in setup.identities:
            seed = SeedFile.open(files[tid], PASS)
            seed.check_plan(setup.plan)
            outcome = step(
                setup.plan, tid, setup.identities[tid], seed.seed, seed.status, transcript
            )
            dues.append((tid, outcome.due))
            assert outcome.summary and "\n" not in outcome.summary
            if outcome.due == "finish":
                raw = write_share_file(outcome.share, setup.plan.n, PASS)
                results[tid] = (raw, outcome.record)
            files[tid] = seed.with_status(outcome.status).seal(PASS)  # before posting
            if outcome.message is not None:
                transcript.add(outcome.message)
            progressed |= outcome.due not in ("wait", "done")
        if not progressed:
            break
    assert [d for t, d in dues if t == "trustee-1" and d not in ("wait", "done")] == [
        *ROUNDS,
        "finish",
    ]
    assert {SeedFile.open(f, PASS).status for f in files.values()} == {FINISHED}
    records = {record.to_bytes() for _, record in results.values()}
    assert len(records) == 1 and len(results) == 3
    record = results["trustee-1"][1]
    assert record.verify_signatures() == 15 and record.created_at == setup.plan.created_at
    for tid, (raw, _) in results.items():
        record.check_share_file(tid, raw)
        assert open_share_file(raw, PASS).key_id == record.key_id


def test_steps_wait_for_the_round_before_and_say_for_whom(setup, finished):
    transcript = Transcript(setup.plan)
    transcript.add(finished.message("hello", "trustee-1"))
    waiting = _step(setup, "trustee-1", ACTIVE, transcript)
    assert (waiting.due, waiting.waiting_kind, waiting.waiting_for) == (
        "wait",
        "hello",
        ("trustee-2", "trustee-3"),
    )
    assert "trustee-2, trustee-3" in waiting.summary and waiting.message is None
    hello = _step(setup, "trustee-2", ACTIVE, transcript)
    assert hello.due == "hello" and hello.status is ACTIVE
    # re-running a step re-produces the identical bytes (the relay keeps one copy)
    again = _step(setup, "trustee-2", ACTIVE, transcript)
    assert again.message.to_bytes() == hello.message.to_bytes()
    assert hello.message.to_bytes() == finished.message("hello", "trustee-2").to_bytes()


def test_completion_is_due_after_the_confirmations_and_reproduced_after_a_crash(setup, finished):
    rounds = [m for kind in ROUNDS[:4] for m in finished.messages(kind)]
    transcript = Transcript.of(setup.plan, rounds)
    first = _step(setup, "trustee-2", ACTIVE, transcript)
    assert (first.due, first.status) == ("completion", COMPLETED)
    # crashed after persisting COMPLETED, before posting: the same completion again
    again = _step(setup, "trustee-2", COMPLETED, transcript)
    assert again.due == "completion" and again.message.to_bytes() == first.message.to_bytes()
    assert first.message.to_bytes() == finished.message("completion", "trustee-2").to_bytes()
    transcript.add(first.message)
    waiting = _step(setup, "trustee-2", COMPLETED, transcript)
    assert (waiting.waiting_kind, waiting.waiting_for) == ("completion", ("trustee-1", "trustee-3"))


def test_a_lost_status_never_makes_a_completed_trustee_reveal(setup, finished):
    """Status rolled back to ACTIVE, its completion public, another trustee's reveal in: it
    stays COMPLETED and aborts without revealing."""
    rounds = [m for kind in ROUNDS[:4] for m in finished.messages(kind)]
    transcript = Transcript.of(setup.plan, [*rounds, finished.message("completion", "trustee-1")])
    transcript.add(setup.trustee("trustee-3").reveal())
    outcome = _step(setup, "trustee-1", ACTIVE, transcript)
    assert (outcome.due, outcome.status, outcome.message) == ("aborted", COMPLETED, None)
    assert outcome.culprits == {
        "trustee-2": "sent no completion",
        "trustee-3": "sent no completion",
    }
    # a trustee that has not completed reveals on another's reveal: nobody can finish
    revealing = _step(setup, "trustee-2", ACTIVE, transcript)
    assert (revealing.due, revealing.status) == ("reveal", REVEALED)
    assert "trustee-3 revealed" in revealing.summary


def test_finished_is_done(setup, finished):
    assert _step(setup, "trustee-1", FINISHED, finished).due == "done"


def test_an_abort_leads_every_trustee_to_reveal_and_then_to_the_culprits(setup):
    transcript, _ = setup.run({"trustee-2": FalseComplainer})
    outcomes = {tid: _step(setup, tid, ACTIVE, transcript) for tid in setup.identities}
    for tid, outcome in outcomes.items():
        assert (outcome.due, outcome.status) == ("reveal", REVEALED), tid
        assert "complaints: trustee-2 accuses trustee-1" in outcome.summary
        if tid != "trustee-3":
            transcript.add(outcome.message)
    waiting = _step(setup, "trustee-1", REVEALED, transcript)
    assert (waiting.due, waiting.waiting_kind, waiting.waiting_for) == (
        "wait",
        "reveal",
        ("trustee-3",),
    )
    # trustee-3 persisted REVEALED and crashed before posting: its reveal again, then posted
    repost = _step(setup, "trustee-3", REVEALED, transcript)
    assert repost.due == "reveal"
    transcript.add(repost.message)
    outcome = _step(setup, "trustee-1", REVEALED, transcript)
    assert outcome.due == "aborted"
    assert outcome.culprits == {
        "trustee-2": "its confirmation (round 4) is not what its seed gives"
    }


def test_a_silent_trustee_is_waited_for_and_named_by_blame(setup):
    transcript, _ = setup.run(silent={"trustee-3": "response"})
    outcome = _step(setup, "trustee-1", ACTIVE, transcript)
    assert (outcome.waiting_kind, outcome.waiting_for) == ("response", ("trustee-3",))


# -- the seed file --------------------------------------------------------------------------
def test_seed_file_round_trip_and_refusals(setup):
    seed = SeedFile.new(setup.plan, "trustee-2")
    raw = seed.seal(PASS)
    assert raw[:8] == b"CSDKGSED" and seed.seed not in raw
    opened = SeedFile.open(raw, PASS)
    assert (opened.seed, opened.status, opened.plan, opened.trustee_id) == (
        seed.seed,
        ACTIVE,
        setup.plan.digest,
        "trustee-2",
    )
    assert seed.seed.hex() not in repr(opened)
    header, body = unpack_record(raw, b"CSDKGSED", 1, "seed")
    failures = [
        lambda: SeedFile.open(raw, b"another passphrase"),
        lambda: SeedFile.open(raw[:-1], PASS),
        lambda: SeedFile.open(raw[:-1] + bytes([raw[-1] ^ 1]), PASS),
        lambda: SeedFile.open(
            pack_record(b"CSDKGSED", 1, header | {"status": "completed"}, bytes(body)), PASS
        ),
        lambda: SeedFile.open(
            pack_record(b"CSDKGSED", 1, header | {"trustee_id": "trustee-1"}, bytes(body)), PASS
        ),
    ]
    for fail in failures:
        with pytest.raises(FormatError) as caught:
            fail()
        assert str(caught.value) == (
            "ceremony seed file does not open: wrong passphrase, or the file was altered or "
            "truncated"
        )
    with pytest.raises(FormatError, match="unknown status 'lost'"):
        SeedFile.open(pack_record(b"CSDKGSED", 1, header | {"status": "lost"}, bytes(body)), PASS)
    with pytest.raises(ParameterError, match="8"):
        seed.seal(b"short")
    with pytest.raises(Exception, match="another ceremony"):
        seed.check_plan(DkgRun(2, 3).plan)


def test_seed_file_status_moves_only_forward_and_never_from_completed_to_revealed(setup):
    active = SeedFile.new(setup.plan, "trustee-1")
    allowed = {(ACTIVE, COMPLETED), (COMPLETED, FINISHED), (ACTIVE, REVEALED)}
    paths = {
        ACTIVE: active,
        COMPLETED: active.with_status(COMPLETED),
        FINISHED: active.with_status(COMPLETED).with_status(FINISHED),
        REVEALED: active.with_status(REVEALED),
    }
    for a, b in itertools.product(SeedStatus, SeedStatus):
        if a is b or (a, b) in allowed:
            assert paths[a].with_status(b).status is b
        else:
            with pytest.raises(RefusedError):
                paths[a].with_status(b)
    with pytest.raises(RefusedError, match="never reveals"):
        paths[COMPLETED].with_status(REVEALED)
    sealed = paths[COMPLETED].seal(PASS)
    assert SeedFile.open(sealed, PASS).status is COMPLETED


def test_seed_file_draws_the_seed_then_salt_and_nonce_from_rng(setup):
    stream = iter([bytes([1]) * 32, bytes([2]) * 16, bytes([3]) * 12])
    seed = SeedFile.new(setup.plan, "trustee-1", rng=lambda k: next(stream))
    raw = seed.seal(PASS, rng=lambda k: next(stream))
    header, _ = unpack_record(raw, b"CSDKGSED", 1, "seed")
    assert seed.seed == bytes([1]) * 32
    assert header["kdf"]["salt"] == "02" * 16 and header["nonce"] == "03" * 12
    assert header["kdf"] | {"salt": ""} == {
        "name": "scrypt",
        "n": 1 << 15,
        "r": 8,
        "p": 1,
        "salt": "",
    }


# -- the relay's helpers ----------------------------------------------------------------------
def test_relay_digests_from_message_digests_equal_the_transcripts(setup, finished):
    plan = setup.plan
    by_round = {kind: [m.digest for m in finished.messages(kind)] for kind in ROUNDS}
    chain = round_digests_of(plan.digest, by_round)
    assert list(chain) == list(ROUNDS)
    for kind in ROUNDS:
        assert chain[kind] == finished.round_digest(kind)
        previous = expected_previous_of(kind, plan.digest, chain)
        assert previous == finished.expected_previous(kind)
        assert round_digest_of(kind, previous, by_round[kind]) == chain[kind]
        for m in finished.messages(kind):
            assert m.previous == previous
    assert expected_previous_of("reveal", plan.digest, {}) == plan.digest
    partial = round_digests_of(plan.digest, {k: by_round[k] for k in ROUNDS[:2]})
    assert list(partial) == ["hello", "contribution"]
    assert expected_previous_of("response", plan.digest, partial) == finished.round_digest(
        "contribution"
    )
    with pytest.raises(StepError, match="answers the responses, which are not all in"):
        expected_previous_of("confirmation", plan.digest, partial)
    with pytest.raises(ParameterError, match="no ceremony message kind 'gossip'"):
        expected_previous_of("gossip", plan.digest, chain)
    assert KINDS["completion"] == 5 and KINDS["reveal"] == 6 and ROUNDS[-1] == "completion"


# -- the ceremony test's noise ------------------------------------------------------------------
@pytest.mark.parametrize("params", [BFV8192, BFV16384], ids=lambda p: p.ID)
def test_the_ceremony_test_decrypts_for_every_committee_up_to_16(params):
    delta_half = release_delta_half(params)
    for n in range(2, params.MAX_TRUSTEES + 1):
        bound = ceremony_test_noise_bound(params, committee=n)
        assert bound >= n * params.POLY_MODULUS_DEGREE + 3
        for t in range(2, n + 1):
            smudge = ceremony_test_smudging_bound(params, committee=n, threshold=t)
            assert smudge >= bound << SMUDGING_BITS
            assert bound + t * smudge < delta_half
    with pytest.raises(ParameterError):
        ceremony_test_smudging_bound(params, committee=3, threshold=4)
