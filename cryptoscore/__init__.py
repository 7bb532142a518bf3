"""CryptoScore: score encrypted predictions against encrypted labels; release only aggregates.

The recipe layer, what ``service/`` and ``clients/`` import::

    keys = generate_keys(BFV8192)                                   # (ceremony in production)
    labels = encrypt_labels(y, keys.public, classes=2, challenge="c1")        # organizer
    preds = encrypt_predictions(p, keys.public, classes=2, challenge="c1")    # participant
    check = validity(preds, seed, keys.evaluation)                  # service, round 1
    result = score(preds, labels, ReleasePolicy(2, ("correct",)), keys.evaluation)
    decrypt_aggregate(result, keys.secret)   # {"correct": ...}  (trustees, jointly, in production)

Lower layers: ``cryptoscore._seal`` (SEAL format and contexts), ``ciphertext`` (canonical
ciphertext bytes), ``packing`` (slot sums into coefficients).
"""

from __future__ import annotations

from cryptoscore.errors import (
    ComputationError,
    CryptoScoreError,
    FormatError,
    InputError,
    MismatchError,
    ParameterError,
    PolicyError,
)
from cryptoscore.params import BFV8192, BFV16384, DEFAULT, ParameterSet, get_parameter_set
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import BundleHeader, EncryptedBundle
from cryptoscore.scoring.circuits import score
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.encoding import Layout, load_class_indices
from cryptoscore.scoring.encryption import encrypt_labels, encrypt_predictions, raw_encrypt_vectors
from cryptoscore.scoring.keys import EvaluationKeys, KeySet, PublicContext, SecretKey, generate_keys
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.scoring.validity import check_count, is_valid, validity

__all__ = [
    "BFV8192",
    "BFV16384",
    "DEFAULT",
    "AggregateCiphertext",
    "BundleHeader",
    "ComputationError",
    "CryptoScoreError",
    "EncryptedBundle",
    "EvaluationKeys",
    "FormatError",
    "InputError",
    "KeySet",
    "Layout",
    "MismatchError",
    "ParameterError",
    "ParameterSet",
    "PolicyError",
    "PublicContext",
    "ReleasePolicy",
    "SecretKey",
    "check_count",
    "decrypt_aggregate",
    "encrypt_labels",
    "encrypt_predictions",
    "generate_keys",
    "get_parameter_set",
    "is_valid",
    "load_class_indices",
    "raw_encrypt_vectors",
    "score",
    "validity",
]
__version__ = "0.1.0"
