"""The dealer ceremony deals PRSS keys: share files v2 carry them, records v4 publish each
set's key commitment and say answers are Shamir shares; old share files and records still load
(docs/design.md, "Key ceremony", "Robust threshold decryption")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cryptoscore import BFV8192, BFV16384, FormatError, MismatchError, ParameterError
from cryptoscore.envelope import pack_record, unpack_record
from cryptoscore.errors import MissingPrssKeysError
from cryptoscore.hazmat.modmath import uniform_below
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.scoring.noise import noise_check_bounds, pad_error_terms
from cryptoscore.threshold.ceremony import (
    CeremonyRecord,
    KeyShare,
    RosterEntry,
    deal,
    open_share_file,
    write_share_file,
)
from cryptoscore.threshold.prss import (
    MAX_SETS_PER_TRUSTEE,
    PrssKeys,
    check_committee_fits,
    deal_prss_keys,
    prss_sets,
)
from tests.helpers.committee import Committee

KEY_ID = "ab" * 32


def _dealt(t: int, n: int):
    identities = [TrusteeIdentity.generate() for _ in range(n)]
    roster = [RosterEntry(f"t{i + 1}", i + 1, identities[i].public_key) for i in range(n)]
    passphrases = {e.trustee_id: f"passphrase {e.index}".encode() for e in roster}
    secret = np.stack([uniform_below(q, BFV8192.POLY_MODULUS_DEGREE) for q in BFV8192.DATA_PRIMES])
    record, files = deal(
        BFV8192,
        KEY_ID,
        "cd" * 32,
        secret,
        roster,
        t,
        passphrases,
        created_at="2026-12-01T00:00:00Z",
    )
    return record, files, passphrases


@pytest.fixture(scope="module")
def dealt():
    return _dealt(3, 5)


def test_dealer_shares_carry_prss_keys_the_record_commits_to(dealt):
    record, files, passphrases = dealt
    assert record.format_version == 4 and record.answers == "shamir" and record.robust
    assert tuple(a for a, _ in record.prss_commitments) == prss_sets(5, 3)
    raw = record.to_bytes()
    again = CeremonyRecord.from_bytes(raw)
    assert again == record and again.to_bytes() == raw
    keys = []
    for e in record.roster:
        record.check_share_file(e.trustee_id, files[e.trustee_id])
        assert unpack_record(files[e.trustee_id], b"CSKSHARE", 2, "share file")
        share = open_share_file(files[e.trustee_id], passphrases[e.trustee_id])
        prss = share.prss_keys()
        assert (prss.key_id, prss.n, prss.t, prss.index) == (KEY_ID, 5, 3, e.index)
        record.check_prss_keys(prss, e.index)
        keys.append(prss)
    # the members of every set hold one key, and it is the committed one
    by_set: dict = {}
    for k in keys:
        for a, key in k.set_keys:
            assert by_set.setdefault(a, key) == key
    assert len(by_set) == math.comb(5, 2)


def test_a_member_with_another_key_for_a_set_is_refused(dealt):
    record, files, passphrases = dealt
    prss = open_share_file(files["t1"], passphrases["t1"]).prss_keys()
    (first, _key), *rest = prss.set_keys
    forged = PrssKeys(prss.key_id, prss.n, prss.t, prss.index, ((first, bytes(32)), *rest))
    with pytest.raises(MismatchError, match=r"set \[1, 2, 3\] does not match"):
        record.check_prss_keys(forged, 1)
    with pytest.raises(MismatchError, match="another key, committee or trustee"):
        record.check_prss_keys(prss, 2)


def test_a_record_with_edited_prss_commitments_is_refused(dealt):
    record, _, _ = dealt
    header, _ = unpack_record(record.to_bytes(), b"CSCEREMO", 4, "ceremony record")
    for bad in (
        header["prss_commitments"][1:],
        [{"set": [2, 1, 3], "commitment": "00" * 32}, *header["prss_commitments"][1:]],
        [{"set": [1, 2, 3], "commitment": "00" * 31}, *header["prss_commitments"][1:]],
    ):
        with pytest.raises(FormatError):
            CeremonyRecord.from_bytes(
                pack_record(b"CSCEREMO", 4, header | {"prss_commitments": bad})
            )
    with pytest.raises(FormatError, match="Shamir answers"):
        CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 4, header | {"answers": "lagrange"}))
    with pytest.raises(FormatError):  # version 1 has no such fields
        CeremonyRecord.from_bytes(pack_record(b"CSCEREMO", 1, header))


def test_old_records_and_share_files_still_load_as_lagrange():
    committee = Committee(2, 3)
    old = committee.record
    raw = old.to_bytes()
    assert raw[8:10] == (1).to_bytes(2, "little")
    again = CeremonyRecord.from_bytes(raw)
    assert again.to_bytes() == raw and again.answers == "lagrange" and not again.robust
    share = committee.shares["trustee-1"]
    blob = write_share_file(share, 3, b"passphrase 1")
    assert blob[8:10] == (1).to_bytes(2, "little")
    loaded = open_share_file(blob, b"passphrase 1")
    assert loaded.prss is None
    with pytest.raises(MissingPrssKeysError, match="this share holds no PRSS keys: "):
        loaded.prss_keys()
    with pytest.raises(MismatchError, match="answer additively"):
        old.check_prss_keys(deal_prss_keys(old.key_id, 3, 2)[0], 1)


def test_a_share_written_with_prss_keys_reopens_with_them():
    committee = Committee(2, 3)
    share = committee.shares["trustee-2"]
    prss = deal_prss_keys(share.key_id, 3, 2)[1]
    with_keys = KeyShare(
        share.params,
        share.key_id,
        share.trustee_id,
        share.index,
        share.threshold,
        share.residues(len(BFV8192.DATA_PRIMES)).copy(),
        prss=prss,
    )
    loaded = open_share_file(write_share_file(with_keys, 3, b"passphrase 2"), b"passphrase 2")
    assert loaded.prss == prss
    with pytest.raises(MismatchError, match="another key, trustee or threshold"):
        KeyShare(
            share.params, share.key_id, "x", 1, 2, share.residues(1), prss=prss
        )  # index 1, keys of index 2


def test_pad_error_terms_and_the_noise_check_threshold():
    assert [pad_error_terms(n, t) for t, n in ((2, 3), (3, 5), (3, 7), (4, 7))] == [3, 10, 21, 35]
    # threshold 21 + 1 + C(n, t − 1); the pass bound 22 + 23·C
    assert noise_check_bounds(pad_error_terms(5, 3)) == (0, 32, 22 + 23 * 10)


def test_committees_whose_noise_does_not_fit_are_refused_at_planning():
    def refused(params) -> list[tuple[int, int]]:
        out = []
        for n in range(2, 17):
            for t in range(2, n + 1):
                if math.comb(n - 1, t - 1) > MAX_SETS_PER_TRUSTEE:
                    continue
                try:
                    check_committee_fits(params, n, t)
                except ParameterError:
                    out.append((t, n))
        return out

    assert refused(BFV8192) == [(7, 12), (11, 14), (12, 15), (13, 16)]
    assert refused(BFV16384) == []
    with pytest.raises(ParameterError, match="7-of-12 committee does not fit at bfv-8192"):
        _dealt(7, 12)
    with pytest.raises(ParameterError, match="C\\(15, 7\\) = 6435"):
        check_committee_fits(BFV16384, 16, 8)
