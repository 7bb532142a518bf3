"""Generate the known-answer vectors in this folder (fixed seeds; run from the repo root):

    python tests/vectors/generate.py

Vectors pin the wire formats and the seed expansions an independent implementation must
reproduce: the canonical ciphertext encoding, the expansion of a seeded bundle's c1, the
validity weights, the signed round-1 contribution records and the round-1 seed, the signed
inputs (an enrolment record, the messages a pad request and an upload are signed over, and
their signatures under fixed keys), the Lagrange coefficients, and the RFC 9162 tree hashes of
canonical log entries.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore.envelope import canonical_json
from cryptoscore.hazmat.c1 import expand_c1
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.params import BFV8192, BFV16384
from cryptoscore.protocol.contributions import Contribution, derive_seed, round1_seed
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.protocol.signed_inputs import (
    Enrolment,
    pad_request_message,
    sign_pad_request,
    sign_upload,
    upload_message,
)
from cryptoscore.scoring.encoding import Layout
from cryptoscore.scoring.validity import validity_weights
from cryptoscore.transparency.log import MerkleLog

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


def vectors() -> dict[str, object]:
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
    seed = bytes(range(32))
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
    digest = hashlib.sha256(b"bundle").hexdigest()
    identities = {  # fixed Ed25519 keys (RFC 8032 signatures are deterministic)
        tid: TrusteeIdentity(Ed25519PrivateKey.from_private_bytes(bytes([i]) * 32))
        for i, tid in ((1, "t1"), (2, "t2"))
    }
    contribs = [
        Contribution.sign(identities[tid], "vectors", digest, tid, bytes([i]) * 32)
        for i, tid in ((1, "t1"), (2, "t2"))
    ]
    r1 = round1_seed(digest, contribs)
    out["round1_seed"] = {
        "bundle": digest,
        "contributions": [
            {
                "trustee": c.trustee_id,
                "randomness": c.randomness.hex(),
                "public_key": identities[c.trustee_id].public_key.hex(),
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
    log = MerkleLog()
    entries = [canonical_json({"type": "bundle", "bundle": digest, "i": i}) for i in range(5)]
    for e in entries:
        log.append(e)
    out["log"] = {
        "entries": [e.decode() for e in entries],
        "roots": {str(size): log.root(size).hex() for size in range(1, 6)},
    }
    return out


if __name__ == "__main__":
    (HERE / "vectors.json").write_text(json.dumps(vectors(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {HERE / 'vectors.json'}")
