"""CryptoScore: score encrypted predictions against encrypted labels; release only aggregates.

The recipe layer: what a caller needs for either path, by name, without knowing the layers.

Single key (trials, tests)::

    keys = generate_keys(BFV8192)
    labels = encrypt_labels(y, keys.public, classes=2, challenge="c1")        # organizer
    preds = encrypt_predictions(p, keys.public, classes=2, challenge="c1")    # participant
    check = validity(preds, seed, keys.evaluation)
    result = score(preds, labels, ReleasePolicy(2, ("correct",)), keys.evaluation)
    decrypt_aggregate(result, keys.secret)   # {"correct": ...}

Threshold (a challenge: README.md walks through it)::

    ceremony = run_dealerless_ceremony(BFV16384, roster, 2, passphrases, identities=ids)
    ctx = ChallengeContext("c1", ceremony.record, ceremony.public, ceremony.evaluation,
                           ReleasePolicy(2, ("correct",)), n=10_000)
    request = ctx.pad_request("predictions", PadKey.generate(), active)  # submitter
    answer_pad_request(request, ctx, share, identity, journal)           # each trustee
    BundleRelease(ctx, bundle) ... SubmissionRelease(ctx, preds, labels)  # the service
    answer_request(request, ctx, bundles, share, identity, journal, evidence=...)  # trustee
    LocalChallenge(...)                       # the whole challenge in one process
    verify_bundle("audit.zip")                # an auditor

Below it (docs/design.md, "Layers"): ``hazmat`` (ring arithmetic, SEAL bridge, c1),
``scoring``, ``threshold``, ``protocol``, ``transparency`` and ``verify``; the service
(``cryptoscore_server/``) and the command line (``cryptoscore_cli/``) import from those
directly.
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
    RefusedError,
    StepError,
)
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.local import LocalChallenge
from cryptoscore.params import BFV8192, BFV16384, DEFAULT, ParameterSet, get_parameter_set
from cryptoscore.protocol.answer import answer_pad_request, answer_request
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import contribute
from cryptoscore.protocol.release import BundleRelease, SubmissionRelease
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import BundleHeader, EncryptedBundle
from cryptoscore.scoring.circuits import score
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.encoding import Layout, load_class_indices
from cryptoscore.scoring.encryption import encrypt_labels, encrypt_predictions, raw_encrypt_vectors
from cryptoscore.scoring.keys import EvaluationKeys, KeySet, PublicContext, SecretKey, generate_keys
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.scoring.validity import check_count, is_valid, validity
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import RosterEntry, open_share_file, run_ceremony
from cryptoscore.threshold.dkg import run_dealerless_ceremony
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadKey, open_pads
from cryptoscore.verify import verify_bundle

__all__ = [
    "BFV8192",
    "BFV16384",
    "DEFAULT",
    "ActiveSet",
    "AggregateCiphertext",
    "BundleHeader",
    "BundleRelease",
    "ChallengeContext",
    "ComputationError",
    "CryptoScoreError",
    "EncryptedBundle",
    "EvaluationKeys",
    "FormatError",
    "InputError",
    "KeySet",
    "Layout",
    "LocalChallenge",
    "MismatchError",
    "PadKey",
    "ParameterError",
    "ParameterSet",
    "PartialJournal",
    "PolicyError",
    "PublicContext",
    "RefusedError",
    "ReleasePolicy",
    "RosterEntry",
    "SecretKey",
    "StepError",
    "SubmissionRelease",
    "TrusteeIdentity",
    "answer_pad_request",
    "answer_request",
    "check_count",
    "contribute",
    "decrypt_aggregate",
    "encrypt_labels",
    "encrypt_predictions",
    "generate_keys",
    "get_parameter_set",
    "is_valid",
    "load_class_indices",
    "open_pads",
    "open_share_file",
    "raw_encrypt_vectors",
    "run_ceremony",
    "run_dealerless_ceremony",
    "score",
    "validity",
    "verify_bundle",
]
__version__ = "0.1.0"
