"""Key ceremony v1 (trusted dealer, run offline) and the trustees' encrypted share files.

Role: the dealer (usually the organizer, on an offline machine) runs :func:`run_ceremony` with
the roster — each trustee's id, index and Ed25519 *public* key, created by the trustee itself
(``identity.py``) — the threshold t and one passphrase per trustee, typed by that trustee.
It:

1. generates the BFV key set (secret, public, relinearization and Galois keys) in SEAL's
   layout with ``hazmat/keygen.py``, every draw from ``rng``;
2. Shamir-shares the secret key t-of-n, independently per RNS prime and coefficient, in
   SEAL's NTT form (``hazmat/shamir.py``; coefficients from ``rng``, the OS CSPRNG by default);
3. writes one share file per trustee, encrypted at rest (``sealed_record.py``): scrypt
   (RFC 7914; n = 2^15, r = 8, p = 1, 16-byte random salt) derives a 256-bit key from the
   passphrase, AES-256-GCM encrypts the share with the file header as associated data (so no
   header field can be changed without detection);
4. produces the public ceremony record: parameter set, key id (hash of the public context),
   digest of the evaluation keys, roster, t and n, a SHA-256 commitment to each share file,
   and the dealer's statement that it erased the secret key;
5. overwrites the numpy buffers that held the secret key and its shares and drops every
   reference. Python cannot guarantee erasure: copies made by the interpreter (bytes objects,
   such as the key's SEAL serialization) may linger in freed memory until reused (``SECURITY.md``).

Participants and organizers need only the public context (``scoring/keys.PublicContext``,
≈ 0.45 MB at bfv-8192); the service additionally needs the evaluation keys (≈ 30 MB).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cryptoscore.envelope import Fields, known_version, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError, MissingPrssKeysError, ParameterError
from cryptoscore.hazmat.seal_format import U64Array, parse_plaintext
from cryptoscore.hazmat.shamir import share
from cryptoscore.identity import TrusteePublicKey
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.randomness import Rng
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext, SecretKey, generate_keys
from cryptoscore.sealed_record import check_kdf, open_sealed, scrypt_kdf, seal
from cryptoscore.threshold.prss import (
    PrssKeys,
    PrssSet,
    ceremony_commitment,
    check_committee,
    check_committee_fits,
    commitment,
    deal_prss_keys,
    prss_sets,
    set_commitments,
)

__all__ = [
    "ANSWERS",
    "DKG_SIGN_DOMAIN",
    "MODES",
    "CeremonyRecord",
    "CeremonyResult",
    "KeyShare",
    "MissingPrssKeysError",
    "RosterEntry",
    "TranscriptEntry",
    "check_roster",
    "deal",
    "open_share_file",
    "run_ceremony",
    "secret_key_residues",
    "write_share_file",
]

RECORD_MAGIC = b"CSCEREMO"
SHARE_MAGIC = b"CSKSHARE"
FORMAT_VERSION = 1
"""Share files without PRSS keys, and the records of dealer ceremonies (byte for byte as
before v2 existed)."""
SHARE_PRSS_VERSION = 2
"""Share files whose encrypted payload also carries the trustee's ``PrssKeys``."""
DEALER_ROBUST_VERSION = 4
"""Records of dealer ceremonies that dealt PRSS keys: answers "shamir" and every PRSS set's key
commitment (``prss.commitment``, bound to the key id)."""
DEALERLESS_VERSION = 3
"""Records of dealerless ceremonies without PRSS keys (``threshold/dkg/``, a version 1 plan):
mode, plan (digest and bytes), message transcript and every trustee's signed completion;
answers "lagrange". Version 2 (the transcript's digests alone, which could not show that each
trustee signed *this* key) is refused."""
DEALERLESS_PRSS_VERSION = 5
"""Records of dealerless ceremonies that dealt PRSS keys (a version 2 plan): version 3's fields,
``answers`` "shamir" and ``prss``, every set's key commitment (``prss.ceremony_commitment``,
bound to the plan's digest), whose digest every completion signs."""
ANSWERS = ("lagrange", "shamir")
"""How the key's trustees answer decryptions: "lagrange" (additive shares for a named active
set; records before PRSS keys) or "shamir" (Shamir shares with PRSS noise: robust decryption,
docs/design.md, "Robust threshold decryption (core)")."""
MAX_PLAN_BYTES = 1 << 16
"""A dealerless record's plan bytes (``threshold/dkg/plan.py``): ≈ 0.3 KB + 0.12 KB per trustee."""
MAX_COMPLETION_BYTES = 2048
"""One signed completion (``threshold/dkg/messages.py``): ≈ 0.5 KB (header and signature;
0.6 KB with the PRSS commitments' digest)."""
MODES = ("dealer", "dealerless")
DKG_ROUNDS = {1: "hello", 2: "contribution", 3: "response", 4: "confirmation", 5: "completion"}
"""The rounds whose messages a dealerless record lists, one message per trustee each (the
completion round included: a dealerless key is final only with every trustee's completion,
``threshold/dkg/transcript.py``)."""
DKG_SIGN_DOMAIN = b"cryptoscore/dkg/v1|"
"""A dealerless ceremony message is signed as Ed25519(DKG_SIGN_DOMAIN | SHA-256 of the message
without its signature) (``threshold/dkg/messages.py``), so the record's (digest, signature)
pairs verify without the messages."""
DEALER_STATEMENT = (
    "The dealer generated the BFV secret key, Shamir-shared it among the roster, wrote one "
    "encrypted share file per trustee and erased every copy of the secret key and of the "
    "shares it held."
)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class RosterEntry:
    trustee_id: str
    index: int
    """Shamir evaluation point (1..n)."""
    public_key: TrusteePublicKey

    def __post_init__(self) -> None:
        if not _ID.match(self.trustee_id):
            raise FormatError(
                f"trustee id {self.trustee_id!r} must be 1-64 lower-case letters, digits, '.-_'"
            )
        if not 1 <= self.index <= 255:
            raise FormatError("trustee index must be in 1..255")

    def to_json(self) -> dict[str, Any]:
        return {"id": self.trustee_id, "index": self.index, "public_key": self.public_key.hex()}

    @classmethod
    def from_json(cls, obj: object) -> RosterEntry:
        if not isinstance(obj, dict):
            raise FormatError("roster entry must be an object")
        f = Fields(obj, "roster entry", {"id", "index", "public_key"})
        return cls(
            f.string("id", 64),
            f.integer("index", 1, 255),
            TrusteePublicKey.from_hex(f.string("public_key", 64)),
        )


