"""A deviating trustee is caught and NAMED (docs/design.md, "Key ceremony v2 (dealerless)"):
each attack below aborts the ceremony, and blame by replay of the revealed seeds names the
deviator and nobody else. Where a guard can be switched off, the attack is shown to work
without it, so these tests fail if the guard stops guarding."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from cryptoscore.errors import FormatError, MismatchError, RefusedError, VerificationError
from cryptoscore.hazmat.keygen import public_key_share, sample_secret, secret_ntt
from cryptoscore.threshold.ceremony import DKG_SIGN_DOMAIN
from cryptoscore.threshold.dkg import (
    ROUNDS,
    Accusation,
    CeremonyAbort,
    Confirmation,
    DkgTrustee,
    SignedMessage,
    Transcript,
    blame,
    degree_check,
    reveals_needed,
)
from tests.helpers.dkg import DkgRun, accuracy_aggregate, release


class InconsistentDealer(DkgTrustee):
    """Sends trustee-3 (outside the test set {1, 2}) a share off its polynomial: one slot."""

    def _dealt_share(self, recipient_index, f, m0, m1):
        out = super()._dealt_share(recipient_index, f, m0, m1)
        if recipient_index == 3:
            q = self.params.DATA_PRIMES[0]
            word = int.from_bytes(out[:8], "little")
            out[:8] = ((word + 1) % q).to_bytes(8, "little")
        return out


class WrongPublicKeyShare(DkgTrustee):
    """p_i for a secret other than f_i(0) = s_i."""

    def _public_key_share(self, s, s_coeff, a):
        other = secret_ntt(self.params, sample_secret(self.params, rng=os.urandom))
        return public_key_share(self.params, other, a, rng=self._stream("pk-error"))


class WrongGaloisShare(DkgTrustee):
    """One residue of one Galois-key share changed."""

    def _galois_share(self, s, s_coeff, g, a):
        out = super()._galois_share(s, s_coeff, g, a)
        if g == 3:
            out[0, 0, 0] = (int(out[0, 0, 0]) + 1) % self.params.DATA_PRIMES[0]
        return out


class WrongRelinRound2(DkgTrustee):
    """One residue of the RKG round-2 share h0' changed."""

    def _relin_round2(self, s, u, h0, h1):
        h0p, h1p = super()._relin_round2(s, u, h0, h1)
        h0p[1, 2, 5] = (int(h0p[1, 2, 5]) + 1) % self.params.DATA_PRIMES[2]
        return h0p, h1p


class FalseComplainer(DkgTrustee):
    """Accuses an honest dealer."""

    def _verdict(self, transcript, final_share, accused):
        return Confirmation(
            "complaint", accused=(Accusation("trustee-1", "its share fails the degree check"),)
        )


@pytest.fixture(scope="module")
def setup() -> DkgRun:
    return DkgRun(2, 3)


def _abort(transcript: Transcript) -> CeremonyAbort:
    with pytest.raises(CeremonyAbort) as caught:
        transcript.check_transcript()
    return caught.value


def _keys_and_shares(transcript, trustees):
    record = transcript.check_transcript()
    public, evaluation = transcript.assemble_keys()
    shares = {tid: t.finish(transcript) for tid, t in trustees.items()}
    return record, public, evaluation, shares


def test_inconsistent_share_is_complained_about_and_its_dealer_named(setup):
    transcript, trustees = setup.run({"trustee-1": InconsistentDealer})
    complaint = transcript.confirmation("trustee-3")
    assert complaint.verdict == "complaint"
    assert complaint.accused == (Accusation("trustee-1", "its share fails the degree check"),)
    abort = _abort(transcript)
    assert abort.needs_reveal and "trustee-3 accuses trustee-1" in str(abort)
    with pytest.raises(CeremonyAbort):
        trustees["trustee-2"].finish(transcript)
    assert blame(transcript, setup.reveals(trustees)) == {
        "trustee-1": "its contribution (round 2) is not what its seed gives"
    }


