"""The committed known-answer vectors still hold (wire formats, seed expansions and every
draw of the protocol's wire records are stable), and the stored records parse back."""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent


FILES = {"shamir": "vectors.json", "lagrange": "lagrange.json"}
"""The vectors of Shamir answers (record version 4) and of additive answers (version 1, as
before PRSS keys were dealt: old records must keep verifying)."""


def _committed(answers: str = "shamir") -> dict:
    return json.loads((HERE / FILES[answers]).read_text())


@pytest.mark.parametrize("answers", sorted(FILES))
def test_vectors_are_reproduced(answers):
    module = _generator()
    assert module.vectors(answers) == _committed(answers)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_canonical_ciphertext_vectors_roundtrip(index):
    import hashlib

    from cryptoscore.hazmat.ciphertext import decode_ciphertext, encode_ciphertext
    from cryptoscore.params import get_parameter_set

    generator = _generator()
    vector = json.loads((HERE / "vectors.json").read_text())["ciphertext_encoding"][index]
    params = get_parameter_set(vector["params"])
    moduli = params.moduli(vector["level"])
    data = generator.ciphertext_data(params, vector["level"], vector["seed"])
    raw = encode_ciphertext(data, moduli)
    assert hashlib.sha256(raw).hexdigest() == vector["sha256"]
    assert (decode_ciphertext(raw, moduli, params.POLY_MODULUS_DEGREE) == data).all()


@functools.cache
def _generator():
    """``generate.py``, loaded once: its :func:`protocol_records` is built once per run."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("vector_generator", HERE / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_signed_input_vectors_verify():
    """The committed enrolment record parses and verifies; the committed signatures verify
    over the committed messages under the committed keys."""
    from cryptoscore.identity import PublicKey
    from cryptoscore.protocol.rules import ChallengeRules
    from cryptoscore.protocol.signed_inputs import Enrolment

    vector = json.loads((HERE / "vectors.json").read_text())["signed_inputs"]
    enrolment = Enrolment.from_bytes(bytes.fromhex(vector["enrolment_record"]))
    enrolment.verify()
    assert enrolment.identity.hex() == vector["participant_key"]
    rules = ChallengeRules.from_json(vector["rules"])
    assert rules.may_enrol(enrolment.identity) and rules.organizer.hex() == vector["organizer_key"]
    for key, message, signature in (
        ("participant_key", "pad_request_message", "pad_request_signature"),
        ("organizer_key", "upload_message", "upload_signature"),
    ):
        PublicKey.from_hex(vector[key]).verify(
            bytes.fromhex(vector[signature]), bytes.fromhex(vector[message]), message
        )


def _roundtrip(cls, raw: bytes):
    parsed = cls.from_bytes(raw)
    assert parsed.to_bytes() == raw
    return parsed


def test_small_wire_records_parse_back():
    """Every record stored whole parses, re-serializes to the same bytes, and checks out:
    the contributions and the receipt verify, the requests name the ceremony's key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from cryptoscore.protocol.contributions import Contribution
    from cryptoscore.protocol.requests import DecryptionRequest
    from cryptoscore.scoring.pad_request import PadRequest
    from cryptoscore.threshold.ceremony import CeremonyRecord
    from cryptoscore.transparency.receipts import Receipt, verify_receipt

    vectors = _committed()
    record = _roundtrip(CeremonyRecord, bytes.fromhex(vectors["ceremony"]["record"]))
    assert [e.trustee_id for e in record.roster] == ["t1", "t2", "t3"]
    for c in vectors["round1_seed"]["contributions"]:
        _roundtrip(Contribution, bytes.fromhex(c["record"])).verify(record)
    request = _roundtrip(PadRequest, bytes.fromhex(vectors["pad_request"]))
    assert request.key_id == record.key_id and request.active_set == (1, 2)
    for raw in vectors["decryption_requests"]:
        assert _roundtrip(DecryptionRequest, bytes.fromhex(raw)).active_set.indices == (1, 2)
    receipt = _roundtrip(Receipt, bytes.fromhex(vectors["receipt"]["record"]))
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(vectors["receipt"]["service_key"]))
    verify_receipt(receipt, key)