def roster_entry(
    roster: Sequence[RosterEntry], trustee_id: str, what: str = "roster"
) -> RosterEntry:
    """The entry of ``trustee_id`` in ``roster``; MismatchError naming ``what`` if absent."""
    for e in roster:
        if e.trustee_id == trustee_id:
            return e
    raise MismatchError(f"trustee {trustee_id!r} is not on the {what}")


def check_roster(roster: Sequence[RosterEntry], threshold: int) -> None:
    n = len(roster)
    if n < 2:
        raise ParameterError("a committee needs at least 2 trustees")
    if not 2 <= threshold <= n:
        raise ParameterError(f"threshold must be in 2..{n}, got {threshold}")
    if len({e.trustee_id for e in roster}) != n:
        raise ParameterError("trustee ids in the roster must be distinct")
    if sorted(e.index for e in roster) != list(range(1, n + 1)):
        raise ParameterError("trustee indices must be 1..n, each once")
    if len({e.public_key for e in roster}) != n:
        raise ParameterError("two roster entries share a public key")


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One signed message of a dealerless ceremony as its record keeps it: the round (1 hello,
    2 contribution, 3 response, 4 confirmation, 5 completion), the sender, the SHA-256 of the
    message without its signature (hex) and the sender's Ed25519 signature over
    ``DKG_SIGN_DOMAIN | digest``."""

    round: int
    trustee_id: str
    digest: str
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if self.round not in DKG_ROUNDS:
            raise FormatError(
                f"ceremony transcript: no round {self.round} (rounds 1..{len(DKG_ROUNDS)})"
            )
        if len(self.signature) != 64:
            raise FormatError("ceremony transcript: an Ed25519 signature has 64 bytes")
        if len(self.digest) != 64 or bytes.fromhex(self.digest).hex() != self.digest:
            raise FormatError("ceremony transcript: a message digest is 32 bytes of lower hex")

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "trustee_id": self.trustee_id,
            "digest": self.digest,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, obj: object) -> TranscriptEntry:
        if not isinstance(obj, dict):
            raise FormatError("ceremony transcript entry must be an object")
        f = Fields(obj, "ceremony transcript entry", {"round", "trustee_id", "digest", "signature"})
        return cls(
            f.integer("round", 1, len(DKG_ROUNDS)),
            f.string("trustee_id", 64),
            f.hex("digest", 32).hex(),
            f.hex("signature", 64),
        )


@dataclass(frozen=True, slots=True)
class CeremonyRecord:
    """The public record of a ceremony (canonical JSON record, magic ``CSCEREMO``).

    ``mode`` "dealer" (ceremony v1, format version 1, unchanged): a commitment to each share
    file and the dealer's statement. ``mode`` "dealerless" (``threshold/dkg/``, format
    version 3): no share commitments and no dealer statement, but the plan's digest (the
    ceremony id) and bytes, every signed message of rounds 1-5 as (round, trustee, digest,
    signature), which anyone verifies against the roster from the record alone
    (:meth:`verify_signatures`), and every trustee's signed completion in full, which names
    the key id and evaluation-keys digest that trustee completed on and, through its
    ``previous``, the digests of rounds 1-4 (:meth:`check_completions`): every trustee signed
    "this transcript gives this key"."""

    params: type[ParameterSet]
    key_id: str
    evaluation_keys: str
    threshold: int
    roster: tuple[RosterEntry, ...]
    share_commitments: Mapping[str, str]
    created_at: str
    dealer_statement: str = DEALER_STATEMENT
    mode: str = "dealer"
    plan: str = ""
    """Dealerless: SHA-256 (hex) of the ceremony plan (``threshold/dkg/plan.py``)."""
    transcript: tuple[TranscriptEntry, ...] = ()
    plan_record: bytes = field(default=b"", repr=False)
    """Dealerless: the plan's bytes (``CeremonyPlan.to_bytes``), hashing to ``plan``."""
    completions: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    """Dealerless: trustee id → its signed completion (``SignedMessage.to_bytes``), the
    message its round-5 transcript entry names."""
    answers: str = "lagrange"
    """How trustees answer (:data:`ANSWERS`); old record versions mean ``lagrange``."""
    prss_commitments: tuple[tuple[PrssSet, bytes], ...] = field(default=(), repr=False)
    """``shamir``: every PRSS set A in canonical order with the commitment to its key r_A, so
    the members of A can check they hold the same key (:meth:`check_prss_keys`): a dealer
    record's ``prss.commitment`` (bound to the key id), a dealerless one's
    ``prss.ceremony_commitment`` (bound to the plan's digest, the key id being unknown while
    the keys are dealt)."""

    def __post_init__(self) -> None:
        check_roster(self.roster, self.threshold)
        if len(self.roster) > self.params.MAX_TRUSTEES:
            raise ParameterError(f"at most {self.params.MAX_TRUSTEES} trustees are supported")
        self._check_answers()
        if self.mode == "dealer":
            if set(self.share_commitments) != {e.trustee_id for e in self.roster}:
                raise FormatError("ceremony record: one share commitment per trustee is required")
            if self.plan or self.transcript or self.plan_record or self.completions:
                raise FormatError(
                    "ceremony record: a dealer ceremony has no plan, transcript or completions"
                )
        elif self.mode == "dealerless":
            if self.share_commitments or self.dealer_statement:
                raise FormatError(
                    "ceremony record: a dealerless ceremony has no share commitments and no "
                    "dealer statement"
                )
            if len(self.plan) != 64 or bytes.fromhex(self.plan).hex() != self.plan:
                raise FormatError("ceremony record: the plan digest is 32 bytes of lower hex")
            ids = {e.trustee_id for e in self.roster}
            seen = [(m.round, m.trustee_id) for m in self.transcript]
            want = [(r, e.trustee_id) for r in DKG_ROUNDS for e in self.roster]
            if any(tid not in ids for _, tid in seen) or sorted(seen) != sorted(want):
                raise FormatError(
                    "ceremony record: a dealerless transcript lists exactly one message of "
                    f"each roster trustee in each of rounds 1-{len(DKG_ROUNDS)}"
                )
            self._check_carried()
        else:
            raise FormatError(f"ceremony record: mode must be one of {MODES}, not {self.mode!r}")

    def _check_answers(self) -> None:
        """``answers`` is known; a ``shamir`` record (dealer or dealerless) commits to exactly
        the canonical PRSS sets of its committee, 32 bytes each; a ``lagrange`` one to none."""
        if self.answers not in ANSWERS:
            raise FormatError(f"ceremony record: answers must be one of {ANSWERS}")
        if self.answers == "lagrange":
            if self.prss_commitments:
                raise FormatError("ceremony record: Lagrange answers carry no PRSS commitments")
            return
        try:
            check_committee(self.n, self.threshold)
        except ParameterError as e:
            raise FormatError(f"ceremony record: {e}") from None
        sets = prss_sets(self.n, self.threshold)
        if tuple(a for a, _ in self.prss_commitments) != sets:
            raise FormatError(
                f"ceremony record: the PRSS commitments must name the {len(sets)} sets of "
                f"{self.n - self.threshold + 1} trustees, in canonical order"
            )
        if any(len(c) != 32 for _, c in self.prss_commitments):
            raise FormatError("ceremony record: a PRSS commitment is a 32-byte SHA-256 digest")

    @property
    def robust(self) -> bool:
        """Answers are Shamir shares with PRSS noise, decoded robustly."""
        return self.answers == "shamir"

    def check_prss_keys(self, keys: PrssKeys, index: int) -> None:
        """Refuse PRSS keys that are not trustee ``index``'s for this record: another key id,
        committee or index, or a key whose commitment differs from the published one (so the
        members of a set did not all get the same r_A). The commitment is ``prss.commitment``
        under the key id (dealer) or ``prss.ceremony_commitment`` under the plan's digest
        (dealerless)."""
        if not self.robust:
            raise MismatchError("this ceremony's trustees answer additively: it has no PRSS keys")
        if (keys.key_id, keys.n, keys.t, keys.index) != (
            self.key_id,
            self.n,
            self.threshold,
            index,
        ):
            raise MismatchError("the PRSS keys are for another key, committee or trustee")
        published = dict(self.prss_commitments)
        for members, key in keys.set_keys:
            if self.mode == "dealer":
                digest = commitment(key, members, self.key_id)
            else:
                digest = ceremony_commitment(key, members, self.plan)
            if published.get(members) != digest:
                raise MismatchError(
                    f"the PRSS key of set {list(members)} does not match the ceremony record's "
                    "commitment: the members of that set do not hold the same key"
                )

    def _check_carried(self) -> None:
        """Dealerless: the plan bytes hash to the plan digest, and each trustee's completion
        is the message its round-5 transcript entry names (digest and signature)."""
        if not 0 < len(self.plan_record) <= MAX_PLAN_BYTES:
            raise FormatError(f"ceremony record: the plan has 1..{MAX_PLAN_BYTES} bytes")
        if hashlib.sha256(self.plan_record).hexdigest() != self.plan:
            raise MismatchError("ceremony record: the plan bytes do not hash to the plan digest")
        named = {m.trustee_id: m for m in self.transcript if m.round == len(DKG_ROUNDS)}
        extra = sorted(set(self.completions) - set(named))
        if extra:
            raise FormatError(f"ceremony record: a completion of {extra[0]!r}, not on the roster")
        for e in self.roster:
            raw = self.completions.get(e.trustee_id)
            if raw is None:
                raise FormatError(f"ceremony record: no completion of {e.trustee_id!r}")
            if not 64 < len(raw) <= MAX_COMPLETION_BYTES:
                raise FormatError(
                    f"ceremony record: the completion of {e.trustee_id!r} has {len(raw)} bytes "
                    f"(at most {MAX_COMPLETION_BYTES})"
                )
            entry = named[e.trustee_id]
            digest = hashlib.sha256(raw[:-64]).hexdigest()
            if (digest, raw[-64:]) != (entry.digest, entry.signature):
                raise MismatchError(
                    f"ceremony record: the completion of {e.trustee_id!r} is not the message "
                    "its transcript entry names"
                )

    @property
    def n(self) -> int:
        return len(self.roster)

    def entry(self, trustee_id: str) -> RosterEntry:
        return roster_entry(self.roster, trustee_id)

    def entry_by_index(self, index: int) -> RosterEntry:
        for e in self.roster:
            if e.index == index:
                return e
        raise MismatchError(f"no trustee with index {index} on the roster")

    def header(self) -> dict[str, Any]:
        common = {
            "params": self.params.ID,
            "key_id": self.key_id,
            "evaluation_keys": self.evaluation_keys,
            "threshold": self.threshold,
            "n": self.n,
            "roster": [e.to_json() for e in sorted(self.roster, key=lambda e: e.index)],
            "created_at": self.created_at,
        }
        if self.mode == "dealer":  # exactly the version 1 header, and version 4's additions
            dealer = common | {
                "share_commitments": dict(sorted(self.share_commitments.items())),
                "dealer_statement": self.dealer_statement,
            }
            if self.robust:
                dealer |= {
                    "answers": self.answers,
                    "prss_commitments": [
                        {"set": list(a), "commitment": c.hex()} for a, c in self.prss_commitments
                    ],
                }
            return dealer
        dealerless = common | {
            "mode": self.mode,
            "plan": self.plan,
            "plan_record": self.plan_record.hex(),
            "transcript": [m.to_json() for m in self.transcript],
            "completions": {k: v.hex() for k, v in sorted(self.completions.items())},
        }
        if self.answers == "lagrange":  # exactly the version 3 header
            return dealerless
        return dealerless | {
            "answers": self.answers,
            "prss": [[list(a), c.hex()] for a, c in self.prss_commitments],
        }

    @property
    def format_version(self) -> int:
        if self.mode == "dealer":
            return DEALER_ROBUST_VERSION if self.robust else FORMAT_VERSION
        return DEALERLESS_PRSS_VERSION if self.robust else DEALERLESS_VERSION

    def to_bytes(self) -> bytes:
        return pack_record(RECORD_MAGIC, self.format_version, self.header())

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CeremonyRecord:
        if bytes(raw[:10]) == RECORD_MAGIC + (2).to_bytes(2, "little"):
            raise FormatError(
                "ceremony record: version 2 (a dealerless record without its plan and "
                "completions, which cannot show that every trustee signed its key) is refused"
            )
        versions = (FORMAT_VERSION, DEALERLESS_VERSION, DEALER_ROBUST_VERSION)
        version = known_version(raw, (*versions, DEALERLESS_PRSS_VERSION))
        header, body = unpack_record(raw, RECORD_MAGIC, version, "ceremony record")
        if len(body):
            raise FormatError("ceremony record: unexpected bytes after the header")
        common = {"params", "key_id", "evaluation_keys", "threshold", "n", "roster", "created_at"}
        dealer = version in (FORMAT_VERSION, DEALER_ROBUST_VERSION)
        if dealer:
            robust = {"answers", "prss_commitments"} if version == DEALER_ROBUST_VERSION else set()
            f = Fields(
                header,
                "ceremony record",
                common | {"share_commitments", "dealer_statement"} | robust,
            )
        else:
            dealerless = {"mode", "plan", "plan_record", "transcript", "completions"}
            if version == DEALERLESS_PRSS_VERSION:
                dealerless |= {"answers", "prss"}
            f = Fields(header, "ceremony record", common | dealerless)
        roster_json = header["roster"]
        if not isinstance(roster_json, list) or len(roster_json) > 255:
            raise FormatError("ceremony record: roster must be a list")
        roster = tuple(RosterEntry.from_json(e) for e in roster_json)
        if f.integer("n", 2, 255) != len(roster):
            raise FormatError("ceremony record: n differs from the roster size")
        params = get_parameter_set(f.string("params"))
        key_id = f.hex("key_id", 32).hex()
        evaluation_keys = f.hex("evaluation_keys", 32).hex()
        threshold = f.integer("threshold", 2, 255)
        created_at = f.string("created_at", 64)
        if dealer:
            commitments = header["share_commitments"]
            if not isinstance(commitments, dict):
                raise FormatError("ceremony record: share commitments must be an object")
            for v in commitments.values():
                if not isinstance(v, str) or len(v) != 64:
                    raise FormatError("ceremony record: share commitments are SHA-256 hex digests")
            return cls(
                params=params,
                key_id=key_id,
                evaluation_keys=evaluation_keys,
                threshold=threshold,
                roster=roster,
                share_commitments=dict(commitments),
                created_at=created_at,
                dealer_statement=f.string("dealer_statement", 1024),
                **(_robust_fields(f, header) if version == DEALER_ROBUST_VERSION else {}),
            )
        if f.string("mode", 16) != "dealerless":
            raise FormatError(
                f"ceremony record: a version {version} record is a dealerless ceremony's"
            )
        answers, prss = "lagrange", tuple[tuple[PrssSet, bytes], ...]()
        if version == DEALERLESS_PRSS_VERSION:
            if f.string("answers", 16) != "shamir":
                raise FormatError(f"ceremony record: a version {version} record answers shamir")
            answers, prss = "shamir", _prss_commitments(header["prss"])
        entries = header["transcript"]
        if not isinstance(entries, list) or len(entries) > len(DKG_ROUNDS) * 255:
            raise FormatError("ceremony record: the transcript must be a list of messages")
        plan_hex = f.string("plan_record", 2 * MAX_PLAN_BYTES)
        completions_json = header["completions"]
        if not isinstance(completions_json, dict) or len(completions_json) > len(roster):
            raise FormatError("ceremony record: completions must be an object, one per trustee")
        completions = {}
        for tid, value in completions_json.items():
            if not isinstance(value, str) or len(value) > 2 * MAX_COMPLETION_BYTES:
                raise FormatError(
                    f"ceremony record: the completion of {tid!r} must be hex of at most "
                    f"{MAX_COMPLETION_BYTES} bytes"
                )
            completions[tid] = _from_hex(value, f"the completion of {tid!r}")
        return cls(
            params=params,
            key_id=key_id,
            evaluation_keys=evaluation_keys,
            threshold=threshold,
            roster=roster,
            share_commitments={},
            created_at=created_at,
            dealer_statement="",
            mode="dealerless",
            plan=f.hex("plan", 32).hex(),
            transcript=tuple(TranscriptEntry.from_json(m) for m in entries),
            plan_record=_from_hex(plan_hex, "the plan"),
            completions=completions,
            answers=answers,
            prss_commitments=prss,
        )

    def verify_signatures(self) -> int:
        """Dealerless: check every message signature of the transcript against the signer's
        roster key (``DKG_SIGN_DOMAIN | digest``); returns how many were checked (0 for a
        dealer ceremony, which has none). Raises :class:`VerificationError` naming the first
        message that does not verify."""
        for m in self.transcript:
            message = DKG_SIGN_DOMAIN + bytes.fromhex(m.digest)
            self.entry(m.trustee_id).public_key.verify(
                m.signature,
                message,
                f"ceremony record: {DKG_ROUNDS[m.round]} of {m.trustee_id!r} (round {m.round})",
            )
        return len(self.transcript)

    def check_completions(self) -> None:
        """Dealerless: every trustee signed this record's key. Parses the plan (its bytes hash
        to ``plan``; its parameter set, threshold and roster are the record's) and each
        trustee's completion with the ceremony's own parser (``threshold/dkg/messages.py``,
        signature included), and checks that each completion is its transcript entry's
        message, answers the confirmations this transcript lists (``previous`` is the digest
        chain of rounds 1-4, ``threshold/dkg/transcript.round_digests_of``) and names this
        record's key id and evaluation-keys digest. Raises :class:`FormatError`,
        :class:`MismatchError` or :class:`VerificationError` naming the trustee; a dealer
        record has nothing to check."""
        if self.mode != "dealerless":
            return
        # the dkg package builds on this module (its messages import DKG_SIGN_DOMAIN)
        from cryptoscore.threshold.dkg.messages import Completion, SignedMessage
        from cryptoscore.threshold.dkg.plan import CeremonyPlan
        from cryptoscore.threshold.dkg.prss_dealing import commitments_digest
        from cryptoscore.threshold.dkg.transcript import ROUNDS, round_digests_of

        plan = CeremonyPlan.from_bytes(self.plan_record)
        if plan.digest != self.plan:
            raise MismatchError("ceremony record: the plan bytes do not hash to the plan digest")
        if (plan.params, plan.threshold, plan.roster, plan.prss) != (
            self.params,
            self.threshold,
            tuple(sorted(self.roster, key=lambda e: e.index)),
            self.robust,
        ):
            raise MismatchError(
                "ceremony record: the plan names another parameter set, threshold or roster, "
                "or deals PRSS keys where the record answers lagrange (or the reverse)"
            )
        prss_digest = commitments_digest(self.prss_commitments) if self.robust else ""
        by_slot = {(m.round, m.trustee_id): m.digest for m in self.transcript}
        chain = round_digests_of(
            plan.digest,
            {
                kind: [by_slot[(r, e.trustee_id)] for e in plan.roster]
                for r, kind in enumerate(ROUNDS[:-1], start=1)
            },
        )
        confirmations = chain[ROUNDS[-2]]
        for e in plan.roster:
            message = SignedMessage.from_bytes(self.completions[e.trustee_id], plan)
            who = f"ceremony record: the completion of {e.trustee_id!r}"
            if message.trustee_id != e.trustee_id or not isinstance(message.payload, Completion):
                raise MismatchError(f"{who} is another trustee's or another kind of message")
            if message.digest != by_slot[(len(DKG_ROUNDS), e.trustee_id)]:
                raise MismatchError(f"{who} is not the message its transcript entry names")
            if message.previous != confirmations:
                raise MismatchError(f"{who} answers other confirmations than this transcript's")
            if message.payload.key_id != self.key_id:
                raise MismatchError(
                    f"{who} names key {message.payload.key_id[:16]}…, not this record's key "
                    f"{self.key_id[:16]}…"
                )
            if message.payload.evaluation_keys != self.evaluation_keys:
                raise MismatchError(
                    f"{who} names evaluation keys {message.payload.evaluation_keys[:16]}…, not "
                    f"this record's {self.evaluation_keys[:16]}…"
                )
            if message.payload.prss != prss_digest:
                raise MismatchError(f"{who} names other PRSS-key commitments than this record's")

    def check_keys(self, public: PublicContext, evaluation: EvaluationKeys | None = None) -> None:
        """Refuse a public context (and evaluation keys) that this ceremony did not produce."""
        if public.key_id != self.key_id:
            raise MismatchError("the public context is not the one this ceremony produced")
        if evaluation is not None and evaluation.digest != self.evaluation_keys:
            raise MismatchError("the evaluation keys are not the ones this ceremony produced")

    def check_share_file(self, trustee_id: str, share_file: bytes) -> None:
        """Dealer: the file is the one the record commits to (SHA-256). Dealerless: each
        trustee wrote its own file, so there is no commitment; only the file's header is
        checked (parameter set, key id, trustee id, index, t, n) — its passphrase opens the
        rest (:func:`open_share_file`)."""
        if self.mode == "dealer":
            want = self.share_commitments.get(trustee_id)
            if want is None or hashlib.sha256(share_file).hexdigest() != want:
                raise MismatchError(f"share file does not match the commitment for {trustee_id!r}")
            return
        entry = self.entry(trustee_id)
        header = _share_file_header(share_file)
        got = (
            header["params"],
            header["key_id"],
            header["trustee_id"],
            header["index"],
            header["threshold"],
            header["n"],
        )
        want_fields = (
            self.params.ID,
            self.key_id,
            trustee_id,
            entry.index,
            self.threshold,
            self.n,
        )
        if got != want_fields:
            raise MismatchError(
                f"share file header does not match this ceremony's record for {trustee_id!r}"
            )


