"""Threshold decryption: every active subset of small committees gives numpy's counts and
SEAL's single-key result; every misuse is refused (docs/design.md, "Threshold decryption")."""

from __future__ import annotations

import hashlib
import itertools
import os
import pickle

import numpy as np
import pytest

from cryptoscore import (
    BFV8192,
    FormatError,
    MismatchError,
    RefusedError,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    score,
    validity,
)
from cryptoscore.errors import VerificationError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import (
    CeremonyRecord,
    RosterEntry,
    open_share_file,
    run_ceremony,
)
from cryptoscore.threshold.combine import decrypt_answers, rerandomize
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.partial import PartialDecryption, partial_decrypt, standalone_lineage
from tests.helpers.committee import Committee


@pytest.fixture(scope="module", params=[(2, 3), (3, 5), (4, 7)], ids=lambda p: f"{p[0]}of{p[1]}")
def committee(request):
    return Committee(*request.param)


@pytest.mark.parametrize("classes", [2, 10])
def test_every_active_subset_equals_numpy_and_single_key(committee, classes, tmp_path):
    gen = np.random.default_rng(classes)
    n = 9000
    y = gen.integers(0, classes, n)
    p = np.where(gen.random(n) < 0.7, y, gen.integers(0, classes, n))
    public = committee.keys.public
    preds = encrypt_predictions(p, public, classes=classes, challenge="th")
    labels = encrypt_labels(y, public, classes=classes, challenge="th")
    metrics = ("correct", "confusion") if classes == 2 else ("correct", "errors")
    agg = score(preds, labels, ReleasePolicy(classes, metrics), committee.keys.evaluation)
    single = decrypt_aggregate(agg, committee.keys.secret)
    assert single["correct"] == int(np.count_nonzero(p == y))
    ids = [e.trustee_id for e in committee.roster]
    for k, subset in enumerate(itertools.combinations(ids, committee.record.threshold)):
        # each subset is a separate committee run (own journals): one trustee never answers
        # one lineage under two sets, re-randomized or not (lineage.py)
        fresh = rerandomize(agg, public, os.urandom(32))
        assert decrypt_aggregate(fresh, committee.keys.secret) == single
        active, parts = committee.partials(fresh, subset, f"req-{k}", tmp_path / f"run-{k}")
        result = decrypt_answers(fresh, parts, committee.record, f"req-{k}", active)
        assert result.values == single


def test_validity_aggregate_threshold_decrypts_to_zero(committee, tmp_path):
    bundle = encrypt_predictions(
        np.arange(5000) % 3, committee.keys.public, classes=3, challenge="th"
    )
    agg = validity(bundle, os.urandom(32), committee.keys.evaluation)
    ids = [e.trustee_id for e in committee.roster][: committee.record.threshold]
    active, parts = committee.partials(agg, ids, "v", tmp_path)
    out = decrypt_answers(agg, parts, committee.record, "v", active, measure_noise=True)
    assert set(out.values.values()) == {0}
    # the combiner sees noise of the size of the smudging (E ≥ 2^40 · bound), never the bare
    # noise: the largest of N coefficients of a sum of t uniforms in [−E, E] is close to t·E
    from cryptoscore.scoring.noise import smudging_bound

    t = committee.record.threshold
    e = smudging_bound(
        BFV8192, "validity/v1", 5000, 3, 4, t, committee=committee.record.n
    ).smudging_bound
    assert out.max_noise is not None and e // 2 < out.max_noise < t * e + (1 << 20)


@pytest.fixture(scope="module")
def small():
    return Committee(2, 3)


@pytest.fixture(scope="module")
def aggregate(small):
    y = np.arange(3000) % 2
    preds = encrypt_predictions(y, small.keys.public, classes=2, challenge="m")
    labels = encrypt_labels(y, small.keys.public, classes=2, challenge="m")
    return score(preds, labels, ReleasePolicy(2, ("correct",)), small.keys.evaluation)


