"""A challenge in one process whose every online trustee answers every decryption request, as
the service does once requests go to every trustee (issue 14): m = n Shamir answers per request
in the log, so the auditor's ``decoding`` check can verify each decision (m ≥ 2t − 1).

:class:`EveryTrusteeChallenge` is ``cryptoscore.local.LocalChallenge`` with one change: after a
trustee of a request's set answers (through its agent, as always), each other online trustee
answers the same request honestly — the ciphertext recomputed, its noise-check pad complement,
its journal's single-use and lineage claim — under a t-set naming it (Shamir answers do not
depend on the set: ``threshold/partial.partial_decrypt``), on the log head it follows, and the
service logs that partial next to the set's. The release machines still decide on the set's t
partials; honest answers decode to the same values from any t of them or from all. Should the
challenge itself ask a trustee that already answered beyond the set, it gets that same partial
back, logged once."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptoscore.local import LocalChallenge
from cryptoscore.protocol.answer import _noise_pad, lineage_claim
from cryptoscore.protocol.recompute import recompute
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.policy import SCORE_CIRCUITS
from cryptoscore.threshold.partial import LogView, PartialDecryption, partial_decrypt
from cryptoscore.trustee.agent import TrusteeAgent
from tests.helpers.committee import set_with


@dataclass
class EveryTrusteeChallenge(LocalChallenge):
    beyond: dict[tuple[str, str], PartialDecryption] = field(default_factory=dict, init=False)
    """(trustee id, request id) → the partial it logged beyond the request's set."""

    def _answer(
        self,
        agent: TrusteeAgent,
        request: DecryptionRequest,
        bundles: Mapping[str, EncryptedBundle],
        evidence: Mapping[str, Round1Evidence],
    ) -> PartialDecryption:
        made = self.beyond.get((agent.trustee_id, request.request_id))
        if made is not None:  # asked after answering beyond the set: the same partial, logged once
            return made
        partial = super()._answer(agent, request, bundles, evidence)
        record = self.context.record
        for tid, trustee in self.trustees.items():
            key = (tid, request.request_id)
            in_set = record.entry(tid).index in request.active_set.indices
            if trustee.online and not in_set and key not in self.beyond:
                self.beyond[key] = self._beyond_the_set(trustee.agent, request, bundles)
                self.transcript.record_partial(self.beyond[key])
        return partial

    def _beyond_the_set(
        self,
        agent: TrusteeAgent,
        request: DecryptionRequest,
        bundles: Mapping[str, EncryptedBundle],
    ) -> PartialDecryption:
        """``agent``'s honest Shamir answer to ``request``, under the request's set with its
        last member swapped for this trustee."""
        record, context = self.context.record, self.context
        active = set_with(request.active_set.indices, agent.share.index)
        claim = dataclasses.replace(lineage_claim(request, bundles), active_set=active.indices)
        head = self._log(agent.trustee_id).head
        assert head is not None  # the log holds the request
        dp = context.dp
        return partial_decrypt(
            agent.share,
            recompute(request, context, bundles),
            active,
            request.request_id,
            agent.identity,
            agent.journal,
            record,
            lineage=claim,
            mask=request.circuit == "noise/v1",
            pad=_noise_pad(request, bundles, agent.share, record),
            log_view=LogView(head.size, head.root),
            dp_rho=dp.rho if dp is not None and request.circuit in SCORE_CIRCUITS else None,
        )