class KeyShare:
    """One trustee's decrypted share of the secret key: ``data[prime][coeff]`` (NTT form) over
    the data primes, and its PRSS keys when the ceremony dealt them (``prss``: then it answers
    with Shamir shares, docs/design.md, "Robust threshold decryption"). Never printed, compared
    or pickled."""

    __slots__ = ("_data", "index", "key_id", "params", "prss", "threshold", "trustee_id")

    def __init__(
        self,
        params: type[ParameterSet],
        key_id: str,
        trustee_id: str,
        index: int,
        threshold: int,
        data: U64Array,
        *,
        prss: PrssKeys | None = None,
    ) -> None:
        if prss is not None and (prss.key_id, prss.index, prss.t) != (key_id, index, threshold):
            raise MismatchError("the PRSS keys are for another key, trustee or threshold")
        self.params = params
        self.key_id = key_id
        self.trustee_id = trustee_id
        self.index = index
        self.threshold = threshold
        self._data = data
        self.prss = prss

    def prss_keys(self) -> PrssKeys:
        """This share's PRSS keys; :class:`MissingPrssKeysError` when its ceremony dealt none."""
        if self.prss is None:
            raise MissingPrssKeysError(
                f"this share holds no PRSS keys: trustee {self.trustee_id!r}'s ceremony dealt "
                "none, so it answers additively (Lagrange) and cannot answer Shamir shares"
            )
        return self.prss

    def __repr__(self) -> str:
        return f"KeyShare(trustee={self.trustee_id}, index={self.index}, key={self.key_id[:12]}…)"

    def __reduce__(self) -> Any:
        raise TypeError("key shares cannot be pickled")

    def residues(self, level: int) -> U64Array:
        """The share restricted to the first ``level`` primes (a view; do not modify)."""
        return self._data[:level]

    def derive_key(self, info: bytes) -> bytes:
        """A 32-byte key bound to this share and ``info``: HKDF-SHA256 (RFC 5869) with the
        share as input keying material. What a trustee re-derives instead of storing secrets
        made from its share (``threshold/pad_shares.PadErrors``); nothing about the share can
        be learned from it (HKDF is a PRF keyed with the share)."""
        hkdf = HKDF(hashes.SHA256(), length=32, salt=b"cryptoscore/share-key/v1", info=info)
        material = np.ascontiguousarray(self._data).view(np.uint8)
        return hkdf.derive(material.data)


