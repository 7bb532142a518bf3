"""Generate the known-answer vectors in this folder (fixed seeds; run from the repo root):

    python -m tests.vectors.generate

Vectors pin the wire formats and the seed expansions an independent implementation must
reproduce: the canonical ciphertext encoding, the expansion of a seeded bundle's c1, the
validity weights, the signed round-1 contribution records and the round-1 seed, the signed
inputs (an enrolment record, the messages a pad request and an upload are signed over, and
their signatures under fixed keys), the Lagrange coefficients, and the RFC 9162 tree hashes of
canonical log entries.

And every wire record a protocol run draws randomness for, each made with its draws fixed
(``rng=`` a :class:`Stream`, a SHAKE-256 byte stream of a fixed label: a test fixture, never
used by the library) and fixed keys (:func:`protocol_records`): the samplers themselves
(uniform, centered, wide centered residues, centered binomial, Shamir shares, keys made from
bytes); the ceremony record and its share files (Shamir coefficients, scrypt salts, AES-GCM
nonces; the secret is a fixed stand-in); a pad request
(seed, the submitter's X25519 key) and each trustee's pad share (ephemeral X25519 key,
nonce, the sealed pad shares); decryption requests; partial decryptions of V (wide smudging)
and of a noise check (the pad's own errors, the uniform mask); and a submission receipt.
Small records are stored whole (hex), large ones by length, SHA-256 and their header.

And one whole small challenge (``challenge.py``, written to ``challenge.json``): ceremony,
labels, an honest and an invalid submission through both rounds, every draw fixed, the log
pinned entry by entry. And one tiny dealerless ceremony (``dkg.py``, written to ``dkg.json``):
the plan, every trustee's message of each round, a reveal, a seed file, the key and the record.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore.envelope import canonical_json
from cryptoscore.hazmat.c1 import SEED_BYTES, expand_c1
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.modmath import (
    centered_binomial,
    uniform_below,
    uniform_centered,
    uniform_centered_residues,
)
from cryptoscore.hazmat.shamir import lagrange_at_zero, share
from cryptoscore.identity import Identity
from cryptoscore.params import BFV8192, BFV16384
from cryptoscore.protocol.contributions import Contribution, derive_seed, round1_seed
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.protocol.signed_inputs import (
    Enrolment,
    pad_request_message,
    sign_pad_request,
    sign_upload,
    upload_message,
)
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.encoding import Layout
from cryptoscore.scoring.encryption import encrypt_predictions
from cryptoscore.scoring.keys import PublicContext
from cryptoscore.scoring.noise_check import noise_check
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.validity import validity_names, validity_weights
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord, RosterEntry, deal, open_share_file
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import bundle_claim, bundle_lineage
from cryptoscore.threshold.pad_shares import (
    PadErrorSource,
    PadKey,
    PadShare,
    answer_pad_request,
    open_pads,
)
from cryptoscore.threshold.partial import (
    LogView,
    PadComplement,
    PartialDecryption,
    partial_decrypt,
)
from cryptoscore.transparency.log import MerkleLog
from cryptoscore.transparency.receipts import Receipt, issue_receipt
from tests.vectors.challenge import whole_challenge
from tests.vectors.dkg import dkg_vectors
from tests.vectors.streams import Stream, trustee_identity

HERE = Path(__file__).resolve().parent


def ciphertext_data(params, level: int, seed: int) -> np.ndarray:
    """Deterministic test ciphertext: SHAKE-256 words reduced mod each prime (stable across
    library versions, unlike numpy's generators)."""
    n = params.POLY_MODULUS_DEGREE
    moduli = params.moduli(level)
    stream = hashlib.shake_256(f"cryptoscore/vectors/{seed}".encode()).digest(16 * level * n)
    words = np.frombuffer(stream, dtype="<u8").astype(np.uint64).reshape(2, level, n)
    data = words % np.array(moduli, dtype=np.uint64).reshape(1, -1, 1)
    data[0, 0, 0] = moduli[0] - 1  # the largest canonical value
    return data


BUNDLE = hashlib.sha256(b"bundle").hexdigest()
SEED = bytes(range(32))
CHALLENGE = "vectors"
N_ITEMS = 1000
"""Items of the vectors' bundle: one ciphertext at bfv-8192, two classes."""
PASSPHRASES = {tid: f"passphrase of {tid}".encode() for tid in ("t1", "t2", "t3")}
ACTIVE = ActiveSet((1, 2))


def contributions() -> list[Contribution]:
    return [
        Contribution.sign(trustee_identity(i), CHALLENGE, BUNDLE, f"t{i}", bytes([i]) * 32)
        for i in (1, 2)
    ]


def validity_seed() -> bytes:
    return derive_seed(round1_seed(BUNDLE, contributions()), b"validity")


def merkle_log() -> tuple[MerkleLog, list[bytes]]:
    log = MerkleLog()
    entries = [canonical_json({"type": "bundle", "bundle": BUNDLE, "i": i}) for i in range(5)]
    for e in entries:
        log.append(e)
    return log, entries


SERVICE_KEY = Ed25519PrivateKey.from_private_bytes(bytes([6]) * 32)


class ProtocolRecords(NamedTuple):
    """One threshold run at bfv-8192 (t1, t2, t3; t = 2; active set {1, 2}) with every draw
    fixed: what the wire-record vectors store and their tests parse back."""

    secret: np.ndarray
    record: CeremonyRecord
    share_files: dict[str, bytes]
    pad_key: PadKey
    pad_request: PadRequest
    pad_shares: list[PadShare]
    bundle: EncryptedBundle
    requests: list[DecryptionRequest]
    partials: list[PartialDecryption]
    receipt: Receipt


def _uniform(label: str, polys: int, primes: tuple[int, ...]) -> np.ndarray:
    """``polys`` uniform polynomials over ``primes`` from the stream ``label``."""
    rng = Stream(label)
    n = BFV8192.POLY_MODULUS_DEGREE
    return np.stack(
        [np.stack([uniform_below(q, n, rng=rng) for q in primes]) for _ in range(polys)]
    )


def _public() -> PublicContext:
    """A stand-in public key (fixed before ``generate_keys`` took an ``rng``; kept so the
    vectors stay put). Pad encryption never reads it, only its key id."""
    primes = (*BFV8192.DATA_PRIMES, BFV8192.SPECIAL_PRIME)
    return PublicContext(BFV8192, encode_ciphertext(_uniform("public", 2, primes), primes))


KEY_ID = _public().key_id


def _validity() -> AggregateCiphertext:
    """A stand-in V of the round-1 vector's bundle, with its seed: the validity circuit needs
    evaluation keys, which the vectors do not pin (30 MB)."""
    level = BFV8192.RELEASE_LEVEL
    names = validity_names(BFV8192)
    return AggregateCiphertext(
        circuit="validity/v1",
        params=BFV8192,
        key_id=KEY_ID,
        level=level,
        names=names,
        positions=tuple(range(len(names))),
        inputs=(BUNDLE,),
        policy=None,
        seed=validity_seed(),
        n=N_ITEMS,
        classes=2,
        ciphertext=encode_ciphertext(ciphertext_data(BFV8192, level, 5), BFV8192.moduli(level)),
    )


@functools.cache
def protocol_records(answers: str = "shamir") -> ProtocolRecords:
    """Every record of the protocol run; ``answers="lagrange"`` is the run of additive answers
    (record version 1, the vectors of ``lagrange.json``), ``"shamir"`` the run of Shamir
    answers (record version 4, PRSS keys from their own fixed stream)."""
    identities = {f"t{i}": trustee_identity(i) for i in (1, 2, 3)}
    roster = [RosterEntry(tid, int(tid[1:]), key.public_key) for tid, key in identities.items()]
    secret = _uniform("secret", 1, BFV8192.DATA_PRIMES)[0]  # a stand-in, as the key
    record, files = deal(
        BFV8192,
        KEY_ID,
        hashlib.sha256(b"vectors/evaluation").hexdigest(),
        secret.copy(),
        roster,
        2,
        PASSPHRASES,
        created_at="2026-01-01T00:00:00Z",
        rng=Stream("ceremony"),
        prss_rng=Stream("prss"),
        answers=answers,
    )
    pad_key = PadKey.generate(rng=Stream("pad-key"))
    request = PadRequest(  # the draw ChallengeContext.pad_request makes: the seed
        challenge_id=CHALLENGE,
        kind="predictions",
        params=BFV8192,
        key_id=record.key_id,
        seed=Stream("pad-seed")(SEED_BYTES),
        count=Layout.for_params(BFV8192, N_ITEMS, 2).ciphertexts,
        active_set=ACTIVE.indices,
        recipient=pad_key.public_bytes,
    )
    log, entries = merkle_log()
    head = log.sign_head(SERVICE_KEY, "vectors-log", 1767225600000)
    key_shares = {tid: open_share_file(files[tid], PASSPHRASES[tid]) for tid in ("t1", "t2")}
    partials: list[PartialDecryption] = []
    with tempfile.TemporaryDirectory() as tmp:
        journals = {tid: PartialJournal(Path(tmp) / f"{tid}.journal") for tid in key_shares}
        shares = [
            answer_pad_request(
                request,
                record,
                key_share,
                identities[tid],
                journals[tid],
                rng=Stream(f"{tid}/pad-share"),
            )
            for tid, key_share in key_shares.items()
        ]
        bundle = encrypt_predictions(
            [i % 2 for i in range(N_ITEMS)],
            _public(),
            classes=2,
            challenge=CHALLENGE,
            pads=open_pads(request, shares, record, pad_key),
            rng=Stream("encryption"),
        )
        noise, validity = noise_check(bundle, 0), _validity()
        requests = [
            DecryptionRequest(
                f"{CHALLENGE}:{slot}",
                CHALLENGE,
                agg.circuit,  # type: ignore[arg-type]
                agg.inputs,
                agg.seed,
                b"",
                ACTIVE,
                agg.ciphertext_digest,
            )
            for slot, agg in (("noise:0", noise), ("validity", validity))
        ]
        for tid, key_share in key_shares.items():
            pad = PadComplement(
                ACTIVE.indices,
                bundle_lineage(request.c1_seed),
                record.key_id,
                0,
                # called in this loop
                lambda moduli: PadErrorSource(key_share, record, request).residues(0, moduli),  # noqa: B023
            )
            for req, agg, extra in (
                (requests[0], noise, {"mask": True, "pad": pad}),
                (requests[1], validity, {}),
            ):
                slot = req.request_id.split(":", 1)[1]
                partials.append(
                    partial_decrypt(
                        key_share,
                        agg,
                        ACTIVE,
                        req.request_id,
                        identities[tid],
                        journals[tid],
                        record,
                        lineage=bundle_claim(request.c1_seed, request.count, slot, ACTIVE.indices),
                        log_view=LogView(head.size, head.root),
                        rng=Stream(f"{tid}/{slot}"),
                        **extra,
                    )
                )
            journals[tid].close()
    return ProtocolRecords(
        secret=secret,
        record=record,
        share_files=files,
        pad_key=pad_key,
        pad_request=request,
        pad_shares=shares,
        bundle=bundle,
        requests=requests,
        partials=partials,
        receipt=issue_receipt(log, entries[2], 2, head),
    )


def _blob(raw: bytes, body: int) -> dict[str, object]:
    """A large record: its length, SHA-256 and all but its last ``body`` bytes (envelope and
    header) whole."""
    return {
        "length": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "head": raw[: len(raw) - body].hex(),
    }


def sampler_vectors() -> dict[str, object]:
    rng = Stream("samplers")
    q = BFV8192.DATA_PRIMES[0]
    secret = np.array([[1, 2, 3, 4]], dtype=np.uint64)
    return {
        "label": "samplers",
        "uniform_below": [int(x) for x in uniform_below(q, 8, rng=rng)],
        "uniform_centered": [int(x) for x in uniform_centered(1000, 8, rng=rng)],
        "uniform_centered_residues": [
            [int(x) for x in r]
            for r in uniform_centered_residues(1 << 100, BFV8192.DATA_PRIMES[:2], 4, rng=rng)
        ],
        "centered_binomial": [int(x) for x in centered_binomial(8, rng=rng)],
        "shamir_shares": [
            [int(x) for x in s[0]] for s in share(secret, (q,), 2, [1, 2, 3], rng=rng)
        ],
        "identity_public_key": Identity.generate(rng=rng).public_key.hex(),
        "pad_key_public": PadKey.generate(rng=rng).public_bytes.hex(),
    }


def protocol_vectors(answers: str = "shamir") -> dict[str, object]:
    run = protocol_records(answers)
    return {
        "ceremony": {
            "record": run.record.to_bytes().hex(),
            "secret_sha256": hashlib.sha256(run.secret.astype("<u8").tobytes()).hexdigest(),
            "share_file_lengths": {k: len(v) for k, v in sorted(run.share_files.items())},
        },
        "pad_request": run.pad_request.to_bytes().hex(),
        "bundle": _blob(
            run.bundle.to_bytes(),
            run.bundle.layout.ciphertexts * run.bundle.header.ciphertext_bytes,
        ),
        "pad_shares": [
            _blob(s.to_bytes(), len(s.sealed))
            | {"ephemeral_key": s.sealed[:32].hex(), "nonce": s.sealed[32:44].hex()}
            for s in run.pad_shares
        ],
        "decryption_requests": [r.to_bytes().hex() for r in run.requests],
        "partials": [
            _blob(p.to_bytes(), len(p.partial))
            | {"first_coefficients": [int(x) for x in p.data()[0, :4]]}
            for p in run.partials
        ],
        "receipt": {
            "service_key": SERVICE_KEY.public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
            .hex(),
            "record": run.receipt.to_bytes().hex(),
        },
    }


def vectors(answers: str = "shamir") -> dict[str, object]:
    """Every vector; ``answers`` chooses the protocol run (:func:`protocol_records`)."""
    out: dict[str, object] = {"ciphertext_encoding": [], "validity_weights": []}
    for params, level, seed in ((BFV8192, 4, 1), (BFV8192, 2, 2), (BFV16384, 6, 3)):
        data = ciphertext_data(params, level, seed)
        raw = encode_ciphertext(data, params.moduli(level))
        out["ciphertext_encoding"].append(  # type: ignore[union-attr]
            {
                "params": params.ID,
                "level": level,
                "seed": seed,
                "first_coefficients": [int(x) for x in data[0, 0, :4]],
                "length": len(raw),
                "first_bytes": raw[:16].hex(),
                "sha256": hashlib.sha256(raw).hexdigest(),
            }
        )
    seed = SEED
    out["c1_expansion"] = [
        {
            "params": params.ID,
            "seed": seed.hex(),
            "index": index,
            "first_coefficients": [[int(x) for x in row[:4]] for row in a],
            "sha256": hashlib.sha256(a.astype("<u8").tobytes()).hexdigest(),
        }
        for params, index in ((BFV8192, 0), (BFV8192, 7), (BFV16384, 1))
        for a in [expand_c1(params, seed, index)]
    ]
    layout = Layout.for_params(BFV8192, 20000, 3)
    weights = validity_weights(BFV8192, layout, seed)
    for j, w in enumerate(weights):
        out["validity_weights"].append(  # type: ignore[union-attr]
            {
                "seed": seed.hex(),
                "check": j,
                "R_first": [int(x) for x in w.poly[:8]],
                "R_prime_first": [int(x) for x in w.row_poly[:8]],
                "rho": w.chunk.tolist(),
                "rho_prime": w.row_chunk.tolist(),
            }
        )
    digest = BUNDLE
    contribs = contributions()
    r1 = round1_seed(digest, contribs)
    out["round1_seed"] = {
        "bundle": digest,
        "contributions": [
            {
                "trustee": c.trustee_id,
                "randomness": c.randomness.hex(),
                "public_key": trustee_identity(int(c.trustee_id[1:])).public_key.hex(),
                "record": c.to_bytes().hex(),
            }
            for c in contribs
        ],
        "seed": r1.hex(),
        "validity_seed": derive_seed(r1, b"validity").hex(),
    }
    participant = Identity(Ed25519PrivateKey.from_private_bytes(bytes([9]) * 32))
    organizer = Identity(Ed25519PrivateKey.from_private_bytes(bytes([8]) * 32))
    enrolment = Enrolment.sign(participant, "vectors", "alice")
    rules = ChallengeRules(organizer.public_key, "invite", (participant.public_key,), 3, 6)
    recipient = X25519PrivateKey.from_private_bytes(bytes([7]) * 32).public_key()
    recipient_raw = recipient.public_bytes(Encoding.Raw, PublicFormat.Raw)
    out["signed_inputs"] = {
        "participant_key": participant.public_key.hex(),
        "organizer_key": organizer.public_key.hex(),
        "rules": rules.to_json(),
        "enrolment_record": enrolment.to_bytes().hex(),
        "pad_request_message": pad_request_message(
            "vectors", "predictions", seed, recipient_raw
        ).hex(),
        "pad_request_signature": sign_pad_request(
            participant, "vectors", "predictions", seed, recipient_raw
        ).hex(),
        "upload_message": upload_message("vectors", "labels", digest).hex(),
        "upload_signature": sign_upload(organizer, "vectors", "labels", digest).hex(),
    }
    q = BFV8192.DATA_PRIMES[0]
    out["lagrange"] = {
        "prime": q,
        "active": [1, 3, 4],
        "coefficients": [lagrange_at_zero(x, [1, 3, 4], q) for x in (1, 3, 4)],
    }
    log, entries = merkle_log()
    out["log"] = {
        "entries": [e.decode() for e in entries],
        "roots": {str(size): log.root(size).hex() for size in range(1, 6)},
    }
    out["samplers"] = sampler_vectors()
    out.update(protocol_vectors(answers))
    return out


def write(name: str, data: dict[str, object]) -> None:
    (HERE / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {HERE / name}")


if __name__ == "__main__":
    write("vectors.json", vectors())
    write("lagrange.json", vectors("lagrange"))
    write("challenge.json", whole_challenge())
    write("dkg.json", dkg_vectors())
