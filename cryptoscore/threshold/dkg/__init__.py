"""Ceremony v2: dealerless threshold key generation (docs/design.md, "Key ceremony v2
(dealerless)").

The trustees generate the BFV key set together — public key, relinearization key and Galois
keys as sums of per-trustee shares (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, PETS 2021),
each trustee's secret re-shared t-of-n with Shamir — so nobody ever holds the secret key. The
output is ceremony v1's: a ``PublicContext``, ``EvaluationKeys``, a ``CeremonyRecord`` (mode
"dealerless") and per trustee a ``KeyShare`` in the usual share file.

Modules: ``plan`` (the organizer's plan), ``messages`` (the six signed records),
``transport`` (sealing shares to recipients), ``degree_check`` (Shamir consistency with
masks), ``trustee`` (a trustee's rounds), ``transcript`` (collecting, key assembly, the
ceremony test, the public checks, the round digests a relay computes), ``blame`` (replay after
an abort), ``session`` (a trustee's step driver: the one thing due now), ``seed_file`` (the
trustee's passphrase-sealed seed and status), ``inprocess`` (every trustee in one process).
"""

from cryptoscore.threshold.dkg.blame import blame, reveals_needed
from cryptoscore.threshold.dkg.inprocess import run_dealerless_ceremony
from cryptoscore.threshold.dkg.messages import (
    KINDS,
    Accusation,
    Completion,
    Confirmation,
    Contribution,
    Hello,
    Response,
    Reveal,
    SignedMessage,
)
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.seed_file import SEED_FILE_MAGIC, SeedFile
from cryptoscore.threshold.dkg.session import SeedStatus, StepOutcome, step
from cryptoscore.threshold.dkg.transcript import (
    CONFIRMED_ROUNDS,
    ROUNDS,
    CeremonyAbort,
    CeremonyTest,
    Transcript,
    answered_round,
    expected_previous_of,
    round_digest_of,
    round_digests_of,
)
from cryptoscore.threshold.dkg.trustee import DkgTrustee, SeedReplay, new_seed

__all__ = [
    "CONFIRMED_ROUNDS",
    "KINDS",
    "ROUNDS",
    "SEED_FILE_MAGIC",
    "Accusation",
    "CeremonyAbort",
    "CeremonyPlan",
    "CeremonyTest",
    "Completion",
    "Confirmation",
    "Contribution",
    "DkgTrustee",
    "Hello",
    "Response",
    "Reveal",
    "SeedFile",
    "SeedReplay",
    "SeedStatus",
    "SignedMessage",
    "StepOutcome",
    "Transcript",
    "answered_round",
    "blame",
    "expected_previous_of",
    "new_seed",
    "reveals_needed",
    "round_digest_of",
    "round_digests_of",
    "run_dealerless_ceremony",
    "step",
]