@dataclass(frozen=True, slots=True)
class CeremonyResult:
    record: CeremonyRecord
    public: PublicContext
    evaluation: EvaluationKeys
    share_files: Mapping[str, bytes] = field(repr=False)
    shares: Mapping[str, KeyShare] = field(default_factory=dict, repr=False)
    """In-process only (``threshold/dkg/inprocess.py`` without passphrases): the shares."""


def _robust_fields(f: Fields, header: dict[str, Any]) -> dict[str, Any]:
    """A version 4 record's ``answers`` (must be "shamir") and PRSS commitments, parsed; the
    record's constructor checks the sets are the committee's."""
    if f.string("answers", 16) != "shamir":
        raise FormatError(
            f"ceremony record: a version {DEALER_ROBUST_VERSION} record has Shamir answers"
        )
    items = header["prss_commitments"]
    if not isinstance(items, list) or len(items) > 1 << 14:
        raise FormatError("ceremony record: PRSS commitments must be a list")
    out: list[tuple[PrssSet, bytes]] = []
    for item in items:
        if not isinstance(item, dict):
            raise FormatError("ceremony record: a PRSS commitment is an object")
        g = Fields(item, "ceremony record PRSS commitment", {"set", "commitment"})
        out.append((tuple(g.int_list("set", 1, 255, 255)), g.hex("commitment", 32)))
    return {"answers": "shamir", "prss_commitments": tuple(out)}


