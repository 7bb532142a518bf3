"""Named BFV parameter sets.

A parameter set is a tiny class whose upper-case constants fix everything two parties must
agree on (VDAF style): ring degree N, plaintext modulus t, the RNS primes of the ciphertext
modulus Q, the special prime used only inside key switching, the level at which released
ciphertexts are decrypted, and the security level claimed.

Why these primes. Every ciphertext prime q_i is chosen with q_i ≡ 1 (mod 2N·t):

* q_i ≡ 1 (mod 2N) is what the negacyclic NTT needs (as for any SEAL prime).
* q_i ≡ 1 (mod t) makes Q ≡ 1 (mod t) at every level. Then Δ = ⌊Q/t⌋ = (Q−1)/t and
  t·Δ ≡ −1 (mod Q), so for BFV ciphertexts c, d of m1, m2 the *unrounded* tensor
  t·(c ⊗ d) mod Q is already a valid BFV ciphertext of −m1·m2 (it is the BGV product in
  disguise; Kim, Polyakov, Zucca, "Revisiting Homomorphic Encryption Schemes for Finite
  Fields", ASIACRYPT 2021, §3). Products can therefore be accumulated in NTT form with plain
  dyadic arithmetic and no per-product base extension or rounding — see ``scoring/circuits.py``.
* The same congruence removes the t-sized term that mod-switching otherwise adds to the
  noise ((Q'−1)/t vs Q'/Q·(Q−1)/t differ by less than 1/t per unit of message), which keeps
  the proven noise bound at the release level small (docs/design.md, "Noise" 2).

Security. The total bit size of all primes (data and special) is at most the
HomomorphicEncryption.org standard bound for 128-bit classical security with a ternary secret
(Albrecht et al., "Homomorphic Encryption Standard", 2018, Table 1: 218 bits for N=8192,
438 for N=16384). SEAL re-checks this when a context is built (``sec_level_type.tc128``).

The constants were produced by :func:`find_primes` and are re-derived in the test suite.
"""

from __future__ import annotations

from typing import ClassVar

from cryptoscore.errors import ParameterError

__all__ = [
    "BFV8192",
    "BFV16384",
    "DEFAULT",
    "PARAMETER_SETS",
    "ParameterSet",
    "find_primes",
    "get_parameter_set",
    "is_probable_prime",
]


class ParameterSet:
    """Base class; use a concrete subclass such as :class:`BFV8192`. Never instantiated."""

    ID: ClassVar[str]
    """Stable identifier written into every wire record."""
    POLY_MODULUS_DEGREE: ClassVar[int]
    """Ring degree N; also the number of plaintext slots (we use all of them)."""
    PLAIN_MODULUS: ClassVar[int]
    """Plaintext modulus t, a prime ≡ 1 (mod 2N) so that batching works."""
    DATA_PRIMES: ClassVar[tuple[int, ...]]
    """Ciphertext primes q_1..q_L. Mod-switching drops primes from the end."""
    SPECIAL_PRIME: ClassVar[int]
    """Key-switching prime; never part of a ciphertext."""
    RELEASE_LEVEL: ClassVar[int]
    """Number of data primes kept in a released (to-be-decrypted) ciphertext. At bfv-8192: 2,
    the lowest level with room for 40-bit smudging over the noise bound with up to
    ``MAX_TRUSTEES`` partials. At bfv-16384: 3, the lowest level at which a whole challenge's
    releases stay within 2^-40 of a noise-free transcript (≈ 2^-78.3 for 10,000 submissions
    of 2^20 binary items with 3 trustees, 2^-75.9 with a committee of 16; level 2 would give
    ≈ 2^-28.4 and 2^-26.0); higher levels leave more room still,
    at larger release partials (SECURITY.md, "Share exposure"; ``noise.transcript_exposure``)."""
    MAX_TRUSTEES: ClassVar[int] = 16
    SECURITY_BITS: ClassVar[int] = 128
    """Claimed classical security (HE standard, ternary secret)."""
    HE_STANDARD_MAX_LOG_Q: ClassVar[int]
    """HE-standard bound on log2 of the full modulus (data primes and special prime)."""

    def __init__(self) -> None:  # pragma: no cover - defensive
        raise TypeError("parameter sets are used as classes, not instances")

    # -- derived values -------------------------------------------------------------------
    @classmethod
    def slot_count(cls) -> int:
        """Plaintext slots per ciphertext (all N of them: 2 rows of N/2)."""
        return cls.POLY_MODULUS_DEGREE

    @classmethod
    def max_count(cls) -> int:
        """The largest aggregate (count) a ciphertext can hold without wrapping mod t."""
        return cls.PLAIN_MODULUS - 1

    @classmethod
    def fresh_level(cls) -> int:
        """Number of data primes in a fresh ciphertext (the level circuits compute at)."""
        return len(cls.DATA_PRIMES)

    @classmethod
    def moduli(cls, level: int) -> tuple[int, ...]:
        """The data primes of a ciphertext at ``level`` (1..L); lower levels are prefixes."""
        if not 1 <= level <= len(cls.DATA_PRIMES):
            raise ParameterError(
                f"level {level} does not exist in parameter set {cls.ID} "
                f"(levels 1..{len(cls.DATA_PRIMES)})"
            )
        return cls.DATA_PRIMES[:level]

    @classmethod
    def modulus_bits(cls) -> int:
        """Total bit size of all primes, the number the HE standard bounds."""
        return sum(q.bit_length() for q in (*cls.DATA_PRIMES, cls.SPECIAL_PRIME))

    @classmethod
    def check_count(cls, count: int, what: str = "count") -> None:
        """Refuse, up front, any aggregate that could reach t (it would wrap silently)."""
        if count < 0:
            raise ParameterError(f"{what} must not be negative, got {count}")
        if count > cls.max_count():
            raise ParameterError(
                f"{what} {count} could exceed the plaintext modulus of parameter set {cls.ID} "
                f"(largest count it holds: {cls.max_count()}); use a parameter set with a "
                f"larger plaintext modulus such as {BFV16384.ID}"
            )

    @classmethod
    def describe(cls) -> dict[str, object]:
        """Everything about the set as plain data (for records, CLI and docs)."""
        return {
            "id": cls.ID,
            "scheme": "BFV",
            "poly_modulus_degree": cls.POLY_MODULUS_DEGREE,
            "plain_modulus": cls.PLAIN_MODULUS,
            "data_primes": list(cls.DATA_PRIMES),
            "special_prime": cls.SPECIAL_PRIME,
            "release_level": cls.RELEASE_LEVEL,
            "modulus_bits": cls.modulus_bits(),
            "security_bits": cls.SECURITY_BITS,
            "max_count": cls.max_count(),
            "slots": cls.slot_count(),
        }


