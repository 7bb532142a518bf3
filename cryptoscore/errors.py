"""Every error CryptoScore raises on purpose is a subclass of :class:`CryptoScoreError`.

The set is small and flat on purpose (as in pyca/cryptography): callers catch the base class
at a boundary (HTTP handler, CLI) and turn it into one clear message; code that needs to react
to one kind of failure catches that subclass. Messages say what was wrong with the input; they
never contain secret material (key shares, passphrases, plaintext predictions or labels).
"""

from __future__ import annotations


class CryptoScoreError(Exception):
    """Base class of every error raised by CryptoScore on purpose."""


class FormatError(CryptoScoreError):
    """Bytes that do not parse as the wire record they claim to be (truncated, bad magic,
    unknown format version, non-canonical encoding, coefficient out of range, ...)."""


class ParameterError(CryptoScoreError):
    """Unknown or mismatched parameter set or key, or a request the parameters cannot hold
    (for example a count that could exceed the plaintext modulus)."""


class InputError(CryptoScoreError):
    """Plaintext input that cannot be encoded: class index out of range, wrong shape,
    unreadable file, empty data."""


class MismatchError(CryptoScoreError):
    """Two objects that must belong together do not: predictions and labels of different
    sizes or class counts, a label bundle where a prediction bundle is expected, a policy that
    names aggregates the task does not have."""


class PolicyError(CryptoScoreError):
    """A release policy that is malformed or not allowed for the task."""


class RefusedError(CryptoScoreError):
    """A request that a rule of the protocol forbids, refused before any secret is used: a
    circuit that is not published, a ciphertext that is not what the circuit computes, inputs
    without round-1 evidence, a bundle without pads, a lineage slot already answered or a
    budget spent, pads used twice (docs/design.md, "Recompute-before-decrypt", "Lineages")."""


class StepError(CryptoScoreError):
    """A protocol step asked out of order: the state machine is not at the step the call
    needs (contributions closed, partial decryptions still missing, round 2 not started)."""


class ComputationError(CryptoScoreError):
    """The homomorphic engine refused an operation (for example SEAL rejecting a ciphertext
    that parsed but cannot be computed on)."""


class VerificationError(CryptoScoreError):
    """A proof, signature or signed object that does not verify (Merkle inclusion or
    consistency proof, signed tree head)."""


class MissingPrssKeysError(RefusedError):
    """A key share without PRSS keys asked for them (``threshold/ceremony.KeyShare.prss_keys``):
    it was made by a ceremony that dealt none, and its trustee answers additively (Lagrange)."""


class UndecidableAnswersError(CryptoScoreError):
    """Threshold answers that are not all on one polynomial, with too many off it to tell which
    are wrong (``threshold/robust.py``): the inconsistency is detected, no value is returned,
    and ``suspects`` lists the trustee indices that are off some best-agreeing polynomial."""

    def __init__(self, message: str, suspects: tuple[int, ...]) -> None:
        super().__init__(message)
        self.suspects = suspects


class InconsistentReleaseError(CryptoScoreError):
    """Combined values that break a consistency invariant every honest release satisfies
    (a count outside 0..n, correct + errors ≠ n, a confusion matrix not summing to n, a label
    histogram unlike the one earlier releases fixed, ...): some partial decryption was wrong,
    and nothing of the release is published (``protocol/invariants.py``; docs/design.md,
    "Release invariants"). ``invariant`` names the rule, ``values`` what broke it."""

    def __init__(self, invariant: str, detail: str, values: dict[str, object]) -> None:
        super().__init__(f"{invariant}: {detail}")
        self.invariant = invariant
        self.detail = detail
        self.values = values