def test_fewer_than_t_partials_refused(small, aggregate, tmp_path):
    fresh = rerandomize(aggregate, small.keys.public, os.urandom(32))
    active, parts = small.partials(fresh, ["trustee-1", "trustee-2"], "r", tmp_path)
    with pytest.raises(MismatchError, match="1 partial decryptions given, the threshold is 2"):
        decrypt_answers(fresh, parts[:1], small.record, "r", active)
    assert decrypt_answers(fresh, parts, small.record, "r", active).values == {"correct": 3000}


def test_reused_partial_refused_by_the_journal(small, aggregate, tmp_path):
    fresh = rerandomize(aggregate, small.keys.public, os.urandom(32))
    small.partials(fresh, ["trustee-1", "trustee-2"], "first", tmp_path)
    with pytest.raises(RefusedError, match="already produced a partial"):
        small.partials(fresh, ["trustee-1", "trustee-3"], "second", tmp_path)
    # the journal is durable: a new process (new journal object) refuses as well
    with PartialJournal(tmp_path / "trustee-2.journal") as journal:
        active = ActiveSet.of(small.record, ["trustee-2", "trustee-3"])
        with pytest.raises(RefusedError):
            partial_decrypt(
                small.shares["trustee-2"],
                fresh,
                active,
                "third",
                small.identity("trustee-2"),
                journal,
                small.record,
                lineage=standalone_lineage(fresh, active),
            )
    # re-randomizing makes no new lineage (lineage.py): refused for a new set too
    before = (tmp_path / "trustee-1.journal").read_bytes()
    again = rerandomize(fresh, small.keys.public, os.urandom(32))
    with pytest.raises(RefusedError, match="never answers it under another set"):
        small.partials(again, ["trustee-1", "trustee-3"], "fourth", tmp_path)
    assert (tmp_path / "trustee-1.journal").read_bytes() == before


def test_partial_for_another_active_set_refused(small, aggregate, tmp_path):
    fresh = rerandomize(aggregate, small.keys.public, os.urandom(32))
    _, parts_a = small.partials(fresh, ["trustee-1", "trustee-2"], "r", tmp_path / "a")
    active_b, parts_b = small.partials(fresh, ["trustee-2", "trustee-3"], "r", tmp_path / "b")
    mixed = [parts_a[0], parts_b[1]]  # trustee-1 answered for {1,2}, trustee-3 for {2,3}
    with pytest.raises(MismatchError, match="made for another active set"):
        decrypt_answers(fresh, mixed, small.record, "r", active_b)


def test_forged_signature_and_unknown_trustee_refused(small, aggregate, tmp_path):
    fresh = rerandomize(aggregate, small.keys.public, os.urandom(32))
    active, parts = small.partials(fresh, ["trustee-1", "trustee-2"], "r", tmp_path)
    raw = bytearray(parts[0].partial)
    raw[0] ^= 1
    tampered = PartialDecryption(**{**_fields(parts[0]), "partial": bytes(raw)})
    with pytest.raises(VerificationError, match="signature does not verify"):
        decrypt_answers(fresh, [tampered, parts[1]], small.record, "r", active)
    impostor = TrusteeIdentity.generate()
    forged = PartialDecryption(
        **{**_fields(parts[1]), "signature": impostor.sign(parts[1].signed_message())}
    )
    with pytest.raises(VerificationError):
        decrypt_answers(fresh, [parts[0], forged], small.record, "r", active)
    stranger = PartialDecryption(**{**_fields(parts[1]), "trustee_id": "mallory"})
    with pytest.raises(MismatchError, match="'mallory' is not on the roster"):
        decrypt_answers(fresh, [parts[0], stranger], small.record, "r", active)
    with pytest.raises(MismatchError, match="answers another request"):
        decrypt_answers(fresh, parts, small.record, "other", active)