def test_without_the_degree_check_an_inconsistent_dealing_passes_and_a_later_subset_fails(
    setup, monkeypatch, tmp_path
):
    monkeypatch.setattr(degree_check, "share_is_consistent", lambda *args: True)
    transcript, trustees = setup.run({"trustee-1": InconsistentDealer}, reuse=False)
    # the ceremony test uses the test set {1, 2}: it passes, and everybody finishes
    record, public, evaluation, shares = _keys_and_shares(transcript, trustees)
    aggregate, want = accuracy_aggregate(public, evaluation, seed=7, n_items=500)
    ids = setup.identities
    assert (
        release(
            aggregate, public, record, shares, ids, ("trustee-1", "trustee-2"), tmp_path / "a", "a"
        )
        == want
    )
    # trustee-3's share is off the polynomial: any subset with it decrypts garbage
    assert (
        release(
            aggregate, public, record, shares, ids, ("trustee-1", "trustee-3"), tmp_path / "b", "b"
        )
        != want
    )


def test_wrong_public_key_share_fails_the_test_and_is_named(setup):
    transcript, trustees = setup.run({"trustee-2": WrongPublicKeyShare})
    assert all(transcript.confirmation(t).verdict == "ack" for t in trustees)
    abort = _abort(transcript)
    assert abort.needs_reveal and "ceremony test" in str(abort)
    assert blame(transcript, setup.reveals(trustees)) == {
        "trustee-2": "its contribution (round 2) is not what its seed gives"
    }


def test_without_the_ceremony_test_a_wrong_public_key_goes_unnoticed_until_release(
    setup, monkeypatch, tmp_path
):
    monkeypatch.setattr(Transcript, "test_decryption", lambda self: self.ceremony_test().expected)
    transcript, trustees = setup.run({"trustee-2": WrongPublicKeyShare})
    record, public, evaluation, shares = _keys_and_shares(transcript, trustees)
    aggregate, want = accuracy_aggregate(public, evaluation, seed=8, n_items=500)
    got = release(
        aggregate,
        public,
        record,
        shares,
        setup.identities,
        ("trustee-1", "trustee-2"),
        tmp_path,
        "r",
    )
    assert got != want


def test_withheld_seed_is_named(setup):
    transcript, trustees = setup.run({"trustee-2": WrongPublicKeyShare})
    _abort(transcript)
    reveals = setup.reveals(trustees, withheld=("trustee-2",))
    assert blame(transcript, reveals) == {"trustee-2": "withheld its seed"}


def test_wrong_galois_share_is_named(setup):
    transcript, trustees = setup.run({"trustee-3": WrongGaloisShare})
    assert _abort(transcript).needs_reveal
    assert blame(transcript, setup.reveals(trustees)) == {
        "trustee-3": "its contribution (round 2) is not what its seed gives"
    }


def test_wrong_relin_round2_share_is_named(setup):
    transcript, trustees = setup.run({"trustee-1": WrongRelinRound2})
    assert _abort(transcript).needs_reveal
    assert blame(transcript, setup.reveals(trustees)) == {
        "trustee-1": "its response (round 3) is not what its seed gives"
    }


def test_false_complaint_names_the_complainer(setup):
    transcript, trustees = setup.run({"trustee-2": FalseComplainer})
    abort = _abort(transcript)
    assert abort.needs_reveal and "trustee-2 accuses trustee-1" in str(abort)
    assert blame(transcript, setup.reveals(trustees)) == {
        "trustee-2": "its confirmation (round 4) is not what its seed gives"
    }


@pytest.mark.parametrize("kind", ROUNDS)
def test_a_trustee_sending_nothing_is_named_without_any_reveal(setup, kind):
    transcript, _ = setup.run(silent={"trustee-3": kind})
    abort = _abort(transcript)
    assert abort.culprits == {"trustee-3": f"sent no {kind}"} and not abort.needs_reveal
    assert blame(transcript) == {"trustee-3": f"sent no {kind}"}


def test_a_seed_that_is_not_the_trustees_own_is_named(setup):
    transcript, trustees = setup.run({"trustee-1": WrongRelinRound2})
    reveals = setup.reveals(trustees, withheld=("trustee-3",))
    impostor = DkgTrustee(setup.plan, "trustee-3", setup.identities["trustee-3"], os.urandom(32))
    culprits = blame(transcript, [*reveals, impostor.reveal()])
    assert culprits == {
        "trustee-1": "its response (round 3) is not what its seed gives",
        "trustee-3": "its hello (round 1) is not what its seed gives",
    }


