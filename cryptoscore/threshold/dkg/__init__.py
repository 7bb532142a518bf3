"""Ceremony v2: dealerless threshold key generation (docs/design.md, "Key ceremony v2
(dealerless)").

The trustees generate the BFV key set together — public key, relinearization key and Galois
keys as sums of per-trustee shares (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, PETS 2021),
each trustee's secret re-shared t-of-n with Shamir — so nobody ever holds the secret key. The
output is ceremony v1's: a ``PublicContext``, ``EvaluationKeys``, a ``CeremonyRecord`` (mode
"dealerless") and per trustee a ``KeyShare`` in the usual share file.

Modules: ``plan`` (the organizer's plan), ``messages`` (the five signed records),
``transport`` (sealing shares to recipients), ``degree_check`` (Shamir consistency with
masks), ``trustee`` (a trustee's rounds), ``transcript`` (collecting, key assembly, the
ceremony test, the public checks), ``blame`` (replay after an abort), ``inprocess`` (every
trustee in one process).
"""

from cryptoscore.threshold.dkg.blame import blame
from cryptoscore.threshold.dkg.inprocess import run_dealerless_ceremony
from cryptoscore.threshold.dkg.messages import (
    Accusation,
    Confirmation,
    Contribution,
    Hello,
    Response,
    Reveal,
    SignedMessage,
)
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.transcript import CeremonyAbort, CeremonyTest, Transcript
from cryptoscore.threshold.dkg.trustee import DkgTrustee, SeedReplay, new_seed

__all__ = [
    "Accusation",
    "CeremonyAbort",
    "CeremonyPlan",
    "CeremonyTest",
    "Confirmation",
    "Contribution",
    "DkgTrustee",
    "Hello",
    "Response",
    "Reveal",
    "SeedReplay",
    "SignedMessage",
    "Transcript",
    "blame",
    "new_seed",
    "run_dealerless_ceremony",
]