def _prss_commitments(value: object) -> tuple[tuple[PrssSet, bytes], ...]:
    """The ``prss`` field of a version 5 record: [[set], commitment hex] pairs (the sets are
    checked against the committee by the record itself)."""
    if not isinstance(value, list) or len(value) > 1 << 16:
        raise FormatError("ceremony record: prss must be a list of [set, commitment] pairs")
    out = []
    for item in value:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not isinstance(item[0], list)
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in item[0])
            or not isinstance(item[1], str)
            or len(item[1]) != 64
        ):
            raise FormatError("ceremony record: a prss entry is [set of indices, 32-byte hex]")
        out.append((tuple(item[0]), _from_hex(item[1], "a PRSS-key commitment")))
    return tuple(out)


def _from_hex(value: str, what: str) -> bytes:
    try:
        out = bytes.fromhex(value)
    except ValueError:
        raise FormatError(f"ceremony record: {what} is not hex") from None
    if out.hex() != value:
        raise FormatError(f"ceremony record: {what} is not lower-case hex")
    return out


def secret_key_residues(secret: SecretKey) -> U64Array:
    """The secret key in NTT form over the data primes, ``[prime][coeff]`` (dealer only)."""
    params = secret.params
    coeffs = parse_plaintext(secret._raw).coefficients
    levels = len(params.DATA_PRIMES)
    n = params.POLY_MODULUS_DEGREE
    if coeffs.size != n * (levels + 1):
        raise FormatError("unexpected secret key layout")
    out: U64Array = coeffs.reshape(levels + 1, n)[:levels].copy()
    coeffs.fill(0)
    return out