def test_tampered_messages_are_refused_at_parse(setup):
    transcript, _ = setup.run()
    hello = transcript.message("hello", "trustee-1")
    raw = bytearray(hello.to_bytes())
    raw[-1] ^= 1
    with pytest.raises(VerificationError, match="hello of 'trustee-1': signature does not verify"):
        SignedMessage.from_bytes(bytes(raw), setup.plan)
    contribution = transcript.message("contribution", "trustee-2").to_bytes()
    edited = bytearray(contribution)
    edited[-100] ^= 1  # inside the last sealed share
    with pytest.raises(VerificationError, match="contribution of 'trustee-2'"):
        SignedMessage.from_bytes(bytes(edited), setup.plan)
    # a message signed with another trustee's key under this trustee's name
    unsigned = SignedMessage.unsigned_record(setup.plan, "trustee-1", hello.previous, hello.payload)
    signature = setup.identities["trustee-2"].sign(
        DKG_SIGN_DOMAIN + hashlib.sha256(unsigned).digest()
    )
    with pytest.raises(VerificationError, match="hello of 'trustee-1'"):
        Transcript(setup.plan).add(unsigned + signature)


def test_equivocation_is_refused(setup):
    transcript, _ = setup.run()
    other = DkgTrustee(setup.plan, "trustee-1", setup.identities["trustee-1"], os.urandom(32))
    with pytest.raises(MismatchError, match="two different hellos"):
        transcript.add(other.hello())


def test_reveal_ends_the_trustee(setup):
    transcript, _ = setup.run()
    trustee = setup.trustee("trustee-1")
    trustee.reveal()
    with pytest.raises(RefusedError, match="revealed its seed"):
        trustee.finish(transcript)


def test_a_share_out_of_range_is_refused(setup):
    transcript, _ = setup.run()
    message = transcript.message("response", "trustee-1")
    degree = np.array(message.payload.degree)
    degree[0, 0, 0, 0] = setup.plan.params.DATA_PRIMES[0]
    payload = type(message.payload)(degree, message.payload.relin_h0, message.payload.relin_h1)
    bad = SignedMessage.sign(
        setup.plan, "trustee-1", setup.identities["trustee-1"], message.previous, payload
    )
    with pytest.raises(FormatError, match="not reduced modulo prime 0"):
        SignedMessage.from_bytes(bad.to_bytes(), setup.plan)


# -- the completion round ---------------------------------------------------------------
def test_a_completion_over_failing_confirmations_names_its_sender_without_its_seed(setup):
    transcript, trustees = setup.run({"trustee-2": FalseComplainer})
    assert transcript.missing("completion") == ["trustee-1", "trustee-2", "trustee-3"]
    transcript.add(setup.forced_completion("trustee-1", transcript))
    assert reveals_needed(transcript) == ["trustee-2", "trustee-3"]
    reveals = [trustees[t].reveal() for t in ("trustee-2", "trustee-3")]
    assert blame(transcript, reveals) == {
        "trustee-1": "its completion (round 5) answers confirmations whose checks fail",
        "trustee-2": "its confirmation (round 4) is not what its seed gives",
    }


def test_a_reveal_after_completing_is_named_and_does_not_stop_the_others(setup):
    transcript, trustees = setup.run()
    assert transcript.complete("completion") and reveals_needed(transcript) == []
    late = DkgTrustee(
        setup.plan, "trustee-3", setup.identities["trustee-3"], setup.seeds["trustee-3"]
    )
    assert blame(transcript, [late.reveal()]) == {"trustee-3": "revealed its seed after completing"}
    # its seed exposes only what it knew: the others hold all n completions and finish
    assert trustees["trustee-1"].finish(transcript).key_id == transcript.check_transcript().key_id


def test_a_completion_naming_other_keys_names_its_sender(setup):
    transcript, _ = setup.run(silent={"trustee-2": "completion"})
    transcript.add(setup.forced_completion("trustee-2", transcript, key_id="ab" * 32))
    abort = _abort(transcript)
    wrong = {"trustee-2": "its completion names other keys than the transcript's"}
    assert abort.culprits == wrong and not abort.needs_reveal
    assert blame(transcript) == {
        "trustee-2": "its completion (round 5) is not what the transcript gives"
    }


def test_a_trustee_that_completed_never_reveals(setup):
    transcript, _ = setup.run(silent={"trustee-3": "completion"})
    trustee = setup.trustee("trustee-3")
    transcript.add(trustee.complete(transcript))
    with pytest.raises(RefusedError, match="completed the ceremony: it never reveals"):
        trustee.reveal()
    revealed = setup.trustee("trustee-2")
    revealed.reveal()
    with pytest.raises(RefusedError, match="revealed its seed"):
        revealed.complete(transcript)
