"""The committed known-answer vectors still hold (wire formats and seed expansions are stable)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def test_vectors_are_reproduced():
    module = _generator()
    committed = json.loads((HERE / "vectors.json").read_text())
    assert module.vectors() == committed


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


def _generator():
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
