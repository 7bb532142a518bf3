"""The dealerless ceremony's wire records: exact round trips, and every malformed input
refused with an error that says what is wrong; the degree check on random data; the ceremony
code never reconstructs the secret key."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoscore import BFV8192
from cryptoscore.envelope import pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError, ParameterError
from cryptoscore.hazmat.modmath import uniform_below
from cryptoscore.identity import Identity
from cryptoscore.threshold.ceremony import CeremonyRecord, RosterEntry
from cryptoscore.threshold.dkg import ROUNDS, CeremonyPlan, SignedMessage, Transcript, degree_check
from cryptoscore.threshold.dkg import trustee as trustee_module
from cryptoscore.threshold.dkg.transport import open_share, seal_share, transport_key
from tests.helpers.dkg import DkgRun

DKG = Path(__file__).resolve().parents[3] / "cryptoscore" / "threshold" / "dkg"


@pytest.fixture(scope="module")
def run() -> tuple[DkgRun, Transcript]:
    setup = DkgRun(2, 3)
    transcript, _ = setup.run()
    return setup, transcript


def test_plan_round_trip_and_refusals(run):
    setup, _ = run
    plan = setup.plan
    assert CeremonyPlan.from_bytes(plan.to_bytes()) == plan
    assert len(plan.digest) == 64 and plan.test_set == (1, 2)
    with pytest.raises(FormatError, match="truncated"):
        CeremonyPlan.from_bytes(plan.to_bytes()[:-5])
    with pytest.raises(FormatError, match="unexpected bytes"):
        CeremonyPlan.from_bytes(plan.to_bytes() + b"x")
    assert plan.version == 2 and plan.prss
    header, _ = unpack_record(plan.to_bytes(), b"CSDKGPLN", 2, "plan")
    for change, message in [
        ({"threshold": 4}, "threshold must be in 2..3"),
        ({"n": 4}, "n differs"),
        ({"nonce": "00"}, "nonce"),
        ({"params": "bfv-1"}, "unknown parameter set"),
    ]:
        with pytest.raises((FormatError, ParameterError), match=message):
            CeremonyPlan.from_bytes(pack_record(b"CSDKGPLN", 2, header | change))
    legacy = CeremonyPlan.from_bytes(pack_record(b"CSDKGPLN", 1, header))
    assert (legacy.version, legacy.prss) == (1, False)
    assert legacy.to_bytes() == pack_record(b"CSDKGPLN", 1, header)
    with pytest.raises(FormatError, match="unsupported format version 3"):
        CeremonyPlan.from_bytes(pack_record(b"CSDKGPLN", 3, header))
    with pytest.raises(ParameterError, match="at most 16"):
        ids = [Identity.generate() for _ in range(17)]
        roster = [RosterEntry(f"t{i}", i, k.public_key) for i, k in enumerate(ids, start=1)]
        CeremonyPlan.create(BFV8192, roster, 2)


@pytest.mark.parametrize("kind", ROUNDS)
def test_messages_round_trip_byte_for_byte(run, kind):
    setup, transcript = run
    for message in transcript.messages(kind):
        raw = message.to_bytes()
        again = SignedMessage.from_bytes(raw, setup.plan)
        assert again.to_bytes() == raw and again.digest == message.digest
        assert again.kind == kind and again.trustee_id == message.trustee_id


def test_reveal_round_trips(run):
    setup, _ = run
    reveal = setup.trustee("trustee-2").reveal()
    again = SignedMessage.from_bytes(reveal.to_bytes(), setup.plan)
    assert again.payload.seed == setup.seeds["trustee-2"]


def test_malformed_messages_are_refused(run):
    setup, transcript = run
    raw = transcript.message("response", "trustee-1").to_bytes()
    with pytest.raises(FormatError, match="truncated"):
        SignedMessage.from_bytes(raw[:40], setup.plan)
    with pytest.raises(FormatError, match="response: body has"):
        SignedMessage.from_bytes(raw[:-65] + raw[-64:], setup.plan)
    with pytest.raises(FormatError, match="response: body has"):
        SignedMessage.from_bytes(raw[:-64] + b"\0" * 8 + raw[-64:], setup.plan)
    other = CeremonyPlan.create(BFV8192, setup.roster, 2)
    with pytest.raises(MismatchError, match="another ceremony plan"):
        SignedMessage.from_bytes(raw, other)
    hello = transcript.message("hello", "trustee-1")
    header, _ = unpack_record(hello.unsigned, b"CSDKGMSG", 3, "m")
    for change, message in [
        ({"kind": "gossip"}, "unknown kind 'gossip'"),
        ({"round": 2}, "round must be 1"),
        ({"trustee_id": "mallory"}, "not on the ceremony's roster"),
        ({"transport_key": "00" * 32}, "not a usable X25519 public key"),
        ({"extra": 1}, "unknown header field"),
    ]:
        forged = pack_record(b"CSDKGMSG", 3, header | change) + hello.signature
        with pytest.raises((FormatError, MismatchError), match=message):
            SignedMessage.from_bytes(forged, setup.plan)
    stale = SignedMessage.sign(
        setup.plan, "trustee-1", setup.identities["trustee-1"], "00" * 32, hello.payload
    )
    with pytest.raises(MismatchError, match="previous digest differs"):
        Transcript(setup.plan).add(stale)


def test_contribution_before_all_hellos_is_refused(run):
    setup, transcript = run
    partial = Transcript(setup.plan)
    partial.add(transcript.message("hello", "trustee-1"))
    with pytest.raises(Exception, match="the hellos are not all in: none yet from trustee-2"):
        partial.add(transcript.message("contribution", "trustee-1"))


def test_sealed_share_opens_only_for_its_recipient_and_context():
    a, b, c = (transport_key() for _ in range(3))
    pub = {k: v.public_key().public_bytes_raw() for k, v in {"a": a, "b": b, "c": c}.items()}
    sealed = seal_share(a, pub["b"], plan="p" * 64, sender="a", recipient="b", plaintext=b"hi")
    assert open_share(b, pub["a"], plan="p" * 64, sender="a", recipient="b", sealed=sealed) == b"hi"
    for key, sender, recipient in [(c, "a", "b"), (b, "c", "b"), (b, "a", "c")]:
        with pytest.raises(FormatError, match="does not open"):
            open_share(
                key, pub["a"], plan="p" * 64, sender=sender, recipient=recipient, sealed=sealed
            )


def test_dealerless_record_round_trip_and_v1_untouched(run, keys):
    setup, transcript = run
    record = transcript.check_transcript(created_at="2026-12-01T00:00:00Z")
    raw = record.to_bytes()
    assert raw[8:10] == (5).to_bytes(2, "little")
    assert CeremonyRecord.from_bytes(raw).to_bytes() == raw
    header, _ = unpack_record(raw, b"CSCEREMO", 5, "r")
    for change, message in [
        ({"mode": "dealer"}, "version 5 record is a dealerless"),
        ({"transcript": header["transcript"][:-1]}, "exactly one message of each"),
        ({"plan": "zz"}, "plan"),
        ({"answers": "lagrange"}, "version 5 record answers shamir"),
        ({"prss": header["prss"][:-1]}, "PRSS commitments must name the"),
        ({"prss": [[[1, 2], "zz"]]}, "a prss entry is"),
    ]:
        with pytest.raises(FormatError, match=message):
            CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 5, header | change))
    with pytest.raises(FormatError, match="unsupported format version 9"):
        CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 9, header))
    with pytest.raises(FormatError):  # version 4 is a dealer record with PRSS commitments
        CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 4, header))
    with pytest.raises(FormatError, match=r"version 2 .* is refused"):
        CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 2, header))
    v1 = CeremonyRecord(
        params=BFV8192,
        key_id=keys.public.key_id,
        evaluation_keys=keys.evaluation.digest,
        threshold=2,
        roster=tuple(setup.roster),
        share_commitments={e.trustee_id: "0" * 64 for e in setup.roster},
        created_at="2026-12-01T00:00:00Z",
    )
    assert v1.to_bytes()[8:10] == (1).to_bytes(2, "little") and v1.mode == "dealer"
    assert b"mode" not in v1.to_bytes() and v1.verify_signatures() == 0
    assert CeremonyRecord.from_bytes(v1.to_bytes()).to_bytes() == v1.to_bytes()


@settings(max_examples=15, deadline=None)
@given(
    t=st.integers(2, 5),
    extra=st.integers(0, 3),
    slot=st.integers(0, 8191),
    prime=st.integers(0, 3),
    seed=st.binary(min_size=32, max_size=32),
)
def test_degree_check_accepts_honest_and_refuses_any_off_polynomial_share(
    t, extra, slot, prime, seed
):
    from cryptoscore.randomness import seeded_stream

    params = BFV8192
    n_trustees = t + extra
    rng = seeded_stream(seed, "test")
    secret = np.stack([uniform_below(q, 8192, rng=rng) for q in params.DATA_PRIMES])
    f = degree_check.shamir_polynomial(params, secret, t, rng=rng)
    masks = [degree_check.mask_polynomial(params, t, rng=rng) for _ in range(2)]
    r = degree_check.degree_challenges(params, seed.hex())
    d = [degree_check.degree_polynomial(params, masks[b], f, r[b]) for b in range(2)]
    assert np.array_equal(degree_check.evaluate(params, f, 0), secret)
    for k in range(1, n_trustees + 1):
        share = degree_check.evaluate(params, f, k)
        mask_shares = [degree_check.evaluate(params, m, k) for m in masks]
        for b in range(2):
            assert degree_check.share_is_consistent(params, d[b], k, share, mask_shares[b], r[b])
        share[prime, slot] = (int(share[prime, slot]) + 1) % params.DATA_PRIMES[prime]
        for b in range(2):
            assert not degree_check.share_is_consistent(
                params, d[b], k, share, mask_shares[b], r[b]
            )


# -- the key is never reconstructed ----------------------------------------------------
FORBIDDEN = {
    "share",  # hazmat/shamir.share: the dealer's sharing of a whole key
    "secret_key_residues",
    "generate_keys",
    "generate_key_material",
    "SecretKey",
    "deal",
    "run_ceremony",
    "crt_lift_key",
}


def test_the_dkg_package_never_imports_a_whole_key_or_a_dealer():
    for path in sorted(DKG.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = {a.name for a in node.names}
                assert not names & FORBIDDEN, (path.name, names & FORBIDDEN)
                if node.module == "cryptoscore.hazmat.shamir":
                    assert names == {"lagrange_at_zero"}, path.name
    # Lagrange coefficients appear once: the test partial's own λ_k, as in partial.py
    uses = [
        (path.name, node.lineno)
        for path in sorted(DKG.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Name) and node.id == "lagrange_at_zero"
    ]
    assert [name for name, _ in uses] == ["trustee.py"]


def test_the_ceremony_only_computes_each_trustees_own_lagrange_coefficient(run, monkeypatch):
    setup, _ = run
    calls: list[tuple[int, tuple[int, ...]]] = []
    real = trustee_module.lagrange_at_zero

    def spy(x, active, q):
        calls.append((x, tuple(active)))
        return real(x, active, q)

    monkeypatch.setattr(trustee_module, "lagrange_at_zero", spy)
    transcript, _ = setup.run(reuse=False)
    transcript.check_transcript()
    levels = setup.plan.params.RELEASE_LEVEL
    # each test-set trustee scales only its own share, once per release prime; nobody
    # evaluates a Lagrange combination of several shares
    assert sorted(calls) == sorted((x, (1, 2)) for x in (1, 2) for _ in range(levels))
