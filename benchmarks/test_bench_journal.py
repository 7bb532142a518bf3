"""What a trustee's journal costs at scale (``make bench``; issue 12): a claim, a check and an
``answered`` lookup on a journal of 1,000,000 entries — about what a trustee of a challenge
with 10,000 submissions of 1M items holds — against one of 1,000.

A journal is opened once per trustee process and then reads only the lines appended since
(``threshold/journal.py``), so a claim costs its fsync plus O(1) lookups whatever the size;
opening (the one full read) is measured on its own."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import LineageClaim, LineageRecord


def _hex(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _fill(path: Path, entries: int) -> None:
    """``entries`` lines, half single-use digests, half lineage slots (noise checks of
    bundles of 100 ciphertexts), written in bulk as a long-serving trustee's would be."""
    with open(path, "w", encoding="ascii") as out:
        for i in range(entries // 2):
            bundle = i // 100
            out.write(f"{_hex('c1', i)} round1-{bundle}:noise:{i % 100}\n")
            record = LineageRecord(
                f"bundle:{_hex('bundle', bundle)}", f"noise:{i % 100}", (1, 2), f"r1-{i}"
            )
            out.write(record.line())
        out.flush()
        os.fsync(out.fileno())


@pytest.fixture(scope="module", params=[1_000, 1_000_000], ids=lambda n: f"{n}-entries")
def journal_file(request, tmp_path_factory) -> Path:
    path = Path(tmp_path_factory.mktemp("journal")) / "trustee.journal"
    _fill(path, request.param)
    return path


@pytest.fixture(scope="module")
def opened(journal_file: Path):
    journal = PartialJournal(journal_file)
    journal.answered("0" * 64)  # the one full read
    yield journal
    journal.close()


def test_open_and_read_the_whole_journal(benchmark, journal_file: Path) -> None:
    def open_and_read() -> None:
        with PartialJournal(journal_file) as journal:
            journal.answered("0" * 64)

    benchmark.pedantic(open_and_read, rounds=3)


def test_claim(benchmark, opened: PartialJournal) -> None:
    """A fresh slot claimed: checked, written and fsynced (what precedes every answer)."""
    counter = iter(range(10**9))

    def setup():
        n = next(counter)
        claim = LineageClaim(f"bundle:{_hex('fresh', n)}", "noise:0", (1, 2), 102)
        return (_hex("fresh-c1", n), f"fresh-{n}"), {"lineage": claim}

    benchmark.pedantic(opened.claim, setup=setup, rounds=50)


def test_answered_lookup(benchmark, opened: PartialJournal) -> None:
    benchmark(opened.answered, _hex("c1", 7))


def test_check_a_busy_lineage(benchmark, opened: PartialJournal) -> None:
    """The next slot of a lineage that already holds 100 answers."""
    claim = LineageClaim(f"bundle:{_hex('bundle', 3)}", "validity", (1, 2), 102)
    benchmark(opened.check, claim)