def _share_header(
    params: type[ParameterSet],
    key_id: str,
    trustee_id: str,
    index: int,
    threshold: int,
    n: int,
    salt: bytes,
    nonce: bytes,
) -> dict[str, Any]:
    return {
        "params": params.ID,
        "key_id": key_id,
        "trustee_id": trustee_id,
        "index": index,
        "threshold": threshold,
        "n": n,
        "kdf": scrypt_kdf(salt),
        "nonce": nonce.hex(),
    }


def _seal_share(
    header: dict[str, Any], passphrase: bytes, data: U64Array, prss: PrssKeys | None
) -> bytes:
    """The share file: ``sealed_record.seal`` of the share's little-endian words, followed
    (version 2) by the trustee's PRSS keys (``PrssKeys.to_bytes``) inside the same encryption."""
    words = data.astype("<u8").tobytes()
    if prss is None:
        return seal(SHARE_MAGIC, FORMAT_VERSION, header, passphrase, words)
    return seal(SHARE_MAGIC, SHARE_PRSS_VERSION, header, passphrase, words + prss.to_bytes())


def _check_dealing(
    params: type[ParameterSet],
    roster: Sequence[RosterEntry],
    threshold: int,
    passphrases: Mapping[str, bytes],
) -> None:
    check_roster(roster, threshold)
    if len(roster) > params.MAX_TRUSTEES:
        raise ParameterError(f"at most {params.MAX_TRUSTEES} trustees are supported")
    check_committee_fits(params, len(roster), threshold)  # PRSS: cost, then the noise budget
    for entry in roster:
        pw = passphrases.get(entry.trustee_id)
        if pw is None or len(pw) < 8:
            raise ParameterError(
                f"trustee {entry.trustee_id!r} needs a share-file passphrase of 8+ bytes"
            )