def test_trustee_outside_active_set_refuses(small, aggregate, tmp_path):
    active = ActiveSet.of(small.record, ["trustee-1", "trustee-2"])
    with (
        PartialJournal(tmp_path / "j") as journal,
        pytest.raises(MismatchError, match="not in the request's active set"),
    ):
        partial_decrypt(
            small.shares["trustee-3"],
            aggregate,
            active,
            "r",
            small.identity("trustee-3"),
            journal,
            small.record,
            lineage=standalone_lineage(aggregate, active),
        )
    with pytest.raises(MismatchError, match="exactly t = 2"):
        ActiveSet.of(small.record, ["trustee-1"])


def test_partial_record_roundtrip(small, aggregate, tmp_path):
    fresh = rerandomize(aggregate, small.keys.public, os.urandom(32))
    _, parts = small.partials(fresh, ["trustee-1", "trustee-3"], "rt", tmp_path)
    raw = parts[0].to_bytes()
    assert PartialDecryption.from_bytes(raw) == parts[0]
    with pytest.raises(FormatError, match="expected"):
        PartialDecryption.from_bytes(raw[:-1])


def test_partial_record_log_views_and_version_1(small, aggregate, tmp_path):
    """Version 2 signs the trustee's log view in; version 1 records (no view) still parse,
    verify and combine; a view has both a size and a root."""
    from cryptoscore.envelope import pack_record, unpack_record
    from cryptoscore.threshold.combine import verify_partials
    from cryptoscore.threshold.partial import MAGIC, LogView

    fresh = rerandomize(aggregate, small.keys.public, os.urandom(32))
    _, parts = small.partials(fresh, ["trustee-1", "trustee-3"], "views", tmp_path)
    assert all(p.format_version == 2 and p.log_view is None for p in parts)
    active = parts[0].active_set
    # the same answers as version 1 records, signed over the version 1 message
    old = []
    for p in parts:
        v1 = PartialDecryption(**_fields(p) | {"format_version": 1})
        signed = small.identity(p.trustee_id).sign(v1.signed_message())
        old.append(PartialDecryption(**_fields(v1) | {"signature": signed}))
    for p in old:
        raw = p.to_bytes()
        assert raw[8:10] == (1).to_bytes(2, "little") and b"log_size" not in raw
        assert PartialDecryption.from_bytes(raw) == p
    verify_partials(fresh, old, small.record, "views", active)
    # a view changes the signed message: a view added afterwards breaks the signature
    viewed = PartialDecryption(**_fields(parts[0]) | {"log_view": LogView(7, b"\x01" * 32)})
    assert PartialDecryption.from_bytes(viewed.to_bytes()).log_view == LogView(7, b"\x01" * 32)
    with pytest.raises(VerificationError):
        verify_partials(fresh, [viewed, parts[1]], small.record, "views", active)
    header, body = unpack_record(parts[0].to_bytes(), MAGIC, 2, "partial")
    for bad in ({"log_size": 3}, {"log_root": "ab" * 32}, {"log_size": -1}):
        raw = pack_record(MAGIC, 2, header | bad, bytes(body))
        with pytest.raises(FormatError):
            PartialDecryption.from_bytes(raw)
    with pytest.raises(FormatError, match="no log view"):
        PartialDecryption(
            **_fields(parts[0]) | {"format_version": 1, "log_view": LogView(1, bytes(32))}
        )


def _fields(p: PartialDecryption) -> dict:
    return {name: getattr(p, name) for name in PartialDecryption.__dataclass_fields__}


# -- the ceremony and share files ---------------------------------------------------------------
@pytest.fixture(scope="module")
def ceremony():
    identities = [TrusteeIdentity.generate() for _ in range(3)]
    roster = [RosterEntry(f"t{i}", i + 1, identities[i].public_key) for i in range(3)]
    passphrases = {f"t{i}": f"correct horse {i}".encode() for i in range(3)}
    return run_ceremony(BFV8192, roster, 2, passphrases), identities, passphrases