@pytest.mark.parametrize("answers", sorted(FILES))
def test_large_wire_records_parse_back(answers):
    """Records stored by hash: rebuilt from the same fixed draws they match, parse back to
    the same bytes and objects, carry valid signatures of the stored ceremony's roster, and
    do their job — the pad shares open to pads, the bundle passes its noise check, the share
    files open and recombine."""
    from cryptoscore.hazmat.shamir import lagrange_at_zero
    from cryptoscore.protocol.recompute import noise_check_passed
    from cryptoscore.scoring.bundle import EncryptedBundle
    from cryptoscore.scoring.noise_check import noise_check
    from cryptoscore.threshold.active_set import ActiveSet
    from cryptoscore.threshold.ceremony import CeremonyRecord, open_share_file
    from cryptoscore.threshold.pad_shares import PadShare, open_pads
    from cryptoscore.threshold.partial import PartialDecryption

    vectors = _committed(answers)
    run = _generator().protocol_records(answers)
    record = CeremonyRecord.from_bytes(bytes.fromhex(vectors["ceremony"]["record"]))
    assert run.record == record and record.answers == answers
    for cls, built, stored in (
        (PadShare, run.pad_shares, vectors["pad_shares"]),
        (PartialDecryption, run.partials, vectors["partials"]),
    ):
        assert len(built) == len(stored)
        for item, vector in zip(built, stored, strict=True):
            raw = item.to_bytes()
            assert (len(raw), hashlib.sha256(raw).hexdigest()) == (
                vector["length"],
                vector["sha256"],
            )
            assert raw.startswith(bytes.fromhex(vector["head"]))
            assert _roundtrip(cls, raw) == item
            record.entry(item.trustee_id).public_key.verify(
                item.signature, item.signed_message(), item.trustee_id
            )
    raw = run.bundle.to_bytes()
    assert (len(raw), hashlib.sha256(raw).hexdigest()) == (
        vectors["bundle"]["length"],
        vectors["bundle"]["sha256"],
    )
    assert EncryptedBundle.from_bytes(raw).to_bytes() == raw
    assert run.bundle.header.pad_request == run.pad_request
    pads = open_pads(run.pad_request, run.pad_shares, record, run.pad_key)
    assert pads.take().shape == (1, len(record.params.DATA_PRIMES), 8192)
    noise = [p for p in run.partials if p.request_id == run.requests[0].request_id]
    assert noise_check_passed(
        noise_check(run.bundle, 0), noise, record, run.requests[0].request_id, ActiveSet((1, 2))
    )  # the pads, the encryption error, the pad errors and the masks fit together
    shares = {}
    for tid, raw in run.share_files.items():
        record.check_share_file(tid, raw)
        shares[tid] = open_share_file(raw, _generator().PASSPHRASES[tid])
    for i, q in enumerate(record.params.DATA_PRIMES):  # any two shares give the secret
        total = np.zeros(8192, dtype=object)
        for tid, x in (("t1", 1), ("t3", 3)):
            total += shares[tid].residues(i + 1)[i].astype(object) * lagrange_at_zero(x, [1, 3], q)
        assert ((total % q).astype(np.uint64) == run.secret[i]).all()
    digest = hashlib.sha256(run.secret.astype("<u8").tobytes()).hexdigest()
    assert digest == vectors["ceremony"]["secret_sha256"]


def test_the_stream_depends_only_on_position():
    """The test-only rng: the same bytes however a draw is split into calls."""
    stream = _generator().Stream
    whole, split = stream("x"), stream("x")
    assert whole(100) == split(7) + split(60) + split(33)


@pytest.mark.slow
def test_a_whole_challenge_is_reproduced():
    """The whole small challenge (``challenge.py``): the same draws give the same log, entry
    by entry, the same signed head and the same released and rejected outcomes."""
    from tests.vectors.challenge import whole_challenge

    committed = json.loads((HERE / "challenge.json").read_text())
    run = whole_challenge()
    assert run["released"] == {
        "ann": {
            "correct": committed["expected"]["correct"],
            "errors": committed["expected"]["n"] - committed["expected"]["correct"],
        }
    }
    assert set(run["rejected"]) == {"bob"}
    for index, (got, pinned) in enumerate(zip(run["leaves"], committed["leaves"], strict=True)):
        assert got == pinned, f"log entry {index} differs"
    assert run == committed


def test_lagrange_vectors_still_parse():
    """The vectors of additive (Lagrange) answers, from before PRSS keys were dealt
    (``lagrange.json``): the version 1 dealer record still parses, re-serializes to the same
    bytes and means ``answers == "lagrange"``."""
    from cryptoscore.threshold.ceremony import CeremonyRecord

    old = _committed("lagrange")
    raw = bytes.fromhex(old["ceremony"]["record"])
    record = _roundtrip(CeremonyRecord, raw)
    assert raw[8:10] == (1).to_bytes(2, "little")
    assert record.answers == "lagrange" and not record.robust and not record.prss_commitments