def run_ceremony(
    params: type[ParameterSet],
    roster: Sequence[RosterEntry],
    threshold: int,
    passphrases: Mapping[str, bytes],
    *,
    created_at: str | None = None,
    rng: Rng = os.urandom,
    progress: Callable[[int], None] | None = None,
    answers: str = "shamir",
) -> CeremonyResult:
    """Dealer: generate and share the key; return the public record, keys and share files.

    ``rng`` draws first the keys (``scoring/keys.generate_keys``, in the order
    ``hazmat/keygen.generate_key_material`` documents), then the Shamir coefficients and each
    share file's salt and nonce (:func:`deal`). ``progress(done)`` counts the steps done, of
    ``1 + len(roster)``: the key generated, then each share file sealed. ``answers`` is
    :func:`deal`'s (``"lagrange"``: legacy, for tests reproducing attacks on additive answers)."""
    _check_dealing(params, roster, threshold, passphrases)
    keys = generate_keys(params, rng=rng)
    if progress is not None:
        progress(1)
    public, evaluation = keys.public, keys.evaluation
    secret = secret_key_residues(keys.secret)
    del keys  # drop the only reference to the SEAL secret key serialization
    record, files = deal(
        params,
        public.key_id,
        evaluation.digest,
        secret,
        roster,
        threshold,
        passphrases,
        created_at=created_at,
        rng=rng,
        sealed=None if progress is None else (lambda done: progress(1 + done)),
        answers=answers,
    )
    return CeremonyResult(record, public, evaluation, files)