def test_ceremony_end_to_end(ceremony, tmp_path):
    result, identities, passphrases = ceremony
    record = CeremonyRecord.from_bytes(result.record.to_bytes())
    assert record == result.record and record.key_id == result.public.key_id
    record.check_keys(result.public, result.evaluation)
    shares = {}
    for tid, blob in result.share_files.items():
        record.check_share_file(tid, blob)
        shares[tid] = open_share_file(blob, passphrases[tid])
    y = np.arange(2000) % 2
    preds = encrypt_predictions(1 - y, result.public, classes=2, challenge="c")
    labels = encrypt_labels(y, result.public, classes=2, challenge="c")
    agg = score(preds, labels, ReleasePolicy(2, ("errors",)), result.evaluation)
    active = ActiveSet.of(record, ["t0", "t2"])
    parts = []
    for tid in ["t0", "t2"]:
        with PartialJournal(tmp_path / tid) as journal:
            ident = identities[record.entry(tid).index - 1]
            lineage = standalone_lineage(agg, active)
            parts.append(
                partial_decrypt(
                    shares[tid], agg, active, "c-1", ident, journal, record, lineage=lineage
                )
            )
    assert decrypt_answers(agg, parts, record, "c-1", active).values == {"errors": 2000}


def test_share_file_wrong_passphrase_truncated_edited(ceremony):
    result, _, passphrases = ceremony
    blob = result.share_files["t1"]
    with pytest.raises(FormatError, match="wrong passphrase, or the file was altered"):
        open_share_file(blob, b"not the passphrase")
    with pytest.raises(FormatError, match="wrong passphrase, or the file was altered"):
        open_share_file(blob[:-1], passphrases["t1"])
    edited = bytearray(blob)
    edited[-100] ^= 0x40
    with pytest.raises(FormatError) as info:
        open_share_file(bytes(edited), passphrases["t1"])
    # the error never carries share material
    assert len(str(info.value)) < 200 and blob[-64:].hex() not in str(info.value)
    header_edit = blob.replace(b'"index":2', b'"index":3')
    with pytest.raises(FormatError, match="wrong passphrase, or the file was altered"):
        open_share_file(header_edit, passphrases["t1"])
    with pytest.raises(MismatchError, match="does not match the commitment"):
        result.record.check_share_file("t1", bytes(edited))


def test_key_share_is_never_printed_or_pickled(ceremony):
    result, _, passphrases = ceremony
    share_obj = open_share_file(result.share_files["t0"], passphrases["t0"])
    assert "KeyShare(trustee=t0" in repr(share_obj) and len(repr(share_obj)) < 80
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(share_obj)


def test_ceremony_refuses_bad_rosters():
    from cryptoscore import ParameterError

    ident = TrusteeIdentity.generate()
    with pytest.raises(ParameterError, match=r"threshold must be in 2\.\.2"):
        run_ceremony(
            BFV8192,
            [
                RosterEntry("a", 1, ident.public_key),
                RosterEntry("b", 2, TrusteeIdentity.generate().public_key),
            ],
            3,
            {"a": b"12345678", "b": b"12345678"},
        )
    with pytest.raises(ParameterError, match="share a public key"):
        run_ceremony(
            BFV8192,
            [RosterEntry("a", 1, ident.public_key), RosterEntry("b", 2, ident.public_key)],
            2,
            {"a": b"12345678", "b": b"12345678"},
        )
    with pytest.raises(ParameterError, match="passphrase of 8"):
        run_ceremony(
            BFV8192,
            [
                RosterEntry("a", 1, ident.public_key),
                RosterEntry("b", 2, TrusteeIdentity.generate().public_key),
            ],
            2,
            {"a": b"short", "b": b"12345678"},
        )


def test_identity_pem_roundtrip():
    ident = TrusteeIdentity.generate()
    pem = ident.to_pem(b"identity passphrase")
    again = TrusteeIdentity.from_pem(pem, b"identity passphrase")
    assert again.public_key == ident.public_key
    with pytest.raises(FormatError, match="wrong passphrase"):
        TrusteeIdentity.from_pem(pem, b"wrong passphrase!")
    assert hashlib.sha256(pem).hexdigest() not in repr(ident)
