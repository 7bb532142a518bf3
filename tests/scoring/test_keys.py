from __future__ import annotations

import pytest

from cryptoscore import EvaluationKeys, FormatError, PublicContext, SecretKey
from cryptoscore.params import BFV8192
from cryptoscore.scoring.keys import galois_elements


def test_public_context_roundtrip(keys):
    raw = keys.public.to_bytes()
    again = PublicContext.from_bytes(raw)
    assert again == keys.public and again.key_id == keys.public.key_id
    assert len(raw) < 600_000  # participants download only this


def test_public_context_malformed(keys):
    raw = keys.public.to_bytes()
    with pytest.raises(FormatError, match="bytes, expected"):
        PublicContext.from_bytes(raw[:-3])
    with pytest.raises(FormatError, match="wrong record type"):
        PublicContext.from_bytes(b"X" * 8 + raw[8:])


def test_evaluation_keys_roundtrip_and_truncation(keys):
    raw = keys.evaluation.to_bytes()
    again = EvaluationKeys.from_bytes(raw)
    assert again.key_id == keys.public.key_id and again.digest == keys.evaluation.digest
    with pytest.raises(FormatError, match="body has"):
        EvaluationKeys.from_bytes(raw[:-100])


def test_secret_key_never_printed(keys):
    text = repr(keys.secret)
    assert "SecretKey(params=bfv-8192" in text and len(text) < 80
    again = SecretKey.from_bytes(keys.secret.to_bytes())
    assert again.key_id == keys.secret.key_id


def test_galois_elements_for_packing():
    assert galois_elements(BFV8192) == [3, 5, 9, 17, 33, 65, 129, 257, 513, 1025, 2049, 4097, 8193]
