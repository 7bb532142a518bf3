"""Lineage rules and the journal that enforces them (``threshold/lineage.py``, ``threshold/``)."""

from __future__ import annotations

import os

import pytest

from cryptoscore import FormatError, RefusedError
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import (
    LineageClaim,
    LineageRecord,
    aggregate_claim,
    budget,
    bundle_claim,
    check_claim,
    score_claim,
)

SEED = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_claims_name_their_lineage_slot_and_budget():
    pad = bundle_claim(SEED, 3, "pad", (1, 2))
    assert pad.lineage == "bundle:" + SEED.hex() and pad.capacity == budget(pad.lineage, 3) == 5
    assert score_claim(SEED, OTHER, (2, 3)).capacity == 1
    claim = aggregate_claim("score/v1", ("ab",), ("correct",), (1, 2))
    assert claim.slot == "decrypt" and claim.capacity == 1
    with pytest.raises(RefusedError, match="has no ciphertext 3"):
        bundle_claim(SEED, 3, "noise:3", (1, 2))
    with pytest.raises(RefusedError, match="has no slot 'score'"):
        bundle_claim(SEED, 3, "score", (1, 2))
    with pytest.raises(FormatError, match="not a lineage slot"):
        bundle_claim(SEED, 3, "noise:x", (1, 2))
    with pytest.raises(FormatError, match="distinct sorted"):
        bundle_claim(SEED, 3, "pad", (2, 1))
    with pytest.raises(FormatError, match="not a lineage"):
        LineageClaim("bundle:zz", "pad", (1,), 3)


def test_one_active_set_per_lineage_each_slot_once(tmp_path):
    with PartialJournal(tmp_path / "j") as journal:
        journal.claim("pad:1", "p-1", lineage=bundle_claim(SEED, 2, "pad", (1, 2)))
        journal.claim("c1-a", "r-1", lineage=bundle_claim(SEED, 2, "noise:0", (1, 2)))
        before = (tmp_path / "j").read_bytes()
        with pytest.raises(RefusedError, match=r"under active set \[1, 2\]"):
            journal.claim("c1-b", "r-2", lineage=bundle_claim(SEED, 2, "noise:1", (1, 3)))
        with pytest.raises(RefusedError, match="already answered noise:0"):
            journal.claim("c1-c", "r-3", lineage=bundle_claim(SEED, 2, "noise:0", (1, 2)))
        with pytest.raises(RefusedError, match="already produced"):
            journal.claim("c1-a", "r-4", lineage=bundle_claim(OTHER, 2, "pad", (1, 3)))
        assert (tmp_path / "j").read_bytes() == before  # refusals write nothing
        # another lineage is free, under any set
        journal.claim("c1-d", "r-5", lineage=bundle_claim(OTHER, 2, "noise:0", (1, 3)))
        journal.check(bundle_claim(SEED, 2, "validity", (1, 2)))
        with pytest.raises(RefusedError):
            journal.check(bundle_claim(SEED, 2, "validity", (2, 3)))


def test_budget_is_used_up():
    claim = score_claim(SEED, OTHER, (1, 2))
    records = []
    check_claim(claim, records)
    records.append(LineageRecord(claim.lineage, "score", (1, 2), "r"))
    with pytest.raises(RefusedError, match="already answered score"):
        check_claim(claim, records)
    # a forged record in another slot of the same one-slot lineage: over budget
    odd = LineageClaim(claim.lineage, "score", (1, 2), 1)
    with pytest.raises(RefusedError):
        check_claim(odd, [LineageRecord(claim.lineage, "decrypt", (1, 2), "x")])


def test_journal_is_shared_across_processes_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "j"
    with PartialJournal(path) as first, PartialJournal(path) as second:
        first.claim("c1-a", "r-1", lineage=bundle_claim(SEED, 1, "noise:0", (1, 2)))
        with pytest.raises(RefusedError, match="already"):  # the second handle reads it
            second.claim("c1-b", "r-2", lineage=bundle_claim(SEED, 1, "noise:0", (1, 2)))
        # a crash in the middle of a write leaves an unterminated line
        with open(path, "ab") as fh:
            fh.write(b"lineage bundle:" + OTHER.hex().encode() + b" noi")
            os.fsync(fh.fileno())
        second.claim("c1-c", "r-3", lineage=bundle_claim(OTHER, 1, "noise:0", (2, 3)))
        with pytest.raises(RefusedError, match="already answered noise:0"):
            first.check(bundle_claim(OTHER, 1, "noise:0", (2, 3)))
    with PartialJournal(path) as reopened:  # a new process reads everything again
        assert {r.request_id for r in reopened.lineage_records()} == {"r-1", "r-3"}
        assert reopened.answered("c1-a") and reopened.answered("c1-c")