def deal(
    params: type[ParameterSet],
    key_id: str,
    evaluation_keys: str,
    secret: U64Array,
    roster: Sequence[RosterEntry],
    threshold: int,
    passphrases: Mapping[str, bytes],
    *,
    created_at: str | None = None,
    rng: Rng = os.urandom,
    prss_rng: Rng = os.urandom,
    sealed: Callable[[int], None] | None = None,
    answers: str = "shamir",
) -> tuple[CeremonyRecord, dict[str, bytes]]:
    """Dealer, after key generation: Shamir-share ``secret`` (the key's residues,
    :func:`secret_key_residues`; overwritten) among ``roster``, deal PRSS keys
    (``prss.deal_prss_keys``: one 32-byte key per set of n − t + 1 trustees), seal one share
    file per trustee (version 2: share and PRSS keys), and make the public record (version 4,
    answers ``shamir``) committing to the files and to every PRSS key.

    Draws from ``rng``, in this order: the Shamir coefficients (``hazmat/shamir.py``), then
    each trustee's scrypt salt (16 bytes) and AES-GCM nonce (12 bytes), in roster order; the
    PRSS keys from ``prss_rng`` (by default ``os.urandom``), in canonical set order.
    ``sealed(done)`` is told how many share files are sealed so far.

    ``answers="lagrange"`` is the dealing of record version 1 (no PRSS keys, share files of
    version 1, additive answers), kept only to reproduce old records byte for byte
    (``tests/vectors/``)."""
    if answers not in ANSWERS:
        raise ParameterError(f"answers must be one of {ANSWERS}")
    _check_dealing(params, roster, threshold, passphrases)
    xs = [e.index for e in roster]
    shares = share(secret, params.DATA_PRIMES, threshold, xs, rng=rng)
    secret.fill(0)
    robust = answers == "shamir"
    prss = (
        deal_prss_keys(key_id, len(roster), threshold, rng=prss_rng)
        if robust
        else (None,) * len(roster)
    )
    files: dict[str, bytes] = {}
    try:
        for entry, data in zip(roster, shares, strict=True):
            header = _share_header(
                params,
                key_id,
                entry.trustee_id,
                entry.index,
                threshold,
                len(roster),
                rng(16),
                rng(12),
            )
            files[entry.trustee_id] = _seal_share(
                header, passphrases[entry.trustee_id], data, prss[entry.index - 1]
            )
            if sealed is not None:
                sealed(len(files))
    finally:
        for data in shares:
            data.fill(0)
    record = CeremonyRecord(
        params=params,
        key_id=key_id,
        evaluation_keys=evaluation_keys,
        threshold=threshold,
        roster=tuple(sorted(roster, key=lambda e: e.index)),
        share_commitments={k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
        created_at=created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        answers=answers,
        prss_commitments=set_commitments([k for k in prss if k is not None]),
    )
    return record, files


def write_share_file(share: KeyShare, n: int, passphrase: bytes, *, rng: Rng = os.urandom) -> bytes:
    """A trustee's share file (``CSKSHARE``, exactly as :func:`deal` writes them) for a share
    it holds itself — the dealerless ceremony's output (``threshold/dkg/trustee.py``). Draws
    the scrypt salt (16 bytes), then the AES-GCM nonce (12 bytes), from ``rng``."""
    if len(passphrase) < 8:
        raise ParameterError(
            f"trustee {share.trustee_id!r} needs a share-file passphrase of 8+ bytes"
        )
    header = _share_header(
        share.params,
        share.key_id,
        share.trustee_id,
        share.index,
        share.threshold,
        n,
        rng(16),
        rng(12),
    )
    data = share.residues(len(share.params.DATA_PRIMES))
    return _seal_share(header, passphrase, data, share.prss)


def _share_file_version(raw: bytes) -> int:
    """1 (no PRSS keys) or 2 (with them); anything else is left to ``unpack_record`` to name."""
    return known_version(raw, (FORMAT_VERSION, SHARE_PRSS_VERSION))


def _share_file_header(raw: bytes) -> dict[str, Any]:
    """The validated header of a share file (nothing is decrypted)."""
    header, _ = unpack_record(raw, SHARE_MAGIC, _share_file_version(raw), "share file")
    f = Fields(
        header,
        "share file",
        {"params", "key_id", "trustee_id", "index", "threshold", "n", "kdf", "nonce"},
    )
    get_parameter_set(f.string("params"))
    f.hex("key_id", 32)
    f.string("trustee_id", 64)
    f.integer("index", 1, 255)
    f.integer("threshold", 2, 255)
    f.integer("n", 2, 255)
    f.hex("nonce", 12)
    check_kdf(header["kdf"], "share file")
    return header


def open_share_file(raw: bytes, passphrase: bytes) -> KeyShare:
    """Trustee: decrypt and validate a share file.

    Every way the file can fail to open — wrong passphrase, edited header or body,
    truncation — after the header parses raises the same :class:`FormatError`, whose message
    never contains share material.
    """
    header = _share_file_header(raw)
    params = get_parameter_set(header["params"])
    key_id: str = header["key_id"]
    trustee_id: str = header["trustee_id"]
    index: int = header["index"]
    threshold: int = header["threshold"]
    levels = len(params.DATA_PRIMES)
    nbytes = levels * params.POLY_MODULUS_DEGREE * 8
    version = _share_file_version(raw)
    _, plain = open_sealed(raw, SHARE_MAGIC, version, passphrase, "share file")
    if len(plain) < nbytes or (version == FORMAT_VERSION and len(plain) != nbytes):
        raise FormatError("share file: share has the wrong size for its parameter set")
    data = np.frombuffer(plain[:nbytes], dtype="<u8").astype(np.uint64).reshape(levels, -1)
    for i, q in enumerate(params.DATA_PRIMES):
        if int(data[i].max()) >= q:
            data.fill(0)
            raise FormatError("share file: share value out of range")
    prss = None
    if version == SHARE_PRSS_VERSION:
        prss = PrssKeys.from_bytes(plain[nbytes:])
        if (prss.key_id, prss.n, prss.t, prss.index) != (key_id, header["n"], threshold, index):
            data.fill(0)
            raise FormatError("share file: the PRSS keys are not this share's key and trustee")
    return KeyShare(params, key_id, trustee_id, index, threshold, data, prss=prss)
