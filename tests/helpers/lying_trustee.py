"""A trustee that lies in its round-2 partial decryptions (open issue 14): it runs every rule
of the honest agent, then adds Δ·k to the coefficient of its partial at the position of a
named aggregate and signs the result with its own roster key. Combined, that aggregate is
shifted by k; the signature is valid, the ciphertext recomputes, and re-combining the logged
partials gives the same wrong number."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.protocol.recompute import recompute
from cryptoscore.threshold.partial import PartialDecryption, _signed_message
from cryptoscore.trustee.agent import TrusteeAgent

__all__ = ["LyingAgent", "reanswered", "shifted_partial", "zeroing"]


def shifted_partial(
    partial: PartialDecryption, identity: Any, position: int, k: int
) -> PartialDecryption:
    """``partial`` with Δ·k added to coefficient ``position`` (every prime), re-signed by
    ``identity`` (the trustee's own key: the lie carries a valid signature)."""
    moduli = partial.params.moduli(partial.level)
    delta = (math.prod(moduli) - 1) // partial.params.PLAIN_MODULUS  # Q ≡ 1 (mod t)
    h = partial.data().copy()
    for i, q in enumerate(moduli):
        h[i, position] = (int(h[i, position]) + delta * k) % q
    return reanswered(partial, identity, h)


def reanswered(partial: PartialDecryption, identity: Any, data: Any) -> PartialDecryption:
    """``partial`` with its answer replaced by ``data`` (residues, shape (level, N)), re-signed
    by ``identity``: any lie a trustee can tell, with a valid signature."""
    moduli = partial.params.moduli(partial.level)
    encoded = encode_ciphertext(data[None], moduli)
    message = _signed_message(
        partial.request_id,
        partial.ciphertext_digest,
        hashlib.sha256(encoded).hexdigest(),
        partial.active_set,
        partial.trustee_id,
        partial.key_id,
        partial.log_view,
        partial.format_version,
    )
    return dataclasses.replace(partial, partial=encoded, signature=identity.sign(message))


Forgery = Callable[[Any, Any, PartialDecryption], PartialDecryption]
"""``forge(request, aggregate, honest partial)`` → the partial a lying agent sends instead."""


def zeroing(values: Callable[[Any, Any], Mapping[str, int]], identity: Any) -> Forgery:
    """A lie that moves every aggregate of a request to 0, as the interpolation of exactly
    the request's active set sees it (m = t answers): ``values(request, aggregate)`` gives the
    true values (a trustee colluding with a submitter knows V: the submitter knows its
    encoding and, after the contributions, V's weights). The liar's answer enters the value
    times its Lagrange coefficient λ in the set, so it shifts each by −v·λ⁻¹ (mod t)."""

    def forge(request: Any, aggregate: Any, partial: PartialDecryption) -> PartialDecryption:
        t = partial.params.PLAIN_MODULUS
        lam = lagrange_at_zero(partial.index, list(request.active_set.indices), t)
        position = dict(zip(aggregate.names, aggregate.positions, strict=True))
        for name, v in values(request, aggregate).items():
            if v:
                k = (-v * pow(lam, -1, t)) % t
                partial = shifted_partial(partial, identity, position[name], k)
        return partial

    return forge


@dataclass
class LyingAgent(TrusteeAgent):
    """An agent that answers every request as the honest one does, and then, in a partial of
    a circuit in ``lie_on`` (by default a score's only: round 1 is answered honestly), shifts
    each aggregate named in ``lies`` that it decrypts by its k, and then replaces the result
    with ``forge``'s, if given."""

    lies: dict[str, int] = field(default_factory=dict)
    lie_on: tuple[str, ...] = ("score/v1",)
    forge: Forgery | None = None
    lied: list[str] = field(default_factory=list)
    """The request ids it lied in."""

    def answer(self, request, context, bundles: Mapping[str, Any], evidence, log=None, **kw):  # type: ignore[no-untyped-def, override]
        partial = super().answer(request, context, bundles, evidence, log, **kw)
        if request.circuit not in self.lie_on or not (self.lies or self.forge):
            return partial
        aggregate = recompute(request, context, bundles)
        position = dict(zip(aggregate.names, aggregate.positions, strict=True))
        for name, k in self.lies.items():
            if name in position:  # a name of another circuit's aggregates: not this one's
                partial = shifted_partial(partial, self.identity, position[name], k)
        if self.forge is not None:
            partial = self.forge(request, aggregate, partial)
        self.lied.append(request.request_id)
        return partial