class BFV8192(ParameterSet):
    """Default: N=8192, t=1032193 (counts up to 1,032,192), Q ≈ 2^174, 128-bit."""

    ID = "bfv-8192"
    POLY_MODULUS_DEGREE = 8192
    PLAIN_MODULUS = 1032193
    DATA_PRIMES = (17401882165249, 16505575309313, 7880735752193, 7762355601409)
    SPECIAL_PRIME = 16285726457857
    RELEASE_LEVEL = 2
    HE_STANDARD_MAX_LOG_Q = 218


class BFV16384(ParameterSet):
    """Large counts and proven smudging: N=16384, t=34308097 > 2^25 (holds counts of at least
    2^24), 128-bit; releases at level 3 (Q_rel ≈ 2^150)."""

    ID = "bfv-16384"
    POLY_MODULUS_DEGREE = 16384
    PLAIN_MODULUS = 34308097
    DATA_PRIMES = (
        1102847775768577,
        1085984659931137,
        1047761597366273,
        1024153235193857,
        998296457576449,
        991551211241473,
    )
    SPECIAL_PRIME = 981433341739009
    RELEASE_LEVEL = 3
    HE_STANDARD_MAX_LOG_Q = 438


DEFAULT: type[ParameterSet] = BFV8192
PARAMETER_SETS: dict[str, type[ParameterSet]] = {p.ID: p for p in (BFV8192, BFV16384)}


def get_parameter_set(param_id: str) -> type[ParameterSet]:
    """Look a parameter set up by its ID; unknown IDs raise :class:`ParameterError`."""
    try:
        return PARAMETER_SETS[param_id]
    except KeyError:
        known = ", ".join(sorted(PARAMETER_SETS))
        raise ParameterError(f"unknown parameter set {param_id!r} (known: {known})") from None


# -- how the constants were found -------------------------------------------------------------
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)


def is_probable_prime(n: int) -> bool:
    """Miller–Rabin with the first 12 prime bases: deterministic for n < 3.3·10^24."""
    if n < 2:
        return False
    for p in _WITNESSES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def find_primes(bits: int, count: int, step: int, exclude: tuple[int, ...] = ()) -> list[int]:
    """The ``count`` largest primes of exactly ``bits`` bits that are ≡ 1 (mod ``step``)."""
    out: list[int] = []
    k = ((1 << bits) - 1) // step
    while len(out) < count:
        q = k * step + 1
        if q.bit_length() < bits:
            raise ParameterError(f"not enough {bits}-bit primes ≡ 1 mod {step}")
        if q not in exclude and is_probable_prime(q):
            out.append(q)
        k -= 1
    return out
